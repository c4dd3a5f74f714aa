// The Mesos v1 scheduler API as a framework written for Mesos sees it: status codes, events,
// offers, launches, acknowledgements, reconciliation — against a real master on a real Redis,
// with simulated agents speaking the agent protocol.
import test from 'ava';
import net from 'node:net';
import { RawFramework, rawPost, scalarRes, type Event } from './helpers/raw-framework.ts';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';
import { RawAgent } from './helpers/raw-agent.ts';

let m: InProcessMaster;
let agent: SimulatedAgent;

test.before(async () => {
  m = await inProcessMaster({}, '64kb');
  agent = new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 4, mem: 4096, disk: 1000 }, [[31000, 31009]]), attributes: [{ name: 'rack', type: 'TEXT', text: { value: 'r1' } }] });
  await agent.start();
});

test.after.always(async () => {
  agent?.stop();
  await m?.shutdown();
});

const INFO = { user: 'test', name: 'raw-framework', failover_timeout: 60 };
const offersEvent = (e: Event) => e.type === 'OFFERS' && e.offers.offers.length > 0;

async function subscribed(info: object = INFO, autoAck = true): Promise<RawFramework> {
  const fw = new RawFramework(m.url, autoAck);
  const status = await fw.subscribe(info);
  if (status !== 200) throw new Error(`subscribe: ${status}`);
  return fw;
}

function launch(fw: RawFramework, offer: Event, tasks: object[]) {
  return fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: tasks } }], filters: { refuse_seconds: 0 } } });
}

/** A v1 operator API call (POST /api/v1), answered as JSON. */
async function operator(type: string): Promise<Event> {
  const res = await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type }) });
  return await res.json() as Event;
}

/** Every framework the master knows (subscribed, disconnected or removed), by id. */
const frameworkIds = (r: Event): string[] => [...r.get_frameworks.frameworks, ...r.get_frameworks.completed_frameworks].map((f: Event) => f.framework_info.id.value).sort();
/** Every task the master knows, in every list, with its state. */
const taskStates = (r: Event): string[] => Object.values(r.get_tasks as Record<string, Event[]>).flat()
  .map((x) => `${x.framework_id.value}/${x.task_id.value}:${x.state}`).sort();

const task = (id: string, offer: Event, res: object[] = [scalarRes('cpus', 0.5), scalarRes('mem', 64)]) => ({
  name: id, task_id: { value: id }, agent_id: offer.agent_id, resources: res, command: { value: 'true' },
});

test.serial('SUBSCRIBE streams SUBSCRIBED then OFFERS with the agent resources, ports, hostname and attributes', async (t) => {
  const fw = await subscribed();
  t.truthy(fw.streamId, 'Mesos-Stream-Id header');
  const sub = fw.events[0];
  t.is(sub.type, 'SUBSCRIBED');
  t.regex(sub.subscribed.framework_id.value, /-\d{4}$/);
  t.is(sub.subscribed.heartbeat_interval_seconds, 1);
  const offers = await fw.next(offersEvent);
  const offer = offers.offers.offers[0];
  t.is(offer.hostname, '127.0.0.1');
  t.deepEqual(offer.attributes, [{ name: 'rack', type: 'TEXT', text: { value: 'r1' } }]);
  const byName = Object.fromEntries(offer.resources.map((r: Event) => [r.name, r]));
  t.is(byName.cpus.scalar.value, 4);
  t.is(byName.mem.scalar.value, 4096);
  t.is(byName.disk.scalar.value, 1000);
  t.deepEqual(byName.ports.ranges.range, [{ begin: 31000, end: 31009 }]);
  t.deepEqual(byName.cpus.allocation_info, { role: '*' });
  await fw.nextNew((e) => e.type === 'HEARTBEAT', 5000);
  t.is((await fw.call({ type: 'TEARDOWN' })).status, 202);
  fw.close();
});

