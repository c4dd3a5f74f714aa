// Agent draining and deactivation (Mesos' DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT,
// MARK_AGENT_GONE) end to end: a real master and real agent processes on loopback over a private
// Redis, a framework that speaks raw Mesos v1 HTTP, and real tasks that trap SIGTERM.
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startCluster, waitFor, type Cluster } from './helpers/cluster.ts';
import { RawFramework, rawPost, scalarRes, type Event } from './helpers/raw-framework.ts';
import { spillway } from './helpers/run-process.ts';
import { inProcessMaster } from './helpers/in-process.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';

async function op(url: string, body: object): Promise<{ status: number; json: Event; text: string }> {
  const res = await fetch(`${url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: Event = {};
  try { json = JSON.parse(text); } catch { /* no body */ }
  return { status: res.status, json, text };
}

const agents = async (url: string): Promise<Event[]> => (await op(url, { type: 'GET_AGENTS' })).json.get_agents.agents;
const agentById = async (url: string, id: string): Promise<Event | undefined> => (await agents(url)).find((a) => a.agent_info.id.value === id);
/** Agent ids in the order the cluster started them (matched by port). */
async function agentIds(c: Cluster): Promise<string[]> {
  const list = await agents(c.masterUrl);
  return c.agents.map((p) => list.find((a) => a.agent_info.port === p.port)!.agent_info.id.value);
}

const offersOn = (ev: Event, agentId: string): Event[] => (ev.type === 'OFFERS' ? ev.offers.offers.filter((o: Event) => o.agent_id.value === agentId) : []);

async function subscribe(url: string, id?: string, autoAck = true): Promise<RawFramework> {
  const fw = new RawFramework(url, autoAck);
  const s = await fw.subscribe({ user: 'test', name: 'drain-test', failover_timeout: 120, ...(id ? { id: { value: id } } : {}) }, id ? { framework_id: { value: id } } : {});
  if (s !== 200) throw new Error(`subscribe: ${s}`);
  return fw;
}

/** Launches one task on the offer's agent; the rest of the offer is declined without a filter. */
async function launch(fw: RawFramework, offer: Event, taskId: string, command: string, extra: object = {}): Promise<void> {
  const r = await fw.call({
    type: 'ACCEPT',
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: taskId, task_id: { value: taskId }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 0.1), scalarRes('mem', 32)], command: { value: command }, ...extra }] } }],
      filters: { refuse_seconds: 0 },
    },
  });
  if (r.status !== 202) throw new Error(`ACCEPT: ${r.status} ${r.body}`);
}

const update = (taskId: string, state: string) => (e: Event) => e.type === 'UPDATE' && e.update.status.task_id.value === taskId && e.update.status.state === state;

/** Declines every offer outstanding now (no filter), so the next round offers afresh. */
async function declineAll(fw: RawFramework, from = 0): Promise<void> {
  const rescinded = new Set(fw.events.filter((e) => e.type === 'RESCIND').map((e) => e.rescind.offer_id.value));
  const ids = fw.events.slice(from).filter((e) => e.type === 'OFFERS').flatMap((e) => e.offers.offers.map((o: Event) => o.id)).filter((id: Event) => !rescinded.has(id.value));
  if (ids.length) await fw.call({ type: 'DECLINE', decline: { offer_ids: ids, filters: { refuse_seconds: 0 } } });
}

test.serial('DRAIN_AGENT: offers stop, tasks get their grace (capped) and end TASK_KILLED, the agent becomes DRAINED; REACTIVATE brings offers back', async (t) => {
  const c = await startCluster({ agents: 2 });
  let fw: RawFramework | undefined;
  try {
    const [a, b] = await agentIds(c);
    fw = await subscribe(c.masterUrl);
    const offerA = (await fw.next((e) => offersOn(e, a).length > 0)).offers.offers.find((o: Event) => o.agent_id.value === a);
    // The task ignores SIGTERM (it records it) and asks for a minute of grace; the drain caps it at 3 s.
    await launch(fw, offerA, 'stubborn', "trap 'echo term > \"$MESOS_SANDBOX/got-term\"' TERM; touch \"$MESOS_SANDBOX/trap-set\"; while true; do sleep 0.1; done",
      { kill_policy: { grace_period: { nanoseconds: 60e9 } } });
    await fw.next(update('stubborn', 'TASK_RUNNING'));
    // What was left of A's offer comes back as a new offer, outstanding when the drain begins.
    await fw.next((e) => offersOn(e, a).length > 0, 20_000, fw.events.indexOf(fw.events.find((e) => offersOn(e, a).length > 0)!) + 1);

    // RUNNING means the process started, not that its shell has set the trap yet (slow under load).
    await waitFor(() => files(c.agents[0].workDir).some((p) => p.endsWith('/trap-set')), 20_000, 'the task to set its SIGTERM trap');
    const mark = fw.events.length;
    const drained = await op(c.masterUrl, { type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: a }, max_grace_period: { nanoseconds: 3e9 } } });
    t.is(drained.status, 200, drained.text);

    const killed = await fw.next(update('stubborn', 'TASK_KILLED'), 20_000, mark);
    t.is(killed.update.status.reason, 'REASON_SLAVE_DRAINING');
    t.true(files(c.agents[0].workDir).some((p) => p.endsWith('/got-term')), 'the task got SIGTERM and lived on until its capped grace ran out');

    // Every offer on A outstanding at the drain was rescinded, and none came after it.
    const outstandingA = fw.events.slice(0, mark).flatMap((e) => offersOn(e, a)).map((o) => o.id.value).filter((id) => id !== offerA.id.value);
    t.true(outstandingA.length > 0);
    const rescinded = new Set(fw.events.filter((e) => e.type === 'RESCIND').map((e) => e.rescind.offer_id.value));
    await declineAll(fw);
    const offerB = await fw.next((e) => offersOn(e, b).length > 0, 20_000, fw.events.length);
    t.truthy(offerB);
    t.deepEqual(fw.events.slice(mark).flatMap((e) => offersOn(e, a)), [], 'no new offers on the draining agent');
    for (const id of outstandingA) if (!rescinded.has(id)) t.fail(`offer ${id} on agent A was not rescinded`);

    await waitFor(async () => (await agentById(c.masterUrl, a))?.drain_info?.state === 'DRAINED', 20_000, 'agent A to be DRAINED');
    const view = (await agentById(c.masterUrl, a))!;
    t.deepEqual(view.drain_info, { state: 'DRAINED', config: { max_grace_period: { nanoseconds: 3e9 }, mark_gone: false } });
    t.is(view.deactivated, true);
    t.is(view.active, false);
    t.truthy(view.estimated_drain_start_time?.nanoseconds);
    t.is((await agentById(c.masterUrl, b))!.deactivated, false);

    const cli = await spillway(['agents', '--master', c.masterUrl]);
    t.regex(cli.stdout, /DRAINED/);

    const re = await spillway(['reactivate', a, '--master', c.masterUrl]);
    t.is(re.code, 0, re.stderr);
    const after = fw.events.length;
    await declineAll(fw);
    await fw.next((e) => offersOn(e, a).length > 0, 20_000, after);
    const back = (await agentById(c.masterUrl, a))!;
    t.is(back.deactivated, false);
    t.is(back.drain_info, undefined);
    t.is(back.active, true);
  } finally {
    fw?.close();
    await c.stop();
  }
});

test.serial('DEACTIVATE_AGENT keeps tasks running but stops offers; deactivation and drain state survive a master restart', async (t) => {
  const c = await startCluster({ agents: 2 });
  let fw: RawFramework | undefined;
  try {
    const [a, b] = await agentIds(c);
    fw = await subscribe(c.masterUrl);
    const offerA = (await fw.next((e) => offersOn(e, a).length > 0)).offers.offers.find((o: Event) => o.agent_id.value === a);
    await launch(fw, offerA, 'keeps-running', 'sleep 1000');
    await fw.next(update('keeps-running', 'TASK_RUNNING'));

    const cli = await spillway(['deactivate', a, '--master', c.masterUrl]);
    t.is(cli.code, 0, cli.stderr);
    // B has no tasks: draining it makes it DRAINED at once.
    const d = await op(c.masterUrl, { type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: b }, max_grace_period: { seconds: 5 } } });
    t.is(d.status, 200, d.text);
    t.is((await agentById(c.masterUrl, b))!.drain_info.state, 'DRAINED');
    t.deepEqual((await agentById(c.masterUrl, b))!.drain_info.config, { max_grace_period: { nanoseconds: 5e9 }, mark_gone: false });

    const fid = fw.frameworkId;
    fw.close();
    await c.kill(c.master);
    await c.startMaster();
    // Recovered agents are listed at once; re-registered ones carry a reregistered_time.
    await waitFor(async () => (await agents(c.masterUrl).catch(() => [])).filter((x) => x.reregistered_time).length === 2, 30_000, 'agents to re-register');
    const viewA = (await agentById(c.masterUrl, a))!;
    t.is(viewA.deactivated, true);
    t.is(viewA.active, false);
    t.is((await agentById(c.masterUrl, b))!.drain_info?.state, 'DRAINED');

    fw = await subscribe(c.masterUrl, fid);
    const tasks = (await op(c.masterUrl, { type: 'GET_TASKS' })).json.get_tasks.tasks as Event[];
    t.deepEqual(tasks.map((x) => [x.task_id.value, x.state]), [['keeps-running', 'TASK_RUNNING']]);
    // Neither agent is offered; reactivating A brings its offers back.
    const mark = fw.events.length;
    t.is((await op(c.masterUrl, { type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: a } } })).status, 200);
    await fw.next((e) => offersOn(e, a).length > 0, 20_000, mark);
    t.deepEqual(fw.events.flatMap((e) => offersOn(e, b)), [], 'the DRAINED agent is not offered');
  } finally {
    fw?.close();
    await c.stop();
  }
});

test.serial('DRAIN_AGENT with mark_gone: tasks end TASK_GONE_BY_OPERATOR, the agent is removed and may not register again', async (t) => {
  const c = await startCluster({ agents: 1 });
  let fw: RawFramework | undefined;
  try {
    const [a] = await agentIds(c);
    fw = await subscribe(c.masterUrl);
    const offer = (await fw.next((e) => offersOn(e, a).length > 0)).offers.offers[0];
    await launch(fw, offer, 'doomed', 'sleep 1000');
    await fw.next(update('doomed', 'TASK_RUNNING'));
    const cli = await spillway(['drain', a, '--grace', '1s', '--mark-gone', '--wait', '--master', c.masterUrl]);
    t.is(cli.code, 0, cli.stderr);
    t.regex(cli.stderr, /gone/);
    const gone = await fw.next(update('doomed', 'TASK_GONE_BY_OPERATOR'));
    t.is(gone.update.status.reason, 'REASON_SLAVE_DRAINING');
    await fw.next((e) => e.type === 'FAILURE' && e.failure.agent_id.value === a);
    t.deepEqual(await agents(c.masterUrl), []);
    // Marking it gone again is fine (idempotent); the agent may not subscribe again.
    t.is((await op(c.masterUrl, { type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: a } } })).status, 200);
    const again = await rawPost(c.masterUrl, '/api/v1/agent', JSON.stringify({
      type: 'SUBSCRIBE', subscribe: { agent_info: { id: { value: a }, hostname: '127.0.0.1', port: 1, resources: [] } },
    }), { 'Content-Type': 'application/json' });
    t.is(again.status, 403);
    t.regex(again.body, /marked gone/);
  } finally {
    fw?.close();
    await c.stop();
  }
});

test.serial('bad drain, deactivation and gone calls get Mesos\' status codes and change nothing', async (t) => {
  const m = await inProcessMaster();
  const agent = new SimulatedAgent({ master: m.url, resources: resources({ cpus: 2, mem: 1024 }), behaviour: 'run' });
  let fw: RawFramework | undefined;
  try {
    await agent.start();
    const id = agent.agentId!;
    // A task whose TASK_KILLED is never acknowledged keeps its agent DRAINING (Mesos waits for the ACK).
    fw = await subscribe(m.url, undefined, false);
    const offer = (await fw.next((e) => offersOn(e, id).length > 0)).offers.offers[0];
    await launch(fw, offer, 'unacked', 'sleep 1000');
    const running = (await fw.next(update('unacked', 'TASK_RUNNING'))).update.status;
    await fw.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: running.agent_id, task_id: running.task_id, uuid: running.uuid } });
    const before = await agents(m.url);

    const cases: [object, number, RegExp][] = [
      [{ type: 'DRAIN_AGENT' }, 400, /Expecting 'drain_agent' to be present/],
      [{ type: 'DRAIN_AGENT', drain_agent: {} }, 400, /drain_agent\.agent_id/],
      [{ type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: 'nope' } } }, 400, /Unknown agent/],
      [{ type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: id }, max_grace_period: { nanoseconds: -1 } } }, 400, /max_grace_period: must not be negative/],
      [{ type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: id }, max_grace_period: {} } }, 400, /max_grace_period: needs 'nanoseconds'/],
      [{ type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: id }, max_grace_period: { seconds: 'soon' } } }, 400, /max_grace_period\.seconds/],
      [{ type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: id }, mark_gone: 'yes' } }, 400, /drain_agent\.mark_gone/],
      [{ type: 'DEACTIVATE_AGENT' }, 400, /Expecting 'deactivate_agent' to be present/],
      [{ type: 'DEACTIVATE_AGENT', deactivate_agent: { agent_id: { value: 'nope' } } }, 400, /Unknown agent/],
      [{ type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: id } } }, 400, /Agent is not deactivated/],
      [{ type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: 'nope' } } }, 400, /Agent is not deactivated/],
      [{ type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: 'nope' } } }, 404, /not found/],
      [{ type: 'MARK_AGENT_GONE', mark_agent_gone: {} }, 400, /mark_agent_gone\.agent_id/],
    ];
    for (const [body, status, msg] of cases) {
      const r = await op(m.url, body);
      t.is(r.status, status, `${JSON.stringify(body)} → ${r.text}`);
      t.regex(r.text, msg);
    }
    t.deepEqual(stripVolatile(await agents(m.url)), stripVolatile(before), 'nothing changed');
    const redis = new Redis(m.redis.url);
    t.is(await redis.hlen('{spillway:default}:agent_drains'), 0);
    t.is(await redis.hlen('{spillway:default}:deactivated_agents'), 0);
    redis.disconnect();

    // While the agent is DRAINING (its TASK_KILLED is not acknowledged), REACTIVATE is refused.
    t.is((await op(m.url, { type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: id } } })).status, 200);
    await fw.next(update('unacked', 'TASK_KILLED'));
    const r = await op(m.url, { type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: id } } });
    t.is(r.status, 400);
    t.regex(r.text, /still in the DRAINING state/);
    t.is((await agentById(m.url, id))!.drain_info.state, 'DRAINING');

    // The CLI says what was wrong and exits 1.
    const bad = await spillway(['drain', id, '--grace', 'soon', '--master', m.url]);
    t.is(bad.code, 1);
    t.regex(bad.stderr, /--grace: 'soon' is not a duration/);
    const unknown = await spillway(['deactivate', 'nope', '--master', m.url]);
    t.is(unknown.code, 1);
    t.regex(unknown.stderr, /400: Unknown agent/);
  } finally {
    fw?.close();
    await agent.stop();
    await m.shutdown();
  }
});

/** Offered/allocated resources move with allocation rounds; the rest must not change. */
function stripVolatile(list: Event[]): Event[] {
  return list.map(({ offered_resources: _o, allocated_resources: _a, ...rest }) => rest);
}

/** Every file under `dir` (a task's sandbox lives under the agent's work dir). */
function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}
