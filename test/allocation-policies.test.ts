// Allocation policies through the real APIs: weights, quota, reservations, revocable resources,
// optimistic offers and per-role REVIVE/SUPPRESS — a real master on a real Redis with simulated
// agents speaking the agent protocol; frameworks speak raw Mesos v1 HTTP.
import test, { type ExecutionContext } from 'ava';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';

const offersEvent = (e: Event) => e.type === 'OFFERS' && e.offers.offers.length > 0;
const cpusOf = (o: Event) => o.resources.filter((r: Event) => r.name === 'cpus').reduce((s: number, r: Event) => s + r.scalar.value, 0);

async function op(m: InProcessMaster, body: object): Promise<{ status: number; json: Event; text: string }> {
  const res = await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: Event = {};
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

async function framework(m: InProcessMaster, info: object, extra: object = {}): Promise<RawFramework> {
  const fw = new RawFramework(m.url);
  const s = await fw.subscribe({ user: 'test', name: 'policy', failover_timeout: 60, ...info }, extra);
  if (s !== 200) throw new Error(`subscribe: ${s}`);
  return fw;
}

/** Accepts every offer that arrives, launching one task per offer that holds it all. */
function greedy(fw: RawFramework, prefix: string): { stop(): void } {
  let n = 0;
  let seen = 0;
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const ev = await fw.next(offersEvent, 60_000, seen).catch(() => undefined);
      if (!ev || stopped) return;
      seen = fw.events.indexOf(ev) + 1;
      for (const o of ev.offers.offers) {
        const res = o.resources.filter((r: Event) => r.name === 'cpus' || r.name === 'mem').map(({ allocation_info: _a, ...r }: Event) => r);
        await fw.call({ type: 'ACCEPT', accept: { offer_ids: [o.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 't', task_id: { value: `${prefix}-${n++}` }, agent_id: o.agent_id, resources: res, command: { value: 'sleep 1000' } }] } }], filters: { refuse_seconds: 0 } } });
      }
    }
  };
  loop().catch(() => { /* the master went away at the end of the test */ });
  return { stop: () => { stopped = true; } };
}

async function waitUntil(pred: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const roleAllocated = async (m: InProcessMaster, role: string): Promise<number> => {
  const r = (await op(m, { type: 'GET_ROLES' })).json.get_roles.roles.find((x: Event) => x.name === role);
  return r ? r.allocated.filter((x: Event) => x.name === 'cpus').reduce((s: number, x: Event) => s + x.scalar.value, 0) : 0;
};

test('roles weighted 1 and 3 split a contended cluster 25 / 75', async (t) => {
  const m = await inProcessMaster();
  const agents = Array.from({ length: 8 }, () => new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 1, mem: 256 }) }));
  t.teardown(async () => { for (const a of agents) a.stop(); await m.shutdown(); });
  t.is((await op(m, { type: 'UPDATE_WEIGHTS', update_weights: { weight_infos: [{ role: 'light', weight: 1 }, { role: 'heavy', weight: 3 }] } })).status, 200);
  const weights = (await op(m, { type: 'GET_WEIGHTS' })).json.get_weights.weight_infos;
  t.deepEqual(weights.sort((a: Event, b: Event) => a.role.localeCompare(b.role)), [{ role: 'heavy', weight: 3 }, { role: 'light', weight: 1 }]);
  const light = await framework(m, { name: 'light', roles: ['light'], capabilities: [{ type: 'MULTI_ROLE' }] });
  const heavy = await framework(m, { name: 'heavy', roles: ['heavy'], capabilities: [{ type: 'MULTI_ROLE' }] });
  const g1 = greedy(light, 'l');
  const g2 = greedy(heavy, 'h');
  t.teardown(() => { g1.stop(); g2.stop(); light.close(); heavy.close(); });
  // Both frameworks wait; then the machines arrive and are contended for.
  for (const a of agents) await a.start();
  await waitUntil(async () => (await roleAllocated(m, 'light')) + (await roleAllocated(m, 'heavy')) >= 8);
  t.is(await roleAllocated(m, 'light'), 2);
  t.is(await roleAllocated(m, 'heavy'), 6);
});

