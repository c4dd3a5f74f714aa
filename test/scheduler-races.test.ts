// Calls that race each other or the master's own waits, as Mesos' master resolves them: a second
// scheduler instance taking over a framework, a DECLINE of everything at once, a client hanging up
// mid-SUBSCRIBE, a KILL or TEARDOWN while an ACCEPT still waits for its launch gate or write.
import test from 'ava';
import http from 'node:http';
import { Redis } from 'ioredis';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { operator, waitFor } from './helpers/cluster.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';
import { keyPrefix } from '../src/store/redis-store.ts';

let m: InProcessMaster;
/** One launch per second: ACCEPTs wait at the gate long enough to race. */
let gated: InProcessMaster;
/** The gated master's one agent (named: the agents start concurrently, in no fixed order). */
let gatedAgent: SimulatedAgent;
const agents: SimulatedAgent[] = [];

async function agentOn(master: InProcessMaster, cpus: number): Promise<SimulatedAgent> {
  const a = new SimulatedAgent({ master: master.url, behaviour: 'run', resources: resources({ cpus, mem: 4096, disk: 1000 }, [[31000, 31009]]) });
  await a.start();
  agents.push(a);
  return a;
}

test.before(async () => {
  [m, gated] = await Promise.all([inProcessMaster(), inProcessMaster({}, undefined, { maxTaskLaunchesPerSecond: 1 })]);
  [, , gatedAgent] = await Promise.all([agentOn(m, 4), agentOn(m, 4), agentOn(gated, 4)]);
});

test.after.always(async () => {
  for (const a of agents) a.stop();
  await Promise.all([m?.shutdown(), gated?.shutdown()]);
});