test.serial('a launched task goes STAGING → RUNNING → FINISHED, updates carry uuids and stop after ACKNOWLEDGE', async (t) => {
  const fw = await subscribed(INFO, false);
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  t.is((await launch(fw, offer, [task('t1', offer)])).status, 202);
  const running = await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');
  const status = running.update.status;
  t.is(status.task_id.value, 't1');
  t.is(Buffer.from(status.uuid, 'base64').length, 16);
  t.is(status.agent_id.value, agent.agentId);
  // Not acknowledged: the master re-sends it (statusUpdateRetrySeconds = 1).
  const again = await fw.nextNew((e) => e.type === 'UPDATE' && e.update.status.uuid === status.uuid, 5000);
  t.is(again.update.status.state, 'TASK_RUNNING');
  t.is((await fw.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } })).status, 202);
  await agent.finish(fw.frameworkId, 't1', 'TASK_FINISHED');
  const fin = (await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_FINISHED')).update.status;
  t.is((await fw.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: fin.agent_id, task_id: fin.task_id, uuid: fin.uuid } })).status, 202);
  const r = await m.master.store.readList('completed_tasks', 10);
  t.true(r.some((x) => (x as Event).info.task_id.value === 't1' && (x as Event).state === 'TASK_FINISHED'));
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('RECONCILE answers explicit and implicit queries from the master state; KILL reaches the agent', async (t) => {
  const fw = await subscribed({ ...INFO, capabilities: [{ type: 'PARTITION_AWARE' }] });
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  await launch(fw, offer, [task('r1', offer)]);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');
  const from = fw.events.length;
  t.is((await fw.call({ type: 'RECONCILE', reconcile: { tasks: [{ task_id: { value: 'r1' } }, { task_id: { value: 'nope' } }] } })).status, 202);
  const known = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'r1' && e.update.status.reason === 'REASON_RECONCILIATION', 5000, from);
  t.is(known.update.status.state, 'TASK_RUNNING');
  t.is(known.update.status.uuid, undefined);
  const unknown = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'nope', 5000, from);
  t.is(unknown.update.status.state, 'TASK_UNKNOWN');
  const from2 = fw.events.length;
  await fw.call({ type: 'RECONCILE', reconcile: { tasks: [] } });
  const implicit = await fw.next((e) => e.type === 'UPDATE' && e.update.status.reason === 'REASON_RECONCILIATION', 5000, from2);
  t.is(implicit.update.status.task_id.value, 'r1');
  t.is((await fw.call({ type: 'KILL', kill: { task_id: { value: 'r1' }, agent_id: offer.agent_id } })).status, 202);
  const killed = await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_KILLED');
  t.is(killed.update.status.task_id.value, 'r1');
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('SHUTDOWN of a command task\'s executor (its id is the task id) kills the running task: TASK_KILLED', async (t) => {
  const fw = await subscribed({ ...INFO, name: 'shutdown' });
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  await launch(fw, offer, [task('sd-1', offer)]);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'sd-1' && e.update.status.state === 'TASK_RUNNING');
  t.true(agent.running.has(`${fw.frameworkId}/sd-1`), 'running on the agent');
  // As Mesos: an executor the named agent does not run is ignored — no status update, nothing killed.
  const from = fw.events.length;
  t.is((await fw.call({ type: 'SHUTDOWN', shutdown: { executor_id: { value: 'no-such-executor' }, agent_id: offer.agent_id } })).status, 202);
  t.is((await fw.call({ type: 'SHUTDOWN', shutdown: { executor_id: { value: 'sd-1' }, agent_id: { value: 'another-agent' } } })).status, 202);
  t.is((await fw.call({ type: 'RECONCILE', reconcile: { tasks: [{ task_id: { value: 'sd-1' } }] } })).status, 202);
  const answer = await fw.next((e) => e.type === 'UPDATE' && e.update.status.reason === 'REASON_RECONCILIATION', 5000, from);
  t.is(answer.update.status.state, 'TASK_RUNNING', 'still running');
  t.false(fw.events.slice(from).some((e) => e.type === 'UPDATE' && e.update.status.reason !== 'REASON_RECONCILIATION'), 'no update for the ignored shutdowns');
  const res = await fw.call({ type: 'SHUTDOWN', shutdown: { executor_id: { value: 'sd-1' }, agent_id: offer.agent_id } });
  t.is(res.status, 202, res.body);
  const killed = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'sd-1' && e.update.status.state !== 'TASK_RUNNING', 5000);
  t.is(killed.update.status.state, 'TASK_KILLED');
  t.is(killed.update.status.agent_id.value, agent.agentId);
  t.false(agent.running.has(`${fw.frameworkId}/sd-1`), 'the agent was told to kill it');
  const tk = (await operator('GET_TASKS')).get_tasks.completed_tasks.find((x: Event) => x.task_id.value === 'sd-1' && x.framework_id.value === fw.frameworkId);
  t.is(tk?.state, 'TASK_KILLED');
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('bad requests get the status codes the Mesos docs give and change nothing', async (t) => {
  const post = (body: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }) => rawPost(m.url, '/api/v1/scheduler', body, headers);
  // What the refused calls must leave as it was.
  const frameworksBefore = frameworkIds(await operator('GET_FRAMEWORKS'));
  const tasksBefore = taskStates(await operator('GET_TASKS'));
  const malformed = await post('{"type": "SUBSCRIBE",');
  t.is(malformed.status, 400);
  t.regex(malformed.body, /JSON/);
  const unknown = await post(JSON.stringify({ type: 'LAUNCH_ROCKETS' }));
  t.is(unknown.status, 400);
  t.regex(unknown.body, /type/);
  const proto = await post('\x08\x01', { 'Content-Type': 'application/x-protobuf' });
  t.is(proto.status, 415);
  t.is(proto.body, "Unsupported 'Content-Type': application/x-protobuf; Spillway accepts application/json only");
  const noType = await post('{}', {});
  t.is(noType.status, 400);
  t.is(noType.body, "Expecting 'Content-Type' to be present");
  const huge = await post(JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'x', name: 'y'.repeat(100_000) } } }));
  t.is(huge.status, 413);
  t.is(huge.body, 'Request body is larger than the limit: request entity too large');
  const unknownFramework = await post(JSON.stringify({ type: 'REVIVE', framework_id: { value: 'no-such-framework' } }), { 'Content-Type': 'application/json', 'Mesos-Stream-Id': 'x' });
  t.is(unknownFramework.status, 400);
  t.is(unknownFramework.body, 'Framework cannot be found');
  const subscribeWithStream = await post(JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'x', name: 'y' } } }), { 'Content-Type': 'application/json', 'Mesos-Stream-Id': 'x' });
  t.is(subscribeWithStream.status, 400);
  t.is(subscribeWithStream.body, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
  const missingSub = await post(JSON.stringify({ type: 'SUBSCRIBE' }));
  t.is(missingSub.status, 400);
  t.regex(missingSub.body, /subscribe/);
  const badRole = await post(JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'x', name: 'y', roles: ['/bad'] } } }));
  t.is(badRole.status, 400);
  t.deepEqual(frameworkIds(await operator('GET_FRAMEWORKS')), frameworksBefore, 'no refused SUBSCRIBE registered a framework');

  const fw = await subscribed();
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  const noStream = "All non-subscribe calls should include the 'Mesos-Stream-Id' header";
  const empty = await fw.call({ type: 'REVIVE' }, { 'Mesos-Stream-Id': '' });
  t.is(empty.status, 400);
  t.is(empty.body, noStream);
  // The header left out altogether, not just empty.
  const absent = await post(JSON.stringify({ type: 'REVIVE', framework_id: { value: fw.frameworkId } }));
  t.is(absent.status, 400);
  t.is(absent.body, noStream);
  const wrong = await fw.call({ type: 'REVIVE' }, { 'Mesos-Stream-Id': 'not-my-stream' });
  t.is(wrong.status, 400);
  t.regex(wrong.body, /didn't match/);
  const badAck = await fw.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid: 'short' } });
  t.is(badAck.status, 400);
  // Bad scalars in an ACCEPT of the framework's real offer: refused before the offer is touched.
  const acceptOf = (res: object[]) => JSON.stringify({
    type: 'ACCEPT', framework_id: { value: fw.frameworkId },
    accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [task('bad-scalar', offer, res)] } }] },
  });
  const streamHeaders = { 'Content-Type': 'application/json', 'Mesos-Stream-Id': fw.streamId };
  const nonNumeric = await post(acceptOf([{ name: 'cpus', type: 'SCALAR', scalar: { value: 'lots' } }]), streamHeaders);
  t.is(nonNumeric.status, 400);
  t.regex(nonNumeric.body, /scalar\.value/);
  // 1e400 is valid JSON that parses to Infinity (JSON.stringify cannot write it: spliced in as text).
  const infinite = await post(acceptOf([scalarRes('cpus', 0.123456789)]).replace('0.123456789', '1e400'), streamHeaders);
  t.is(infinite.status, 400);
  t.regex(infinite.body, /task_infos\.0\.resources\.0\.scalar\.value: .*Infinity/);

  // Nothing came of any of it: no task, no framework but `fw`, its offer still out with all it held.
  t.deepEqual(taskStates(await operator('GET_TASKS')), tasksBefore, 'no task was created');
  const frameworks = await operator('GET_FRAMEWORKS');
  t.deepEqual(frameworkIds(frameworks), [...frameworksBefore, fw.frameworkId].sort());
  const mine = frameworks.get_frameworks.frameworks.find((f: Event) => f.framework_info.id.value === fw.frameworkId);
  t.deepEqual(mine.offers.map((o: Event) => o.id.value), [offer.id.value], 'the offer is still outstanding');
  t.deepEqual(mine.offers[0].resources, offer.resources);
  const ag = (await operator('GET_AGENTS')).get_agents.agents.find((a: Event) => a.agent_info.id.value === agent.agentId);
  t.deepEqual(ag.allocated_resources, [], 'no task holds anything');
  t.is(ag.offered_resources.find((r: Event) => r.name === 'cpus').scalar.value, 4);
  t.false(fw.events.some((e) => e.type === 'UPDATE'), 'no task update for a refused call');
  await fw.call({ type: 'TEARDOWN' });
  fw.close();

  // Known but disconnected (within its failover_timeout): 403, as Mesos.
  const away = await subscribed();
  away.close();
  let gone = await away.call({ type: 'REVIVE' });
  for (let i = 0; i < 100 && gone.status === 202; i++) { // until the master has seen the hang-up
    await new Promise((r) => setTimeout(r, 20));
    gone = await away.call({ type: 'REVIVE' });
  }
  t.is(gone.status, 403);
  t.is(gone.body, 'Framework is not subscribed');
  const back = await subscribed({ ...INFO, id: { value: away.frameworkId } });
  t.is((await back.call({ type: 'TEARDOWN' })).status, 202);
  back.close();
});

