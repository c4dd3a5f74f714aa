// A MULTI_ROLE framework leaving a role while it still runs tasks there (UPDATE_FRAMEWORK), as the
// Mesos master allows it: the call succeeds, the role's offers are rescinded, its tasks keep running
// and counting against the role — across a master restart too — and the framework gets no more
// offers in it; once the last of those tasks ends, the role no longer lists the framework.
import test from 'ava';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { testRedis } from './helpers/redis.ts';
import { operator, waitFor } from './helpers/cluster.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { silentLogger } from '../src/common/logger.ts';

const info = (id?: string) => ({
  user: 'test', name: 'two-roles', failover_timeout: 600, roles: ['a', 'b'], capabilities: [{ type: 'MULTI_ROLE' }],
  ...(id ? { id: { value: id } } : {}),
});
const offersEvent = (e: Event) => e.type === 'OFFERS' && e.offers.offers.length > 0;
const startMaster = (redisUrl: string, port = 0): Promise<RunningMaster> =>
  runMaster({ redisUrl, host: '127.0.0.1', port, config: FAST_MASTER, log: silentLogger, autoscaler: false });

async function roleOf(url: string, name: string): Promise<Event | undefined> {
  return ((await operator(url, 'GET_ROLES')).get_roles.roles as Event[]).find((r) => r.name === name);
}
const cpusOf = (r: Event | undefined): number => (r?.allocated as Event[] | undefined)?.find((x) => x.name === 'cpus')?.scalar.value ?? 0;

test('UPDATE_FRAMEWORK may leave a role that still has tasks: offers rescinded, tasks kept and counted, no new offers there', async (t) => {
  const redis = await testRedis();
  let m = await startMaster(redis.url);
  const port = new URL(m.url).port;
  const agents = [1, 2].map(() => new SimulatedAgent({ master: m.url, replicas: [m.url], behaviour: 'run', resources: resources({ cpus: 2, mem: 2048, disk: 100 }, [[31000, 31009]]) }));
  const fw = new RawFramework(m.url);
  t.teardown(async () => { fw.close(); for (const a of agents) a.stop(); await m.stop(); await redis.stop(); });
  await Promise.all(agents.map((a) => a.start()));
  t.is(await fw.subscribe(info()), 200);

  // Offers in both roles (one agent each, DRF between the roles); a task in role b.
  const byRole = new Map<string, Event>();
  for (let from = 0; byRole.size < 2;) {
    const e = await fw.next(offersEvent, 20_000, from);
    from = fw.events.indexOf(e) + 1;
    for (const o of e.offers.offers) byRole.set(o.allocation_info.role, o);
  }
  const inB = byRole.get('b')!;
  const launched = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [inB.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{
    name: 'stays', task_id: { value: 'stays' }, agent_id: inB.agent_id, resources: [scalarRes('cpus', 1), scalarRes('mem', 64)].map((r) => ({ ...r, allocation_info: { role: 'b' } })), command: { value: 'sleep 600' },
  }] } }], filters: { refuse_seconds: 0 } } });
  t.is(launched.status, 202, launched.body);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');
  const inA = (await fw.next((e) => offersEvent(e) && e.offers.offers.some((o: Event) => o.allocation_info.role === 'a'), 20_000, 0));
  t.truthy(inA);
  await waitFor(async () => (((await operator(m.url, 'GET_FRAMEWORKS')).get_frameworks.frameworks[0]?.offers ?? []) as Event[]).some((o) => o.allocation_info.role === 'b'), 10_000, 'an offer in role b outstanding');

  // Leave role b.
  const seen = fw.events.length;
  const update = await fw.call({ type: 'UPDATE_FRAMEWORK', update_framework: { framework_info: { ...info(fw.frameworkId), roles: ['a'] } } });
  t.is(update.status, 202, update.body);
  await fw.next((e) => e.type === 'RESCIND', 10_000, seen);
  const view = (await operator(m.url, 'GET_FRAMEWORKS')).get_frameworks.frameworks[0];
  t.deepEqual(view.framework_info.roles, ['a']);
  t.false(((view.offers ?? []) as Event[]).some((o) => o.allocation_info.role === 'b'), 'no offer in role b is left');
  const tasks = (await operator(m.url, 'GET_TASKS')).get_tasks.tasks as Event[];
  t.deepEqual(tasks.map((x) => [x.task_id.value, x.state]), [['stays', 'TASK_RUNNING']]);
  const b = await roleOf(m.url, 'b');
  t.is(cpusOf(b), 1, 'the task still counts against role b');
  t.deepEqual(b?.frameworks, [{ value: fw.frameworkId }]);
  // Declining everything (refuse 0) brings offers back in role a only.
  const after = fw.events.length;
  const held = ((await operator(m.url, 'GET_FRAMEWORKS')).get_frameworks.frameworks[0].offers ?? []) as Event[];
  await fw.call({ type: 'DECLINE', decline: { offer_ids: held.map((o) => o.id), filters: { refuse_seconds: 0 } } });
  await fw.next(offersEvent, 20_000, after);
  await new Promise((r) => setTimeout(r, 500));
  const later = fw.events.slice(after).filter(offersEvent).flatMap((e) => e.offers.offers as Event[]);
  t.true(later.length > 0 && later.every((o) => o.allocation_info.role === 'a'), later.map((o) => o.allocation_info.role).join(','));

  // A master restart keeps the framework tracked under role b while the task runs.
  fw.close();
  await m.stop();
  m = await startMaster(redis.url, Number(port));
  t.is(cpusOf(await roleOf(m.url, 'b')), 1, 'after a restart the task still counts against role b');
  const again = new RawFramework(m.url);
  t.teardown(() => again.close());
  t.is(await again.subscribe({ ...info(fw.frameworkId), roles: ['a'] }), 200);
  await waitFor(async () => ((await operator(m.url, 'GET_AGENTS')).get_agents.agents as Event[]).filter((a) => a.active).length === 2, 20_000, 'agents back');

  // The task ends: role b lets the framework go.
  t.is((await again.call({ type: 'KILL', kill: { task_id: { value: 'stays' } } })).status, 202);
  await again.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'stays' && e.update.status.state === 'TASK_KILLED');
  await waitFor(async () => cpusOf(await roleOf(m.url, 'b')) === 0, 10_000, 'role b released');
  const gone = await roleOf(m.url, 'b');
  t.deepEqual(gone?.frameworks ?? [], [], 'role b no longer lists the framework');
});