const offersEvent = (e: Event) => e.type === 'OFFERS' && e.offers.offers.length > 0;
const info = (name: string, extra: object = {}) => ({ user: 'test', name, failover_timeout: 60, ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function subscribed(master: InProcessMaster, name: string, extra: object = {}, sub: object = {}): Promise<RawFramework> {
  const fw = new RawFramework(master.url);
  const status = await fw.subscribe(info(name, extra), sub);
  if (status !== 200) throw new Error(`subscribe: ${status}`);
  return fw;
}

/** Offers of every agent (waits until the framework holds one per agent). */
async function allOffers(fw: RawFramework, count: number): Promise<Event[]> {
  const held = new Map<string, Event>();
  for (let from = 0; held.size < count;) {
    const e = await fw.next(offersEvent, 20_000, from);
    from = fw.events.indexOf(e) + 1;
    for (const o of e.offers.offers) held.set(o.agent_id.value, o);
  }
  return [...held.values()];
}

const frameworkView = async (master: InProcessMaster, id: string) =>
  (await operator(master.url, 'GET_FRAMEWORKS')).get_frameworks.frameworks.find((f: Event) => f.framework_info.id.value === id);

test.serial('a scheduler instance that takes over a framework gets fresh offers; the old subscription\'s are withdrawn', async (t) => {
  const first = await subscribed(m, 'failover');
  await allOffers(first, 2);
  const second = await subscribed(m, 'failover', { id: { value: first.frameworkId } });
  const offers = await allOffers(second, 2);
  t.is(offers.length, 2, 'both agents offered to the new subscription');
  const view = await frameworkView(m, first.frameworkId);
  t.is(view.offers?.length ?? 0, 2, 'only the new offers are outstanding');
  t.true(view.offers.every((o: Event) => offers.some((n) => n.id.value === o.id.value)));
  t.is((await second.call({ type: 'TEARDOWN' })).status, 202);
  first.close();
  second.close();
});

test.serial('a DECLINE of every offer at once, across agents and with a stale id among them, keeps refuse_seconds on each', async (t) => {
  const fw = await subscribed(m, 'decliner');
  const offers = await allOffers(fw, 2);
  const res = await fw.call({ type: 'DECLINE', decline: { offer_ids: [...offers.map((o) => o.id), { value: 'no-such-offer' }], filters: { refuse_seconds: 3600 } } });
  t.is(res.status, 202);
  const seen = fw.events.length;
  await sleep(1500); // allocation runs every 100 ms here
  t.false(fw.events.slice(seen).some(offersEvent), 'nothing re-offered within the filter');
  const other = await subscribed(m, 'other');
  t.is((await allOffers(other, 2)).length, 2, 'the declined resources went back to the pool');
  for (const f of [fw, other]) { await f.call({ type: 'TEARDOWN' }); f.close(); }
});

test.serial('a re-SUBSCRIBE without suppressed_roles gets offers again; UPDATE_FRAMEWORK sets suppression', async (t) => {
  const fw = await subscribed(m, 'suppressor');
  await allOffers(fw, 2);
  t.is((await fw.call({ type: 'SUPPRESS' })).status, 202);
  fw.close();
  const again = await subscribed(m, 'suppressor', { id: { value: fw.frameworkId } });
  t.is((await allOffers(again, 2)).length, 2, 'the new subscription is not suppressed');
  const update = await again.call({ type: 'UPDATE_FRAMEWORK', update_framework: { framework_info: info('suppressor', { id: { value: fw.frameworkId } }), suppressed_roles: ['*'] } });
  t.is(update.status, 202, update.body);
  const offers = (await frameworkView(m, fw.frameworkId)).offers ?? [];
  await again.call({ type: 'DECLINE', decline: { offer_ids: offers.map((o: Event) => o.id), filters: { refuse_seconds: 0 } } });
  const seen = again.events.length;
  await sleep(1000);
  t.false(again.events.slice(seen).some(offersEvent), 'suppressed through UPDATE_FRAMEWORK');
  const bad = await again.call({ type: 'UPDATE_FRAMEWORK', update_framework: { framework_info: info('suppressor', { id: { value: fw.frameworkId } }), suppressed_roles: ['elsewhere'] } });
  t.is(bad.status, 400);
  t.regex(bad.body, /'elsewhere'/);
  await again.call({ type: 'TEARDOWN' });
  again.close();
});

test.serial('a client that hangs up while its SUBSCRIBE is being written is disconnected, not left connected for good', async (t) => {
  const redis = new Redis(m.redis.url);
  t.teardown(() => redis.disconnect());
  await redis.call('CLIENT', 'PAUSE', '400', 'WRITE'); // the SUBSCRIBE's write waits
  const req = http.request(new URL('/api/v1/scheduler', m.url), { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' } });
  req.on('error', () => { /* we hang up */ });
  req.end(JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: info('hang-up', { failover_timeout: 0 }) } }));
  await sleep(100);
  req.destroy();
  // failover_timeout 0: a disconnected framework is removed at once, its offers with it.
  await waitFor(async () => !(await operator(m.url, 'GET_FRAMEWORKS')).get_frameworks.frameworks.some((f: Event) => f.framework_info.name === 'hang-up'), 10_000, 'the framework to be removed');
  const other = await subscribed(m, 'after-hang-up');
  t.is((await allOffers(other, 2)).length, 2, 'no offer is held by the framework that hung up');
  await other.call({ type: 'TEARDOWN' });
  other.close();
});

function launch(fw: RawFramework, offer: Event, ids: string[]) {
  const task = (id: string) => ({ name: id, task_id: { value: id }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 1), scalarRes('mem', 64)], command: { value: 'sleep 600' } });
  return fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: ids.map(task) } }], filters: { refuse_seconds: 0 } } });
}