test.serial('invalid ACCEPTs: unknown, used, rescinded and foreign offers; over-sized, negative and duplicate tasks — nothing leaks', async (t) => {
  const a = await subscribed({ ...INFO, name: 'a' });
  const offer = (await a.next(offersEvent)).offers.offers[0];
  const err = (id: string) => a.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === id, 5000);

  await a.call({ type: 'ACCEPT', accept: { offer_ids: [{ value: 'no-such-offer' }], operations: [{ type: 'LAUNCH', launch: { task_infos: [task('u1', offer)] } }] } });
  const u1 = (await err('u1')).update.status;
  t.is(u1.state, 'TASK_LOST');
  t.is(u1.reason, 'REASON_INVALID_OFFERS');

  // Over the offer, negative, no command, then a valid one and its duplicate, all in one ACCEPT.
  const r = await launch(a, offer, [
    task('big', offer, [scalarRes('cpus', 64), scalarRes('mem', 64)]),
    task('neg', offer, [scalarRes('cpus', -1), scalarRes('mem', 64)]),
    task('ok', offer),
    task('ok', offer),
    { name: 'nocmd', task_id: { value: 'nocmd' }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 0.1)] },
  ]);
  t.is(r.status, 202);
  t.regex((await err('big')).update.status.message, /more resources/);
  t.is((await err('big')).update.status.state, 'TASK_ERROR');
  t.regex((await err('neg')).update.status.message, /negative/);
  t.regex((await err('nocmd')).update.status.message, /CommandInfo/);
  const dup = await a.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'ok' && e.update.status.state === 'TASK_ERROR', 5000);
  t.regex(dup.update.status.message, /duplicate ID/);
  await a.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'ok' && e.update.status.state === 'TASK_RUNNING');

  // The same offer again: already used.
  await launch(a, offer, [task('again', offer)]);
  t.regex((await err('again')).update.status.message, /no longer valid/);

  // Another framework's offer.
  const b = await subscribed({ ...INFO, name: 'b', capabilities: [{ type: 'PARTITION_AWARE' }] });
  // The rest of the agent went back to `a` as a new offer after its ACCEPT (refuse_seconds 0).
  const offerA = (await a.next((e) => offersEvent(e) && e.offers.offers[0].id.value !== offer.id.value)).offers.offers[0];
  await b.call({ type: 'ACCEPT', accept: { offer_ids: [offerA.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [task('steal', offerA)] } }] } });
  const steal = (await b.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'steal', 5000)).update.status;
  t.is(steal.state, 'TASK_DROPPED');
  t.regex(steal.message, /another framework/);

  // `a`'s own offer, rescinded (it timed out): accepting it afterwards is refused and launches nothing.
  m.master.config.offerTimeoutSeconds = 0.2;
  try {
    await a.next((e) => e.type === 'RESCIND' && e.rescind.offer_id.value === offerA.id.value, 5000);
  } finally {
    m.master.config.offerTimeoutSeconds = 0;
  }
  t.is(m.master.state.offers.get(offerA.id.value), undefined, 'the rescinded offer is gone from the book');
  await a.call({ type: 'ACCEPT', accept: { offer_ids: [offerA.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [task('rescinded', offerA)] } }] } });
  const rescinded = (await err('rescinded')).update.status;
  t.is(rescinded.state, 'TASK_LOST');
  t.is(rescinded.reason, 'REASON_INVALID_OFFERS');
  t.regex(rescinded.message, /no longer valid/);
  const tasks = taskStates(await operator('GET_TASKS'));
  t.false(tasks.some((x) => /\/(rescinded|steal|again|u1|big|neg|nocmd):/.test(x)), 'no refused launch became a task');

  // Nothing leaked: the agent's resources are exactly the running task's plus free/offered.
  await a.call({ type: 'KILL', kill: { task_id: { value: 'ok' } } });
  await a.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'ok' && e.update.status.state === 'TASK_KILLED');
  await a.call({ type: 'TEARDOWN' });
  await b.call({ type: 'TEARDOWN' });
  a.close();
  b.close();
  const c = await subscribed({ ...INFO, name: 'c' });
  const full = (await c.next(offersEvent)).offers.offers[0];
  const cpus = full.resources.find((x: Event) => x.name === 'cpus').scalar.value;
  t.is(cpus, 4, 'all 4 cpus are offered again once everything ended');
  const agents = await (await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_AGENTS"}' })).json() as Event;
  t.deepEqual(agents.get_agents.agents[0].allocated_resources, []);
  await c.call({ type: 'TEARDOWN' });
  c.close();
});