test('a quota guarantee is met under contention and a quota limit is never exceeded', async (t) => {
  const m = await inProcessMaster();
  const agents = Array.from({ length: 10 }, () => new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 1, mem: 256 }) }));
  t.teardown(async () => { for (const a of agents) a.stop(); await m.shutdown(); });
  await agents[0].start();
  t.is((await op(m, { type: 'UPDATE_QUOTA', update_quota: { force: true, quota_configs: [
    { role: 'prod', guarantees: { cpus: { value: 4 } } },
    { role: 'capped', limits: { cpus: { value: 3 } } },
  ] } })).status, 200);
  const quota = (await op(m, { type: 'GET_QUOTA' })).json.get_quota.status.configs;
  t.is(quota.length, 2);
  // A greedy framework arrives first: it may take only what the prod guarantee leaves.
  const hog = await framework(m, { name: 'hog', roles: ['*'] });
  const capped = await framework(m, { name: 'capped', roles: ['capped'] });
  const g1 = greedy(hog, 'hog');
  const g2 = greedy(capped, 'cap');
  for (const a of agents.slice(1)) await a.start();
  await waitUntil(async () => (await roleAllocated(m, '*')) + (await roleAllocated(m, 'capped')) >= 6);
  await new Promise((r) => setTimeout(r, 500));
  t.true((await roleAllocated(m, '*')) + (await roleAllocated(m, 'capped')) <= 6, '4 cpus are held back for prod');
  t.true((await roleAllocated(m, 'capped')) <= 3, 'the limit holds');
  t.true((await roleAllocated(m, 'capped')) >= 1, 'the capped role got its share');
  const prod = await framework(m, { name: 'prod', roles: ['prod'] });
  const g3 = greedy(prod, 'prod');
  t.teardown(() => { g1.stop(); g2.stop(); g3.stop(); hog.close(); capped.close(); prod.close(); });
  await waitUntil(async () => (await roleAllocated(m, 'prod')) >= 4);
  t.is(await roleAllocated(m, 'prod'), 4);
  const roles = (await op(m, { type: 'GET_ROLES' })).json.get_roles.roles as Event[];
  const capRole = roles.find((r) => r.name === 'capped')!;
  t.true((capRole.quota.consumed.cpus?.value ?? 0) <= 3);
  t.is(capRole.quota.limits.cpus.value, 3);
});

