// Agents that die without a word are forgotten after --max-agent-age (and beyond
// --max-unreachable-agents, oldest first), as Mesos' registry GC forgets them: the state, GET_AGENTS
// and every recovery would otherwise grow with each lost VM. A PARTITION_AWARE framework's
// unreachable tasks end TASK_GONE.
import test from 'ava';
import { Redis } from 'ioredis';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { inProcessMaster } from './helpers/in-process.ts';
import { operator, waitFor } from './helpers/cluster.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';
import { keyPrefix } from '../src/store/redis-store.ts';

const offersEvent = (e: Event) => e.type === 'OFFERS' && e.offers.offers.length > 0;
const simulated = (url: string, hostname: string) => new SimulatedAgent({ master: url, hostname, behaviour: 'run', resources: resources({ cpus: 2, mem: 1024, disk: 100 }, [[31000, 31009]]) });

test('an agent unreachable longer than the max agent age is forgotten; its partition-aware task ends TASK_GONE', async (t) => {
  const m = await inProcessMaster({ maxAgentPingTimeouts: 1, maxAgentAgeSeconds: 3 });
  t.teardown(() => m.shutdown());
  const agent = simulated(m.url, 'lost-vm');
  await agent.start();
  const fw = new RawFramework(m.url);
  t.teardown(() => fw.close());
  t.is(await fw.subscribe({ user: 'test', name: 'aware', capabilities: [{ type: 'PARTITION_AWARE' }] }), 200);
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 'w', task_id: { value: 'w' }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 1), scalarRes('mem', 64)], command: { value: 'sleep 600' } }] } }] } });
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');

  agent.stop();
  const unreachable = await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_UNREACHABLE', 20_000);
  t.is(unreachable.update.status.task_id.value, 'w');
  const gone = await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_GONE', 20_000);
  t.like(gone.update.status, { reason: 'REASON_AGENT_REMOVED', source: 'SOURCE_MASTER' });
  t.regex(gone.update.status.message, /unreachable since .*: forgotten/);
  const agents = (await operator(m.url, 'GET_AGENTS')).get_agents;
  t.deepEqual(agents.agents, []);
  t.false(JSON.stringify(agents).includes(agent.agentId!), 'not listed as unreachable either');
  const redis = new Redis(m.redis.url);
  t.teardown(() => redis.disconnect());
  await waitFor(async () => (await redis.hlen(keyPrefix('default') + 'agents')) === 0, 5000, 'the agent record deleted');
});

test('beyond the most unreachable agents kept, the oldest unreachable are forgotten first', async (t) => {
  const m = await inProcessMaster({ maxAgentPingTimeouts: 1, maxUnreachableAgents: 1 });
  t.teardown(() => m.shutdown());
  const redis = new Redis(m.redis.url);
  t.teardown(() => redis.disconnect());
  /** hostname → unreachable (Redis, the durable view). */
  const records = async () => new Map(Object.values(await redis.hgetall(keyPrefix('default') + 'agents'))
    .map((v) => JSON.parse(v) as { hostname: string; unreachableSince?: number }).map((r) => [r.hostname, r.unreachableSince !== undefined]));
  const older = simulated(m.url, 'older');
  const newer = simulated(m.url, 'newer');
  await older.start();
  await newer.start();
  older.stop();
  await waitFor(async () => (await records()).get('older') === true, 20_000, 'the older agent unreachable');
  t.is((await records()).size, 2, 'one unreachable agent is within the limit');
  newer.stop();
  await waitFor(async () => !(await records()).has('older'), 20_000, 'the older one forgotten');
  t.deepEqual([...(await records())], [['newer', true]], 'the newer unreachable agent is kept');
});