test.serial('DECLINE filters the agent for refuse_seconds; REVIVE clears it; SUPPRESS stops offers', async (t) => {
  const fw = await subscribed();
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  await fw.call({ type: 'DECLINE', decline: { offer_ids: [offer.id], filters: { refuse_seconds: 3600 } } });
  await new Promise((r) => setTimeout(r, 400));
  const before = fw.events.filter(offersEvent).length;
  await new Promise((r) => setTimeout(r, 400));
  t.is(fw.events.filter(offersEvent).length, before, 'no new offers while filtered');
  await fw.call({ type: 'REVIVE' });
  await fw.nextNew(offersEvent, 3000);
  await fw.call({ type: 'SUPPRESS' });
  const now = fw.events.filter(offersEvent).length;
  const o2 = fw.events.filter(offersEvent).at(-1)!.offers.offers[0];
  await fw.call({ type: 'DECLINE', decline: { offer_ids: [o2.id], filters: { refuse_seconds: 0 } } });
  await new Promise((r) => setTimeout(r, 500));
  t.is(fw.events.filter(offersEvent).length, now, 'suppressed: no offers');
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('DECLINE without filters keeps the agent away for Mesos\' default 5 s, then offers it again', async (t) => {
  const fw = await subscribed({ ...INFO, name: 'default-refuse' });
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  const onAgent = (e: Event) => offersEvent(e) && e.offers.offers.some((o: Event) => o.agent_id.value === agent.agentId);
  const from = fw.events.length;
  const declinedAt = Date.now();
  t.is((await fw.call({ type: 'DECLINE', decline: { offer_ids: [offer.id] } })).status, 202);
  // For the first 3 s (allocation runs every 100 ms) nothing of the agent comes back to it.
  while (Date.now() - declinedAt < 3000) {
    t.false(fw.events.slice(from).some(onAgent), `re-offered ${Date.now() - declinedAt} ms after the DECLINE`);
    const mine = (await operator('GET_FRAMEWORKS')).get_frameworks.frameworks.find((f: Event) => f.framework_info.id.value === fw.frameworkId);
    t.deepEqual(mine.offers, [], 'holds no offer while filtered');
    await new Promise((r) => setTimeout(r, 200));
  }
  const again = await fw.next(onAgent, 10_000, from);
  const after = Date.now() - declinedAt;
  t.true(after >= 4500, `re-offered after ${after} ms, before the 5 s filter ended`);
  t.is(again.offers.offers[0].resources.find((r: Event) => r.name === 'cpus').scalar.value, 4);
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('a framework that re-subscribes with its id within failover_timeout keeps its tasks; offers of a disconnected one are rescinded', async (t) => {
  const fw = await subscribed();
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  await launch(fw, offer, [task('keep', offer)]);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');
  const id = fw.frameworkId;
  fw.close();
  await new Promise((r) => setTimeout(r, 300));
  t.is(m.master.state.offersOfFramework(id).length, 0, 'offers of the disconnected framework are gone');
  const again = new RawFramework(m.url);
  t.is(await again.subscribe({ ...INFO, id: { value: id } }, { framework_id: { value: id } }), 200);
  t.is(again.frameworkId, id);
  await again.call({ type: 'RECONCILE', reconcile: { tasks: [{ task_id: { value: 'keep' } }] } });
  const st = await again.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'keep' && e.update.status.reason === 'REASON_RECONCILIATION');
  t.is(st.update.status.state, 'TASK_RUNNING');
  await again.call({ type: 'TEARDOWN' });
  again.close();
});

test.serial('an agent that stops pinging is removed: TASK_UNREACHABLE to PARTITION_AWARE frameworks, TASK_LOST to others', async (t) => {
  const lonely = new SimulatedAgent({ master: m.url, behaviour: 'run', hostname: '127.0.0.2', resources: resources({ cpus: 1, mem: 256 }) });
  await lonely.start();
  t.teardown(() => lonely.stop());
  const aware = await subscribed({ ...INFO, name: 'aware', capabilities: [{ type: 'PARTITION_AWARE' }] });
  const plain = await subscribed({ ...INFO, name: 'plain' });
  const onLonely = async (fw: RawFramework, id: string) => {
    for (let seen = 0; ;) {
      const ev = await fw.next(offersEvent, 20_000, seen);
      seen = fw.events.indexOf(ev) + 1;
      const o = ev.offers.offers.find((x: Event) => x.agent_id.value === lonely.agentId);
      for (const other of ev.offers.offers.filter((x: Event) => x !== o)) await fw.call({ type: 'DECLINE', decline: { offer_ids: [other.id], filters: { refuse_seconds: 3600 } } });
      if (o) {
        // The rest of the lonely agent stays away from this framework, so the other one is offered it
        // (an offer left unanswered would hold it forever).
        await fw.call({ type: 'ACCEPT', accept: { offer_ids: [o.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [task(id, o, [scalarRes('cpus', 0.5), scalarRes('mem', 64)])] } }], filters: { refuse_seconds: 3600 } } });
        return;
      }
    }
  };
  await Promise.all([onLonely(aware, 'pa'), onLonely(plain, 'np')]);
  await aware.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'pa' && e.update.status.state === 'TASK_RUNNING');
  await plain.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'np' && e.update.status.state === 'TASK_RUNNING');
  lonely.stop(); // no more pings: removed after 0.5 s × 4
  const pa = await aware.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'pa' && e.update.status.state !== 'TASK_RUNNING', 10_000);
  const np = await plain.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'np' && e.update.status.state !== 'TASK_RUNNING', 10_000);
  t.is(pa.update.status.state, 'TASK_UNREACHABLE');
  t.is(np.update.status.state, 'TASK_LOST');
  t.is(np.update.status.reason, 'REASON_AGENT_REMOVED');
  await aware.next((e) => e.type === 'FAILURE' && e.failure.agent_id.value === lonely.agentId);
  const state = await (await fetch(`${m.url}/master/state`)).json() as Event;
  t.false(state.slaves.some((s: Event) => s.id === lonely.agentId));
  t.is(state.unreachable_slaves, 1);
  await aware.call({ type: 'TEARDOWN' });
  await plain.call({ type: 'TEARDOWN' });
  aware.close();
  plain.close();
});