test('reserved resources are offered only to their role; RESERVE/UNRESERVE operator calls re-label them', async (t) => {
  const m = await inProcessMaster();
  const agent = new SimulatedAgent({
    master: m.url, behaviour: 'run',
    mesosResources: [
      scalarRes('cpus', 2), scalarRes('mem', 1024),
      { ...scalarRes('cpus', 3), reservations: [{ type: 'STATIC', role: 'analytics' }] },
      { ...scalarRes('mem', 512), reservations: [{ type: 'STATIC', role: 'analytics' }] },
    ],
  });
  t.teardown(async () => { agent.stop(); await m.shutdown(); });
  await agent.start();
  const other = await framework(m, { name: 'other', roles: ['*'] });
  const analytics = await framework(m, { name: 'analytics', roles: ['analytics/etl'] });
  t.teardown(() => { other.close(); analytics.close(); });
  const oOffer = (await other.next(offersEvent)).offers.offers[0];
  t.is(cpusOf(oOffer), 2, 'the * framework sees only unreserved cpus');
  t.false(oOffer.resources.some((r: Event) => r.reservations));
  const aOffer = (await analytics.next(offersEvent)).offers.offers[0];
  t.is(cpusOf(aOffer), 3, 'the reservation goes to a framework in a subrole of analytics, in the same round');
  t.true(aOffer.resources.every((r: Event) => r.reservations?.[0]?.role === 'analytics' && r.reservations[0].type === 'STATIC'));
  await other.call({ type: 'DECLINE', decline: { offer_ids: [oOffer.id], filters: { refuse_seconds: 3600 } } });
  const rest = (await analytics.nextNew(offersEvent)).offers.offers[0];
  t.is(cpusOf(rest), 2, 'the unreserved cpus the other framework declined come to analytics too');
  await analytics.call({ type: 'DECLINE', decline: { offer_ids: [aOffer.id, rest.id], filters: { refuse_seconds: 3600 } } });

  // Dynamic reservation by an operator: 1 more cpu for analytics, then back.
  const reserve = (cpus: number, role = 'analytics') => ({ agent_id: { value: agent.agentId }, resources: [{ ...scalarRes('cpus', cpus), reservations: [{ type: 'DYNAMIC', role, principal: 'ops' }] }] });
  t.is((await op(m, { type: 'RESERVE_RESOURCES', reserve_resources: reserve(1) })).status, 202);
  const agents = (await op(m, { type: 'GET_AGENTS' })).json.get_agents.agents;
  const dyn = agents[0].total_resources.find((r: Event) => r.reservations?.[0]?.type === 'DYNAMIC');
  t.is(dyn.scalar.value, 1);
  t.is(dyn.reservations[0].principal, 'ops');
  const roles = (await op(m, { type: 'GET_ROLES' })).json.get_roles.roles as Event[];
  t.is(roles.find((r) => r.name === 'analytics')!.reserved.find((r: Event) => r.name === 'cpus').scalar.value, 4);

  // Bad input: more than the agent has unreserved; already reserved to another role; not reserved.
  const tooMuch = await op(m, { type: 'RESERVE_RESOURCES', reserve_resources: reserve(50) });
  t.is(tooMuch.status, 400);
  t.regex(tooMuch.text, /has cpus:1;mem:1024 unreserved/);
  const otherRole = await op(m, { type: 'RESERVE_RESOURCES', reserve_resources: { agent_id: { value: agent.agentId }, resources: [{ ...scalarRes('cpus', 3), reservations: [{ type: 'DYNAMIC', role: 'sales' }] }] } });
  t.is(otherRole.status, 400);
  t.regex(otherRole.text, /already reserved/);
  const notReserved = await op(m, { type: 'UNRESERVE_RESOURCES', unreserve_resources: reserve(1, 'sales') });
  t.is(notReserved.status, 400);
  t.regex(notReserved.text, /not dynamically reserved/);
  const unknownAgent = await op(m, { type: 'RESERVE_RESOURCES', reserve_resources: { ...reserve(1), agent_id: { value: 'nope' } } });
  t.is(unknownAgent.status, 404);
  const after = (await op(m, { type: 'GET_AGENTS' })).json.get_agents.agents[0].total_resources;
  t.deepEqual(after, agents[0].total_resources, 'refused calls changed nothing');

  t.is((await op(m, { type: 'UNRESERVE_RESOURCES', unreserve_resources: reserve(1) })).status, 202);
  const back = (await op(m, { type: 'GET_AGENTS' })).json.get_agents.agents[0].total_resources;
  t.false(back.some((r: Event) => r.reservations?.[0]?.type === 'DYNAMIC'));
});

/** A master, one 4-cpu agent and a framework in role `db` (principal `db-principal`) holding its first offer. */
async function dbFrameworkWithOffer(t: ExecutionContext): Promise<{ m: InProcessMaster; agent: SimulatedAgent; fw: RawFramework; offer: Event }> {
  const m = await inProcessMaster();
  const agent = new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 4, mem: 1024 }) });
  t.teardown(async () => { agent.stop(); await m.shutdown(); });
  await agent.start();
  const fw = await framework(m, { name: 'db', roles: ['db'], principal: 'db-principal' });
  t.teardown(() => fw.close());
  return { m, agent, fw, offer: (await fw.next(offersEvent)).offers.offers[0] };
}

