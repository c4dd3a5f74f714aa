// Clients given every replica's URL find the leader and follow it when it changes: the CLI's
// MasterClient, the SDK's SchedulerClient and a real agent — against two in-process master
// replicas on one Redis, with a dead URL in the list for good measure.
import test from 'ava';
import { silentLogger } from '../src/common/logger.ts';
import { Command } from 'commander';
import { MasterClient, defaultMasterUrl } from '../src/client/master-client.ts';
import { addMasterOption } from '../src/cli/master-option.ts';
import { backoffMs, parseMasterUrls, MasterUrlError } from '../src/client/master-urls.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { SchedulerClient, taskResources, type Offer } from '../src/sdk/scheduler-client.ts';
import type { TaskStatus } from '../src/mesos/task-status.ts';
import { freePort, type RedisProcess } from '../src/up/redis-process.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { testRedis } from './helpers/redis.ts';
import { waitFor } from './helpers/cluster.ts';
import { spillway } from './helpers/run-process.ts';
import { startTestAgent, tempWorkDir } from './helpers/agent-test-utils.ts';

let redis: RedisProcess;
let seq = 0;
test.before(async () => { redis = await testRedis(); });
test.after.always(async () => { await redis?.stop(); });

async function pair(): Promise<{ a: RunningMaster; b: RunningMaster; dead: string }> {
  const cluster = `clients${seq++}`;
  const start = () => runMaster({ redisUrl: redis.url, host: '127.0.0.1', port: 0, leaderLeaseMs: 60_000, config: { ...FAST_MASTER, cluster }, log: silentLogger, autoscaler: false });
  const a = await start();
  const b = await start();
  return { a, b, dead: `http://127.0.0.1:${await freePort()}` };
}

test('master URL lists: commas and repeats, bad URLs named; backoff is jittered and capped', (t) => {
  t.deepEqual(parseMasterUrls(['http://a:5050/, http://b:5050', 'http://a:5050']), ['http://a:5050', 'http://b:5050']);
  t.throws(() => parseMasterUrls('a:5050'), { instanceOf: MasterUrlError, message: /'a:5050'/ });
  t.throws(() => parseMasterUrls(' , '), { instanceOf: MasterUrlError, message: /no master URL/ });
  t.is(backoffMs(0, 100, 1000, () => 0), 50);
  t.is(backoffMs(3, 100, 1000, () => 1), 800);
  t.is(backoffMs(20, 100, 1000, () => 0.5), 750);
});

test('--master: repeats add up, the first one replaces the default, even when it is the default URL', (t) => {
  const parsed = (args: string[]): string => addMasterOption(new Command().exitOverride()).parse(args, { from: 'user' }).opts().master;
  const fallback = defaultMasterUrl();
  t.is(parsed([]), fallback);
  t.is(parsed(['--master', 'http://b:1']), 'http://b:1');
  t.is(parsed(['--master', fallback, '--master', 'http://b:1']), `${fallback},http://b:1`);
  t.is(parsed(['--master', 'http://b:1', '--master', fallback]), `http://b:1,${fallback}`);
});

test('the CLI client skips a dead replica, follows the standby\'s 307 and remembers the leader', async (t) => {
  const { a, b, dead } = await pair();
  t.teardown(async () => { await b.stop(); await a.stop(); });
  const c = new MasterClient([dead, b.url]);
  const r = await c.call<{ get_health: { healthy: boolean } }>('GET_HEALTH');
  t.true(r.get_health.healthy);
  t.is(c.baseUrl, a.url);
  // `spillway agents --master DEAD --master STANDBY` does the same.
  const out = await spillway(['agents', '--json', '--master', dead, '--master', b.url]);
  t.is(out.code, 0, out.stderr);
  t.deepEqual(JSON.parse(out.stdout), []);
  const bad = await spillway(['agents', '--master', 'nonsense']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /'nonsense' is not a URL/);
});

test('an SDK framework and a real agent given [standby, dead, leader] follow the leader through a failover; the task keeps running', async (t) => {
  const { a, b, dead } = await pair();
  const { dir, cleanup } = await tempWorkDir();
  const agent = await startTestAgent([b.url, dead, a.url], dir);
  const fw = new SchedulerClient({ master: [b.url, dead, a.url], framework: { user: 'test', name: 'ha-sdk', failover_timeout: 600 } });
  t.teardown(async () => {
    fw.close();
    await agent.stop({ killTasks: true });
    await b.stop();
    await a.stop();
    await cleanup();
  });
  const updates: TaskStatus[] = [];
  fw.on('update', (s) => updates.push(s));
  let launched = false;
  fw.on('offers', (offers: Offer[]) => {
    const [o, ...rest] = offers;
    if (rest.length) void fw.decline(rest.map((x) => x.id.value)).catch(() => {});
    if (!o) return;
    if (launched) return void fw.decline([o.id.value], 3600).catch(() => {});
    launched = true;
    void fw.launch(o.id.value, [{ name: 'survivor', task_id: { value: 'survivor' }, agent_id: o.agent_id, resources: taskResources(0.1, 16), command: { value: 'sleep 300' } }]);
  });
  await fw.subscribe();
  t.is(fw.master, a.url, 'the SDK followed the standby\'s redirect');
  await waitFor(() => updates.some((u) => u.state === 'TASK_RUNNING'), 20_000, 'TASK_RUNNING');
  const frameworkId = fw.frameworkId;
  const agentId = agent.agentId();

  await a.stop(); // b takes over
  // A call made while the SDK is between leaders waits for its new subscription instead of failing.
  const duringFailover = fw.call('REVIVE');
  await waitFor(() => b.isLeader(), 30_000, 'b to lead');
  await waitFor(() => fw.master === b.url && (b.isLeader() && b.master.state.frameworks.get(frameworkId!)?.stream !== undefined), 20_000, 'the framework to re-subscribe to b');
  await waitFor(() => b.master.state.agents.get(agentId!)?.stream !== undefined, 20_000, 'the agent to re-subscribe to b');
  await t.notThrowsAsync(duringFailover, 'REVIVE sent during the failover reached the new leader');
  t.is(fw.frameworkId, frameworkId);
  t.is(agent.agentId(), agentId);
  const task = b.master.state.task(frameworkId!, 'survivor');
  t.is(task?.state, 'TASK_RUNNING', 'the task kept running across the failover');
  // The new leader reaches the task: KILL through it ends the very process started before.
  await fw.kill('survivor');
  await waitFor(() => updates.some((u) => u.state === 'TASK_KILLED'), 20_000, 'TASK_KILLED');
  t.deepEqual(updates.filter((u) => u.uuid).map((u) => u.state).filter((s, i, all) => all.indexOf(s) === i), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
});