test.serial('operator API and /master/state describe agents, frameworks and tasks in Mesos shapes; /metrics is Prometheus', async (t) => {
  const fw = await subscribed({ ...INFO, name: 'shapes', roles: ['*'] });
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  await launch(fw, offer, [task('shape-1', offer)]);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'shape-1' && e.update.status.state === 'TASK_RUNNING');
  const op = async (type: string) => (await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type }) })).json() as Promise<Event>;
  const health = await op('GET_HEALTH');
  t.deepEqual(health, { type: 'GET_HEALTH', get_health: { healthy: true } });
  t.truthy((await op('GET_VERSION')).get_version.version_info.version);
  const st = (await op('GET_STATE')).get_state;
  const tk = st.get_tasks.tasks.find((x: Event) => x.task_id.value === 'shape-1');
  t.is(tk.state, 'TASK_RUNNING');
  t.is(tk.framework_id.value, fw.frameworkId);
  t.truthy(tk.agent_id.value);
  t.true(tk.statuses.some((s: Event) => s.state === 'TASK_RUNNING'));
  const f = st.get_frameworks.frameworks.find((x: Event) => x.framework_info.id.value === fw.frameworkId);
  t.is(f.framework_info.name, 'shapes');
  t.true(f.connected);
  t.truthy(f.registered_time.nanoseconds);
  const ag = st.get_agents.agents[0];
  t.truthy(ag.agent_info.hostname);
  t.true(Array.isArray(ag.total_resources));
  const legacy = await (await fetch(`${m.url}/master/state`)).json() as Event;
  const lf = legacy.frameworks.find((x: Event) => x.id === fw.frameworkId);
  t.is(lf.tasks[0].id, 'shape-1');
  t.is(lf.tasks[0].state, 'TASK_RUNNING');
  t.is(typeof lf.tasks[0].resources.cpus, 'number');
  t.true(legacy.slaves.length >= 1);
  t.regex(legacy.slaves[0].resources.ports ?? '[]', /^\[/);
  const metrics = await (await fetch(`${m.url}/metrics`)).text();
  t.regex(metrics, /spillway_tasks_launched_total \d+/);
  t.regex(metrics, /spillway_offers_sent_total \d+/);
  const unknownOp = await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"DESTROY_EVERYTHING"}' });
  t.is(unknownOp.status, 400);
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('an offer outstanding past --offer-timeout is RESCINDed, and accepting it afterwards is refused', async (t) => {
  const fw = await subscribed({ ...INFO, name: 'slow' });
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  m.master.config.offerTimeoutSeconds = 0.2;
  try {
    const rescind = await fw.next((e) => e.type === 'RESCIND', 5000);
    t.deepEqual(rescind.rescind.offer_id, offer.id);
  } finally {
    m.master.config.offerTimeoutSeconds = 0;
  }
  await launch(fw, offer, [task('late', offer)]);
  const late = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'late', 5000);
  t.is(late.update.status.state, 'TASK_LOST');
  t.is(late.update.status.reason, 'REASON_INVALID_OFFERS');
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('REQUEST records demand per framework until tasks cover it, a new REQUEST replaces it, or the framework leaves', async (t) => {
  const fw = await subscribed({ ...INFO, name: 'asker' });
  const demand = async () => (await (await fetch(`${m.url}/v1/demand`)).json()) as Event;
  const ask = (count: number, cpus = 0.5) => fw.call({ type: 'REQUEST', request: { requests: [{ resources: [scalarRes('cpus', cpus), scalarRes('mem', 64)], count, constraints: [{ attribute: 'rack', value: 'r1' }] }] } });
  t.is((await ask(3)).status, 202);
  let d = await demand();
  t.is(d.total_units, 3);
  t.deepEqual(d.frameworks[0].units[0].constraints, [{ attribute: 'rack', value: 'r1' }]);
  // Launching a task that covers one unit satisfies it.
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  await launch(fw, offer, [task('covers-1', offer)]);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'covers-1');
  d = await demand();
  t.is(d.total_units, 2);
  // Bad shapes are refused and change nothing.
  const bad = await fw.call({ type: 'REQUEST', request: { requests: [{ resources: [scalarRes('cpus', -1)] }] } });
  t.is(bad.status, 400);
  t.regex(bad.body, /request\.requests\[0\]\.resources: .*negative/);
  t.is((await demand()).total_units, 2);
  t.is((await fw.call({ type: 'REQUEST', request: { requests: [] } })).status, 202);
  t.is((await demand()).total_units, 0, 'an empty REQUEST withdraws the demand');
  await ask(5);
  t.is((await demand()).total_units, 5);
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
  await new Promise((r) => setTimeout(r, 100));
  t.is((await demand()).total_units, 0, 'gone with the framework');
});

