// The master-wide launch knob (--max-task-launches-per-second) as a framework sees it: a burst of
// launches is spread out at the configured rate; nothing is refused.
import test from 'ava';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { inProcessMaster } from './helpers/in-process.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';

test('--max-task-launches-per-second spreads a burst of launches over time', async (t) => {
  const m = await inProcessMaster({}, undefined, { maxTaskLaunchesPerSecond: 5 });
  const agent = new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 16, mem: 4096 }) });
  t.teardown(async () => { agent.stop(); await m.shutdown(); });
  await agent.start();
  const fw = new RawFramework(m.url);
  t.teardown(() => fw.close());
  t.is(await fw.subscribe({ user: 't', name: 'burst', failover_timeout: 60 }), 200);
  const offer = (await fw.next((e) => e.type === 'OFFERS' && e.offers.offers.length > 0)).offers.offers[0];
  // Two ACCEPTs of 10 tasks each at 5/s: the bucket holds one second's worth (5); a batch larger
  // than that waits for a full bucket and leaves a debt, so the second batch waits about 2 s.
  const tasks = (from: number) => Array.from({ length: 10 }, (_, i) => ({
    name: 'b', task_id: { value: `b${from + i}` }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 0.1), scalarRes('mem', 8)], command: { value: 'sleep 100' },
  }));
  const started = Date.now();
  const before = fw.events.length; // the next offer may arrive before ACCEPT's 202 does
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: tasks(0) } }], filters: { refuse_seconds: 0 } } });
  const second = (await fw.next((e) => e.type === 'OFFERS' && e.offers.offers.length > 0, 20_000, before)).offers.offers[0];
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [second.id], operations: [{ type: 'LAUNCH', launch: { task_infos: tasks(10).map((x) => ({ ...x, agent_id: second.agent_id })) } }], filters: { refuse_seconds: 0 } } });
  const running = (id: string) => fw.events.find((e: Event) => e.type === 'UPDATE' && e.update.status.task_id.value === id && e.update.status.state === 'TASK_RUNNING');
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'b19' && e.update.status.state === 'TASK_RUNNING', 30_000);
  t.truthy(running('b0'));
  t.true(Date.now() - started >= 1500, `20 launches at 5/s took only ${Date.now() - started} ms (unthrottled it is a few ms)`);
  const launched = new Set(fw.events.filter((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING').map((e) => e.update.status.task_id.value));
  t.is(launched.size, 20, 'every task launched (updates may be re-sent until acknowledged)');
});
