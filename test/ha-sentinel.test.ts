// Redis Sentinel: masters given `--redis redis-sentinel://…/<name>` find the Redis master through
// real sentinels (`redis-server --sentinel` on loopback ports), and when Sentinel promotes the
// replica they follow it, end their term, reload from the new Redis master with a new fencing
// epoch, and carry on: the agent, the framework and the running task survive.
import test from 'ava';
import { Redis } from 'ioredis';
import { silentLogger } from '../src/common/logger.ts';
import { MasterClient } from '../src/client/master-client.ts';
import { parseRedisTarget, RedisUrlError } from '../src/ha/redis-connection.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { keyPrefix } from '../src/store/redis-store.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { startSentinels, SENTINEL_NAME } from './helpers/sentinel.ts';
import { LaunchingFramework } from './helpers/ha-framework.ts';
import { startTestAgent, tempWorkDir } from './helpers/agent-test-utils.ts';
import { waitFor } from './helpers/cluster.ts';

test('--redis accepts redis://, rediss:// and redis-sentinel://[user:password@]host:port,host:port/<name>; bad ones are named', (t) => {
  t.deepEqual(parseRedisTarget('redis://127.0.0.1:6379/2'), { kind: 'url', url: 'redis://127.0.0.1:6379/2' });
  t.deepEqual(parseRedisTarget('redis-sentinel://:s3cret@10.0.0.1:26379,10.0.0.2,[::1]:26380/main?db=3'), {
    kind: 'sentinel', name: 'main', password: 's3cret', db: 3,
    sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }, { host: '::1', port: 26380 }],
  });
  t.throws(() => parseRedisTarget('redis-sentinel://10.0.0.1:26379'), { instanceOf: RedisUrlError, message: /names no master group/ });
  t.throws(() => parseRedisTarget('redis-sentinel://10.0.0.1:99999/x'), { instanceOf: RedisUrlError, message: /'99999' is not a port number/ });
  t.throws(() => parseRedisTarget('redis-sentinel://h/x?color=red'), { instanceOf: RedisUrlError, message: /unknown option 'color'/ });
  t.throws(() => parseRedisTarget('http://h:1'), { instanceOf: RedisUrlError });
});

test('masters on Redis Sentinel follow a Sentinel failover: a new term on the promoted Redis, nothing lost, tasks keep running', async (t) => {
  const s = await startSentinels(2);
  t.teardown(() => s.stop());
  t.log(`sentinels ${s.sentinelPorts.join(',')}, redis ${s.primary.port} → ${s.replica.port}`);
  const start = () => runMaster({ redisUrl: s.url, host: '127.0.0.1', port: 0, leaderLeaseMs: 3000, config: { ...FAST_MASTER, agentPingIntervalSeconds: 1, maxAgentPingTimeouts: 20 }, log: silentLogger, autoscaler: false });
  const masters: RunningMaster[] = [await start(), await start()];
  t.teardown(async () => { for (const m of masters) await m.stop(); });
  const urls = masters.map((m) => m.url);
  const { dir, cleanup } = await tempWorkDir();
  const agent = await startTestAgent(urls, dir);
  t.teardown(async () => { await agent.stop({ killTasks: true }); await cleanup(); });
  const fw = new LaunchingFramework({ masters: urls, name: 'sentinel', command: () => 'sleep 600' });
  t.teardown(() => fw.close());
  await fw.start(['across']);
  await waitFor(() => fw.lastState('across') === 'TASK_RUNNING', 60_000, 'the task to run');
  const client = new MasterClient(urls);
  await client.request('/api/v1', { type: 'UPDATE_WEIGHTS', update_weights: { weight_infos: [{ role: 'ops', weight: 4 }] } });
  const epochKey = `${keyPrefix('default')}epoch`;
  const direct = new Redis(s.primary.url);
  const before = Number(await direct.get(epochKey));
  direct.disconnect();

  await s.failover();
  const promoted = new Redis(s.replica.url, { maxRetriesPerRequest: null });
  t.teardown(() => promoted.disconnect());
  t.is((await promoted.call('ROLE') as unknown[])[0], 'master');
  await waitFor(async () => Number(await promoted.get(epochKey)) > before && masters.some((m) => m.isLeader()), 60_000, 'a new term on the promoted Redis');
  const leader = masters.find((m) => m.isLeader())!;
  await waitFor(() => leader.master.state.agents.get(agent.agentId()!)?.stream !== undefined, 60_000, 'the agent to re-register');
  await waitFor(() => leader.master.state.frameworks.get(fw.frameworkId)?.stream !== undefined, 60_000, 'the framework to re-subscribe');
  t.is(leader.master.state.task(fw.frameworkId, 'across')?.state, 'TASK_RUNNING', 'the task kept running');
  const weights = await client.call<{ get_weights: { weight_infos: unknown[] } }>('GET_WEIGHTS');
  t.deepEqual(weights.get_weights.weight_infos, [{ role: 'ops', weight: 4 }]);
  t.truthy(await promoted.hget(`${keyPrefix('default')}tasks`, `${fw.frameworkId}/across`), 'the task record is on the new Redis master');
  t.is(await s.masterAddress(), `127.0.0.1:${s.replica.port}`, `Sentinel (${SENTINEL_NAME}) names the promoted Redis`);
  await waitFor(async () => fw.client.kill('across').then(() => true, () => false), 60_000, 'KILL');
  await waitFor(() => fw.lastState('across') === 'TASK_KILLED', 60_000, 'TASK_KILLED through the new term');
});
