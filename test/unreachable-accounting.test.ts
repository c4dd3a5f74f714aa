// An agent back from unreachable that no longer has one of its tasks: that task is TASK_LOST, and
// the books stay even — its resources were handed back once, when it became unreachable, and are
// not taken off the framework's allocation a second time (that under-counted its DRF share).
import test from 'ava';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { inProcessMaster } from './helpers/in-process.ts';
import { operator, waitFor } from './helpers/cluster.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';

const offersEvent = (e: Event) => e.type === 'OFFERS' && e.offers.offers.length > 0;

test('a task lost when its unreachable agent comes back without it is not charged back twice', async (t) => {
  const m = await inProcessMaster();
  const agents = ['127.0.0.2', '127.0.0.3'].map((hostname) => new SimulatedAgent({ master: m.url, hostname, behaviour: 'run', resources: resources({ cpus: 2, mem: 1024 }) }));
  const fw = new RawFramework(m.url);
  t.teardown(async () => { fw.close(); for (const a of agents) a.stop(); await m.shutdown(); });
  await Promise.all(agents.map((a) => a.start()));
  t.is(await fw.subscribe({ user: 'test', name: 'aware', failover_timeout: 600, capabilities: [{ type: 'PARTITION_AWARE' }] }), 200);

  // One 1-cpu task on each agent, and a second on the one that goes away.
  const placed = new Map<string, number>();
  const plan: Record<string, number> = { [agents[0].agentId!]: 2, [agents[1].agentId!]: 1 };
  for (let from = 0; [...placed.values()].reduce((a, b) => a + b, 0) < 3;) {
    const e = await fw.next(offersEvent, 20_000, from);
    from = fw.events.indexOf(e) + 1;
    for (const o of e.offers.offers as Event[]) {
      const n = plan[o.agent_id.value] - (placed.get(o.agent_id.value) ?? 0);
      const tasks = Array.from({ length: Math.max(0, n) }, (_, i) => ({
        name: 't', task_id: { value: `${o.agent_id.value === agents[0].agentId ? 'away' : 'stay'}-${i}` }, agent_id: o.agent_id,
        resources: [scalarRes('cpus', 1), scalarRes('mem', 64)], command: { value: 'sleep 600' },
      }));
      await fw.call({ type: 'ACCEPT', accept: { offer_ids: [o.id], operations: tasks.length ? [{ type: 'LAUNCH', launch: { task_infos: tasks } }] : [], filters: { refuse_seconds: 3600 } } });
      placed.set(o.agent_id.value, (placed.get(o.agent_id.value) ?? 0) + tasks.length);
    }
  }
  // What its tasks hold: allocated (which counts offers, as in Mesos) less what is on offer.
  const cpus = async (): Promise<number> => {
    const f = (await operator(m.url, 'GET_FRAMEWORKS')).get_frameworks.frameworks[0];
    const sum = (list: Event[] | undefined): number => (list ?? []).filter((r) => r.name === 'cpus').reduce((a, r) => a + r.scalar.value, 0);
    return sum(f.allocated_resources) - sum(f.offered_resources);
  };
  await waitFor(async () => (await cpus()) === 3, 10_000, 'three tasks charged');

  // The agent goes quiet: its two tasks become unreachable, their cpus handed back.
  const away = agents[0];
  away.stop();
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'away-1' && e.update.status.state === 'TASK_UNREACHABLE', 20_000);
  await waitFor(async () => (await cpus()) === 1, 10_000, 'only the reachable task charged');

  // It comes back having lost one of them.
  away.running.delete([...away.running.keys()].find((k) => k.includes('away-1'))!);
  await away.start();
  const lost = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'away-1' && e.update.status.state === 'TASK_LOST', 20_000);
  t.is(lost.update.status.reason, 'REASON_AGENT_RESTARTED');
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'away-0' && e.update.status.state === 'TASK_RUNNING', 20_000);
  await waitFor(async () => (await cpus()) === 2, 10_000, 'the task still running on it charged again');
  t.is(await cpus(), 2, 'away-0 and stay-0: 2 cpus');
});