test.serial('JSON nulls are fields left out (protobuf JSON), and each event comes in its own HTTP chunk, as Mesos sends them', async (t) => {
  // A client built on protobuf classes sends every unset optional field as null.
  const fw = await subscribed({ ...INFO, name: 'nulls', id: null, checkpoint: null, role: null, principal: null, capabilities: null, labels: null });
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  const nullTask = { ...task('null-1', offer), executor: null, container: null, health_check: null, labels: null,
    resources: [scalarRes('cpus', 0.5), scalarRes('mem', 64)].map((r) => ({ ...r, ranges: null, role: null, reservation: null })) };
  const res = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [nullTask] }, reserve: null }], filters: null } });
  t.is(res.status, 202, res.body);
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'null-1' && e.update.status.state === 'TASK_RUNNING');
  const op = await rawPost(m.url, '/api/v1', JSON.stringify({ type: 'GET_TASKS', get_agent: null }), { 'Content-Type': 'application/json' });
  t.is(op.status, 200, op.body);

  // Raw chunked framing: SUBSCRIBED and the OFFERS right behind it arrive as separate chunks.
  const chunks = await new Promise<string[]>((resolve, reject) => {
    const socket = net.connect(Number(new URL(m.url).port), '127.0.0.1');
    const body = JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { ...INFO, name: 'chunks' } } });
    let raw = '';
    socket.on('data', (d) => {
      raw += d.toString('utf8');
      const start = raw.indexOf('\r\n\r\n');
      if (start < 0) return;
      const out: string[] = [];
      let rest = raw.slice(start + 4);
      for (;;) {
        const eol = rest.indexOf('\r\n');
        if (eol < 0) break;
        const size = parseInt(rest.slice(0, eol), 16);
        if (rest.length < eol + 2 + size + 2) break;
        out.push(rest.slice(eol + 2, eol + 2 + size));
        rest = rest.slice(eol + 2 + size + 2);
      }
      if (out.some((c) => c.includes('"OFFERS"'))) { socket.destroy(); resolve(out); }
    });
    socket.on('error', reject);
    socket.write(`POST /api/v1/scheduler HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
  for (const c of chunks) {
    const nl = c.indexOf('\n');
    t.is(Number(c.slice(0, nl)), Buffer.byteLength(c.slice(nl + 1)), 'one whole RecordIO record per chunk');
    t.notThrows(() => JSON.parse(c.slice(nl + 1)));
  }
  t.is(JSON.parse(chunks[0].slice(chunks[0].indexOf('\n') + 1)).type, 'SUBSCRIBED');
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

/** An agent spoken by hand that keeps every event of its stream (RawAgent reads only SUBSCRIBED). */
// Last in the file: the hand-made agent is left to time out after it, and would count as unreachable.
test.serial('MESSAGE goes both ways: a framework\'s data reaches the agent\'s stream, an executor\'s reaches the framework', async (t) => {
  const ra = new RawAgent(m.url);
  t.is((await ra.subscribe({ hostname: '127.0.0.3', resources: [] })).status, 200); // no resources: it changes no offer
  t.teardown(() => ra.close());
  const fw = await subscribed({ ...INFO, name: 'messages' });
  const toAgent = Buffer.from('hello, executor \u2603').toString('base64');
  const sent = await fw.call({ type: 'MESSAGE', message: { agent_id: { value: ra.agentId }, executor_id: { value: 'exec-1' }, data: toAgent } });
  t.is(sent.status, 202, sent.body);
  const atAgent = await ra.next((e) => e.type === 'MESSAGE');
  t.deepEqual(atAgent.message, { framework_id: { value: fw.frameworkId }, executor_id: { value: 'exec-1' }, data: toAgent });

  const toFramework = Buffer.from('hello, scheduler').toString('base64');
  const from = fw.events.length;
  const back = await ra.call({ type: 'MESSAGE', extra: { message: { framework_id: { value: fw.frameworkId }, executor_id: { value: 'exec-1' }, data: toFramework } } });
  t.is(back.status, 202, back.body);
  const atFramework = await fw.next((e) => e.type === 'MESSAGE', 5000, from);
  t.deepEqual(atFramework.message, { agent_id: { value: ra.agentId }, executor_id: { value: 'exec-1' }, data: toFramework });
  t.is(Buffer.from(atFramework.message.data, 'base64').toString(), 'hello, scheduler');
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});