test('a framework RESERVEs from its offer and launches on the reservation; it survives a master restart', async (t) => {
  const { m, agent, fw, offer } = await dbFrameworkWithOffer(t);
  const reserved = [{ ...scalarRes('cpus', 2), reservations: [{ type: 'DYNAMIC', role: 'db', principal: 'db-principal' }] }];
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [
    { type: 'RESERVE', reserve: { resources: reserved } },
    { type: 'LAUNCH', launch: { task_infos: [{ name: 'db', task_id: { value: 'db-0' }, agent_id: offer.agent_id, resources: [...reserved, scalarRes('mem', 128)], command: { value: 'sleep 1000' } }] } },
  ], filters: { refuse_seconds: 0 } } });
  const running = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'db-0');
  t.is(running.update.status.state, 'TASK_RUNNING');
  const total = (await op(m, { type: 'GET_AGENTS' })).json.get_agents.agents[0].total_resources;
  t.true(total.some((r: Event) => r.name === 'cpus' && r.reservations?.[0]?.role === 'db'));

  // Restart the master on the same Redis: the reservation is still there.
  const { runMaster } = await import('../src/master/run-master.ts');
  const { silentLogger } = await import('../src/common/logger.ts');
  const port = Number(new URL(m.url).port);
  await m.stop();
  const m2 = await runMaster({ redisUrl: m.redis.url, host: '127.0.0.1', port, config: { allocationIntervalMs: 100, agentPingIntervalSeconds: 0.5 }, log: silentLogger });
  t.teardown(() => m2.stop());
  await m2.whenLeader(); // (at once when the old term released its lease; after it expires if not)
  agent.stop();
  await agent.start(); // re-subscribes with its id and its running task
  const again = (await op({ ...m, url: m2.url } as InProcessMaster, { type: 'GET_AGENTS' })).json.get_agents.agents[0].total_resources;
  t.true(again.some((r: Event) => r.name === 'cpus' && r.reservations?.[0]?.role === 'db' && r.scalar.value === 2));
  t.is(agent.agentId, (await op({ ...m, url: m2.url } as InProcessMaster, { type: 'GET_AGENTS' })).json.get_agents.agents[0].agent_info.id.value);
});

test('an invalid or unsupported operation in an ACCEPT is dropped as Mesos drops it: no ERROR event, the rest is done, the metric counts it', async (t) => {
  const { m, fw, offer } = await dbFrameworkWithOffer(t);
  const from = fw.events.length;
  const elsewhere = [{ ...scalarRes('cpus', 1), reservations: [{ type: 'DYNAMIC', role: 'elsewhere', principal: 'db-principal' }] }];
  const accepted = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [
    { type: 'RESERVE', reserve: { resources: elsewhere } },
    { type: 'CREATE', create: { volumes: [] } },
    { type: 'LAUNCH', launch: { task_infos: [{ name: 'web', task_id: { value: 'web-0' }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 1), scalarRes('mem', 128)], command: { value: 'sleep 1000' } }] } },
  ], filters: { refuse_seconds: 0 } } });
  t.is(accepted.status, 202);
  const running = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'web-0', 5000, from);
  t.is(running.update.status.state, 'TASK_RUNNING');
  // What the RESERVE would have reserved comes back unreserved, with the rest of the offer.
  const next = (await fw.next(offersEvent, 5000, from)).offers.offers[0];
  const cpus = next.resources.filter((r: Event) => r.name === 'cpus');
  t.deepEqual(cpus.map((r: Event) => [r.scalar.value, r.reservations ?? []]), [[3, []]]);
  t.false(fw.events.slice(from).some((e) => e.type === 'ERROR'), 'a Mesos scheduler aborts on ERROR');
  const metrics = await (await fetch(`${m.url}/metrics`)).text();
  t.regex(metrics, /^spillway_offer_operations_dropped_total\{type="RESERVE"\} 1$/m);
  t.regex(metrics, /^spillway_offer_operations_dropped_total\{type="CREATE"\} 1$/m);
});