/** A first ACCEPT that empties the gate (1/s), and the offer of what it left: the next ACCEPT waits. */
async function gateEmptied(fw: RawFramework, first: string[]): Promise<{ offer: Event; rest: Event }> {
  const [offer] = await allOffers(fw, 1);
  await sleep(1100); // a full bucket for the first
  const seen = fw.events.length;
  expectStatus(await launch(fw, offer, first), 202);
  const rest = (await fw.next(offersEvent, 20_000, seen)).offers.offers[0];
  return { offer, rest };
}
function expectStatus(res: { status: number; body: string }, status: number): void {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${res.body}`);
}

test.serial('a KILL while the ACCEPT waits at the launch gate ends the task TASK_KILLED; it is never launched', async (t) => {
  const fw = await subscribed(gated, 'killer');
  t.teardown(async () => { await fw.call({ type: 'TEARDOWN' }); fw.close(); });
  const { rest } = await gateEmptied(fw, ['k0', 'k1']);
  const waiting = launch(fw, rest, ['k2']);
  await sleep(200); // k2's ACCEPT waits for the gate
  t.is((await fw.call({ type: 'KILL', kill: { task_id: { value: 'k2' }, agent_id: rest.agent_id } })).status, 202);
  t.is((await waiting).status, 202);
  const killed = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'k2');
  t.like(killed.update.status, { state: 'TASK_KILLED', reason: 'REASON_TASK_KILLED_DURING_LAUNCH', source: 'SOURCE_MASTER' });
  const agent = gatedAgent;
  await sleep(300);
  t.deepEqual(agent.launched.filter((l) => l.frameworkId === fw.frameworkId).map((l) => l.taskId).sort(), ['k0', 'k1'], 'k2 never reached the agent');
  const view = (await operator(gated.url, 'GET_AGENTS')).get_agents.agents[0];
  t.is(view.allocated_resources.find((r: Event) => r.name === 'cpus')?.scalar.value, 2, 'only k0 and k1 hold resources');
});

test.serial('a TEARDOWN while the ACCEPT waits at the launch gate writes nothing back and launches nothing', async (t) => {
  const fw = await subscribed(gated, 'torn');
  t.teardown(() => fw.close());
  const { rest } = await gateEmptied(fw, ['d0']);
  const waiting = launch(fw, rest, ['d1', 'd2']);
  await sleep(200);
  t.is((await fw.call({ type: 'TEARDOWN' })).status, 202);
  await waiting.catch(() => undefined);
  await sleep(3000); // past the gate
  const redis = new Redis(gated.redis.url);
  t.teardown(() => redis.disconnect());
  const records = Object.keys(await redis.hgetall(keyPrefix('default') + 'tasks')).filter((k) => k.startsWith(`${fw.frameworkId}/`));
  t.deepEqual(records, [], 'no task record of the removed framework');
  t.deepEqual(gatedAgent.launched.filter((l) => l.frameworkId === fw.frameworkId).map((l) => l.taskId), ['d0'], 'nothing that waited at the gate was launched');
});

test.serial('a torn-down framework is listed as completed, with its tasks, in GET_FRAMEWORKS and /master/state', async (t) => {
  const fw = await subscribed(m, 'finished-business');
  const [offer] = await allOffers(fw, 2);
  const accepted = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 'w', task_id: { value: 'w' }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 1), scalarRes('mem', 64)], command: { value: 'sleep 600' } }] } }], filters: { refuse_seconds: 0 } } });
  t.is(accepted.status, 202);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');
  t.is((await fw.call({ type: 'TEARDOWN' })).status, 202);
  fw.close();
  await waitFor(async () => (await operator(m.url, 'GET_FRAMEWORKS')).get_frameworks.completed_frameworks?.some((f: Event) => f.framework_info.id.value === fw.frameworkId), 10_000, 'the completed framework');
  const completed = (await operator(m.url, 'GET_FRAMEWORKS')).get_frameworks.completed_frameworks.find((f: Event) => f.framework_info.id.value === fw.frameworkId);
  t.like(completed, { active: false, connected: false, framework_info: { name: 'finished-business' } });
  t.truthy(completed.unregistered_time?.nanoseconds);
  const state = await (await fetch(`${m.url}/master/state`)).json() as { frameworks: Event[]; completed_frameworks: Event[] };
  t.false(state.frameworks.some((f) => f.id === fw.frameworkId));
  const legacy = state.completed_frameworks.find((f) => f.id === fw.frameworkId)!;
  t.like(legacy, { name: 'finished-business', active: false });
  t.deepEqual(legacy.completed_tasks.map((x: Event) => [x.id, x.state]), [['w', 'TASK_KILLED']]);
});