test('revocable resources go only to REVOCABLE_RESOURCES frameworks and their tasks are preempted when slack shrinks', async (t) => {
  const m = await inProcessMaster();
  const agent = new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 2, mem: 512 }) });
  t.teardown(async () => { agent.stop(); await m.shutdown(); });
  await agent.start();
  const plain = await framework(m, { name: 'plain', roles: ['*'] });
  const rev = await framework(m, { name: 'rev', roles: ['*'], capabilities: [{ type: 'REVOCABLE_RESOURCES' }] });
  t.teardown(() => { plain.close(); rev.close(); });
  // Let both decline what they have so the next offers carry the slack.
  for (const fw of [plain, rev]) {
    const ev = await fw.next(offersEvent).catch(() => undefined);
    if (ev) await fw.call({ type: 'DECLINE', decline: { offer_ids: ev.offers.offers.map((o: Event) => o.id), filters: { refuse_seconds: 3600 } } });
  }
  const before = rev.events.length;
  await agent.reportSlack(resources({ cpus: 1.5, mem: 256 }));
  const revOffer = (await rev.next((e) => offersEvent(e) && e.offers.offers[0].resources.some((r: Event) => r.revocable), 20_000, before)).offers.offers[0];
  const revocable = revOffer.resources.filter((r: Event) => r.revocable);
  t.is(revocable.find((r: Event) => r.name === 'cpus').scalar.value, 1.5);
  await new Promise((r) => setTimeout(r, 300));
  t.false(plain.events.some((e) => e.type === 'OFFERS' && e.offers.offers.some((o: Event) => o.resources.some((r: Event) => r.revocable))), 'never to a framework without the capability');
  await rev.call({ type: 'ACCEPT', accept: { offer_ids: [revOffer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 'be', task_id: { value: 'best-effort' }, agent_id: revOffer.agent_id, resources: revocable.map(({ allocation_info: _a, ...r }: Event) => r), command: { value: 'sleep 1000' } }] } }] } });
  await rev.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'best-effort' && e.update.status.state === 'TASK_RUNNING');
  await agent.reportSlack(resources({ cpus: 0.5, mem: 256 }));
  const killed = await rev.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'best-effort' && e.update.status.state === 'TASK_KILLED');
  t.truthy(killed);
});

test('optimistic offers: frameworks racing for the same resources never get more than an agent has', async (t) => {
  const m = await inProcessMaster({ optimisticOffers: 3 });
  const agents = Array.from({ length: 3 }, () => new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 4, mem: 4096 }) }));
  t.teardown(async () => { for (const a of agents) a.stop(); await m.shutdown(); });
  for (const a of agents) await a.start();
  const fws = await Promise.all([0, 1, 2, 3].map((i) => framework(m, { name: `racer-${i}` })));
  t.teardown(() => { for (const f of fws) f.close(); });
  // Seeded pseudo-random task sizes; every framework accepts every offer it sees at once.
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let accepted = 0;
  await Promise.all(fws.map(async (fw, i) => {
    let seen = 0;
    let n = 0;
    for (let round = 0; round < 6; round++) {
      const ev = await fw.next(offersEvent, 3000, seen).catch(() => undefined);
      if (!ev) break;
      seen = fw.events.indexOf(ev) + 1;
      await Promise.all(ev.offers.offers.map((o: Event) => {
        const cpus = Math.round((0.5 + rand() * 2) * 10) / 10;
        accepted++;
        return fw.call({ type: 'ACCEPT', accept: { offer_ids: [o.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 'x', task_id: { value: `r${i}-${n++}` }, agent_id: o.agent_id, resources: [scalarRes('cpus', cpus), scalarRes('mem', 64)], command: { value: 'sleep 1000' } }] } }], filters: { refuse_seconds: 0 } } });
      }));
    }
  }));
  await new Promise((r) => setTimeout(r, 500));
  t.true(accepted > 3, 'frameworks did race');
  const tasks = (await op(m, { type: 'GET_TASKS' })).json.get_tasks.tasks as Event[];
  const perAgent = new Map<string, number>();
  for (const task of tasks) {
    const c = task.resources.find((r: Event) => r.name === 'cpus').scalar.value;
    perAgent.set(task.agent_id.value, (perAgent.get(task.agent_id.value) ?? 0) + c);
  }
  for (const [, used] of perAgent) t.true(used <= 4 + 1e-9, `an agent holds ${used} cpus of 4`);
  const losers = fws.flatMap((f) => f.events).filter((e) => e.type === 'UPDATE' && e.update.status.reason === 'REASON_INVALID_OFFERS').length;
  const rescinds = fws.flatMap((f) => f.events).filter((e) => e.type === 'RESCIND').length;
  t.true(tasks.length > 0);
  t.true(losers + rescinds > 0, 'some racers lost and were told so');
});

test('REVIVE and SUPPRESS per role for a MULTI_ROLE framework', async (t) => {
  const m = await inProcessMaster();
  const agents = [new SimulatedAgent({ master: m.url, behaviour: 'run', resources: resources({ cpus: 1, mem: 256 }) })];
  t.teardown(async () => { for (const a of agents) a.stop(); await m.shutdown(); });
  for (const a of agents) await a.start();
  const fw = await framework(m, { roles: ['a', 'b'], capabilities: [{ type: 'MULTI_ROLE' }], name: 'multi' }, { subscribe: { framework_info: { user: 'test', name: 'multi', failover_timeout: 60, roles: ['a', 'b'], capabilities: [{ type: 'MULTI_ROLE' }] }, suppressed_roles: ['a'] } });
  t.teardown(() => fw.close());
  const bad = await fw.call({ type: 'SUPPRESS', suppress: { roles: ['zzz'] } });
  t.is(bad.status, 400);
  t.regex(bad.body, /not one of the framework's roles/);
  const first = (await fw.next(offersEvent)).offers.offers[0];
  t.is(first.allocation_info.role, 'b', 'offers come only for the role that is not suppressed');
  t.is((await fw.call({ type: 'SUPPRESS', suppress: { roles: ['b'] } })).status, 202);
  t.is((await fw.call({ type: 'REVIVE', revive: { roles: ['a'] } })).status, 202);
  await fw.call({ type: 'DECLINE', decline: { offer_ids: [first.id], filters: { refuse_seconds: 0 } } });
  const next = (await fw.nextNew(offersEvent)).offers.offers[0];
  t.is(next.allocation_info.role, 'a', 'after REVIVE a / SUPPRESS b the offers switch roles');
});

test('bad policy input gets 400 naming the field and changes nothing', async (t) => {
  const m = await inProcessMaster();
  t.teardown(() => m.shutdown());
  const weights = async (w: unknown, role = 'r') => op(m, { type: 'UPDATE_WEIGHTS', update_weights: { weight_infos: [{ role, weight: w }] } });
  for (const w of [0, -1]) {
    const r = await weights(w);
    t.is(r.status, 400, `weight ${w}`);
    t.regex(r.text, /weight_infos\[0\]\.weight: must be a number > 0/);
  }
  const nan = await weights('heavy');
  t.is(nan.status, 400);
  t.regex(nan.text, /weight/);
  for (const role of ['', '.', '..', 'has space', '/lead', '-dash']) {
    const r = await weights(2, role);
    t.is(r.status, 400, `role '${role}'`);
    t.regex(r.text, /role/);
    const s = new RawFramework(m.url);
    t.is(await s.subscribe({ user: 'u', name: 'n', roles: [role] }), 400, `subscribe with role '${role}'`);
  }
  const below = await op(m, { type: 'UPDATE_QUOTA', update_quota: { quota_configs: [{ role: 'q', guarantees: { cpus: { value: 4 } }, limits: { cpus: { value: 2 } } }] } });
  t.is(below.status, 400);
  t.regex(below.text, /limit cpus:2 is below the guarantee cpus:4/);
  const star = await op(m, { type: 'UPDATE_QUOTA', update_quota: { quota_configs: [{ role: '*', limits: { cpus: { value: 2 } } }] } });
  t.is(star.status, 400);
  const tooBig = await op(m, { type: 'UPDATE_QUOTA', update_quota: { quota_configs: [{ role: 'q', guarantees: { cpus: { value: 4 } } }] } });
  t.is(tooBig.status, 409, 'guarantees beyond the cluster fail the capacity check');
  const forced = await op(m, { type: 'UPDATE_QUOTA', update_quota: { force: true, quota_configs: [{ role: 'q', guarantees: { cpus: { value: 4 } } }] } });
  t.is(forced.status, 200);
  t.deepEqual((await op(m, { type: 'GET_WEIGHTS' })).json.get_weights.weight_infos, [], 'no weight was stored');
  t.deepEqual((await op(m, { type: 'GET_QUOTA' })).json.get_quota.status.configs.map((c: Event) => c.role), ['q']);
  const missing = await op(m, { type: 'UPDATE_QUOTA' });
  t.is(missing.status, 400);
  t.regex(missing.text, /update_quota/);
});
