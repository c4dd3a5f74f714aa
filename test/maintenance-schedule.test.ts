// Mesos maintenance primitives end to end: a schedule puts a machine in DRAINING mode (offers carry
// its unavailability, frameworks with tasks there get inverse offers and their answers are
// recorded), START_MAINTENANCE takes it DOWN (its agent removed, tasks TASK_LOST, kept out),
// STOP_MAINTENANCE brings it back. Real master and agent processes on two loopback addresses,
// frameworks speaking raw Mesos v1 HTTP, state surviving a master restart.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startCluster, waitFor, type Cluster } from './helpers/cluster.ts';
import { RawFramework, rawPost, scalarRes, type Event } from './helpers/raw-framework.ts';
import { spillway } from './helpers/run-process.ts';
import { tempDir } from './helpers/redis.ts';
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
const offersOn = (ev: Event, agentId: string): Event[] => (ev.type === 'OFFERS' ? ev.offers.offers.filter((o: Event) => o.agent_id.value === agentId) : []);
const status = async (url: string): Promise<Event> => (await op(url, { type: 'GET_MAINTENANCE_STATUS' })).json.get_maintenance_status.status;
const schedule = async (url: string): Promise<Event> => (await op(url, { type: 'GET_MAINTENANCE_SCHEDULE' })).json.get_maintenance_schedule.schedule;
const update = (taskId: string, state: string) => (e: Event) => e.type === 'UPDATE' && e.update.status.task_id.value === taskId && e.update.status.state === state;
const inverseOn = (agentId: string) => (e: Event) => e.type === 'INVERSE_OFFERS' && e.inverse_offers.inverse_offers.some((io: Event) => io.agent_id.value === agentId);

async function subscribe(url: string, name: string, id?: string): Promise<RawFramework> {
  const fw = new RawFramework(url);
  const s = await fw.subscribe({ user: 'test', name, failover_timeout: 120, ...(id ? { id: { value: id } } : {}) }, id ? { framework_id: { value: id } } : {});
  if (s !== 200) throw new Error(`subscribe: ${s}`);
  return fw;
}

async function launch(fw: RawFramework, offer: Event, taskId: string): Promise<void> {
  const r = await fw.call({
    type: 'ACCEPT',
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: taskId, task_id: { value: taskId }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 0.1), scalarRes('mem', 32)], command: { value: 'sleep 1000' } }] } }],
      filters: { refuse_seconds: 0 },
    },
  });
  if (r.status !== 202) throw new Error(`ACCEPT: ${r.status} ${r.body}`);
}

async function agentOnHost(c: Cluster, host: string): Promise<string> {
  let id = '';
  await waitFor(async () => {
    id = (await agents(c.masterUrl)).find((a) => a.agent_info.hostname === host)?.agent_info.id.value ?? '';
    return id !== '';
  }, 30_000, `an agent on ${host}`);
  return id;
}

test.serial('a scheduled machine: offers carry its unavailability, inverse offers go to the framework running there, answers are recorded and survive a restart; START/STOP_MAINTENANCE take it DOWN and back UP', async (t) => {
  const c = await startCluster({ agents: 2, agentArgs: (i) => (i === 1 ? ['--hostname', '127.0.0.2'] : []) });
  const fws: RawFramework[] = [];
  try {
    const a = await agentOnHost(c, '127.0.0.1');
    const b = await agentOnHost(c, '127.0.0.2');
    const busy = await subscribe(c.masterUrl, 'busy');
    const idle = await subscribe(c.masterUrl, 'idle');
    fws.push(busy, idle);
    const offerB = (await busy.next((e) => offersOn(e, b).length > 0)).offers.offers.find((o: Event) => o.agent_id.value === b);
    await launch(busy, offerB, 'on-b');
    await busy.next(update('on-b', 'TASK_RUNNING'));

    const startMs = Date.now() + 3600_000;
    const startNs = startMs * 1e6;
    const file = join(tempDir(), 'schedule.yaml');
    writeFileSync(file, `# b's machine goes away for two hours, an hour from now\nwindows:\n  - machine_ids: [{ ip: 127.0.0.2 }]\n    unavailability:\n      start: ${new Date(startMs).toISOString()}\n      duration: 2h\n`);
    const mark = { busy: busy.events.length, idle: idle.events.length };
    const set = await spillway(['maintenance', 'schedule', 'set', file, '--master', c.masterUrl]);
    t.is(set.code, 0, set.stderr);
    const windows = (await schedule(c.masterUrl)).windows;
    t.deepEqual(windows, [{ machine_ids: [{ ip: '127.0.0.2' }], unavailability: { start: { nanoseconds: startNs }, duration: { nanoseconds: 7200e9 } } }]);

    // The framework with a task on the machine is asked for it back; the other one is not.
    const io = (await busy.next(inverseOn(b), 20_000, mark.busy)).inverse_offers.inverse_offers[0];
    t.is(io.agent_id.value, b);
    t.is(io.framework_id.value, busy.frameworkId);
    t.deepEqual(io.unavailability, windows[0].unavailability);
    t.deepEqual(io.resources, []);
    // New offers on b say when it goes away; offers on a do not.
    const offer = (await idle.next((e) => offersOn(e, b).length > 0, 20_000, mark.idle)).offers.offers.find((o: Event) => o.agent_id.value === b);
    t.deepEqual(offer.unavailability, windows[0].unavailability);
    t.true(idle.events.flatMap((e) => offersOn(e, a)).every((o) => o.unavailability === undefined));
    t.false(idle.events.some(inverseOn(b)), 'no inverse offers for a framework without tasks there');
    t.is((await op(c.masterUrl, { type: 'GET_FRAMEWORKS' })).json.get_frameworks.frameworks.find((f: Event) => f.framework_info.id.value === busy.frameworkId).inverse_offers[0].id.value, io.id.value);

    // DECLINE is recorded; without a filter the inverse offer comes again, and ACCEPT replaces the answer.
    t.is((await busy.call({ type: 'DECLINE_INVERSE_OFFERS', decline_inverse_offers: { inverse_offer_ids: [io.id], filters: { refuse_seconds: 0 } } })).status, 202);
    let s = await status(c.masterUrl);
    t.deepEqual(s.draining_machines.map((d: Event) => [d.id, d.statuses.map((x: Event) => [x.status, x.framework_id.value])]), [[{ ip: '127.0.0.2' }, [['DECLINE', busy.frameworkId]]]]);
    const again = (await busy.next((e) => inverseOn(b)(e) && e.inverse_offers.inverse_offers[0].id.value !== io.id.value, 20_000, mark.busy)).inverse_offers.inverse_offers[0];
    t.is((await busy.call({ type: 'ACCEPT_INVERSE_OFFERS', accept_inverse_offers: { inverse_offer_ids: [again.id], filters: { refuse_seconds: 3600 } } })).status, 202);
    s = await status(c.masterUrl);
    t.deepEqual(s.draining_machines[0].statuses.map((x: Event) => x.status), ['ACCEPT']);
    t.truthy(s.draining_machines[0].statuses[0].timestamp.nanoseconds);

    // The schedule, the machine's mode and the answer survive a master restart.
    for (const f of fws) f.close();
    fws.length = 0;
    await c.kill(c.master);
    await c.startMaster();
    t.deepEqual((await schedule(c.masterUrl)).windows, windows);
    s = await status(c.masterUrl);
    t.deepEqual(s.draining_machines[0].statuses.map((x: Event) => [x.status, x.framework_id.value]), [['ACCEPT', busy.frameworkId]]);
    const cli = await spillway(['maintenance', 'status', '--master', c.masterUrl]);
    t.regex(cli.stdout, /127\.0\.0\.2 .*DRAINING.*ACCEPT/);

    await waitFor(async () => (await agents(c.masterUrl)).filter((x) => x.reregistered_time).length === 2, 30_000, 'agents to re-register');
    const back = await subscribe(c.masterUrl, 'busy', busy.frameworkId);
    fws.push(back);
    const down = await spillway(['maintenance', 'start', '127.0.0.2', '--master', c.masterUrl]);
    t.is(down.code, 0, down.stderr);
    const lost = await back.next(update('on-b', 'TASK_LOST'));
    t.is(lost.update.status.reason, 'REASON_SLAVE_REMOVED');
    await back.next((e) => e.type === 'FAILURE' && e.failure.agent_id.value === b);
    t.deepEqual((await agents(c.masterUrl)).map((x) => x.agent_info.id.value), [a]);
    s = await status(c.masterUrl);
    t.deepEqual(s, { draining_machines: [], down_machines: [{ ip: '127.0.0.2' }] });
    // While the machine is DOWN no agent from it may register.
    const refused = await rawPost(c.masterUrl, '/api/v1/agent', JSON.stringify({ type: 'SUBSCRIBE', subscribe: { agent_info: { hostname: '127.0.0.2', port: 1, resources: [] } } }), { 'Content-Type': 'application/json' });
    t.is(refused.status, 403);
    t.regex(refused.body, /DOWN for maintenance/);

    const beforeUp = back.events.length;
    const up = await spillway(['maintenance', 'stop', '127.0.0.2', '--master', c.masterUrl]);
    t.is(up.code, 0, up.stderr);
    t.deepEqual(await schedule(c.masterUrl), { windows: [] });
    t.deepEqual(await status(c.masterUrl), { draining_machines: [], down_machines: [] });
    // Its agent comes back (it kept retrying) and is offered again, with no unavailability.
    await agentOnHost(c, '127.0.0.2');
    const fresh = (await back.next((e) => offersOn(e, b).length > 0, 60_000, beforeUp)).offers.offers.find((o: Event) => o.agent_id.value === b);
    t.is(fresh.unavailability, undefined);
  } finally {
    for (const f of fws) f.close();
    await c.stop();
  }
});

test.serial('bad schedules and machine lists get Mesos\' 400s and change nothing', async (t) => {
  const m = await inProcessMaster();
  const agent = new SimulatedAgent({ master: m.url, hostname: '127.0.0.9', resources: resources({ cpus: 2, mem: 1024 }) });
  try {
    await agent.start();
    const id = agent.agentId!;
    const start = { nanoseconds: Date.now() * 1e6 };
    const win = (machine_ids: object[], unavailability: object = { start }) => ({ machine_ids, unavailability });
    const setSchedule = (windows: object[]) => op(m.url, { type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows } } });
    t.is((await setSchedule([win([{ ip: '127.0.0.9' }]), win([{ hostname: 'other' }])])).status, 200);
    t.is((await op(m.url, { type: 'START_MAINTENANCE', start_maintenance: { machines: [{ hostname: 'other' }] } })).status, 200);
    const before = await schedule(m.url);
    const beforeStatus = await status(m.url);

    const cases: [object, RegExp][] = [
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE' }, /Expecting 'update_maintenance_schedule' to be present/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: {} }, /update_maintenance_schedule\.schedule/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [{ machine_ids: [{ ip: '127.0.0.9' }] }] } } }, /unavailability/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [win([{ ip: '127.0.0.9' }], { start: { nanoseconds: 'soon' } })] } } }, /nanoseconds/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [win([]), win([{ hostname: 'other' }])] } } }, /List of machines in the maintenance window is empty/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [win([{}]), win([{ hostname: 'other' }])] } } }, /Both 'hostname' and 'ip' for a machine are empty/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [win([{ ip: '999.0.0.1' }]), win([{ hostname: 'other' }])] } } }, /not a valid IPv4 address/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [win([{ hostname: 'Other' }]), win([{ hostname: 'other' }])] } } }, /appears more than once in the schedule/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [win([{ hostname: 'other' }], { start, duration: { nanoseconds: -1 } })] } } }, /Unavailability 'duration' is negative/],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [win([{ ip: '127.0.0.9' }])] } } }, /Machine '\{"hostname":"other"\}' is deactivated and cannot be removed from the schedule/],
      [{ type: 'START_MAINTENANCE', start_maintenance: { machines: [] } }, /List of machines is empty/],
      [{ type: 'START_MAINTENANCE', start_maintenance: { machines: [{ hostname: 'nowhere' }] } }, /Machine '\{"hostname":"nowhere"\}' is not part of a maintenance schedule/],
      [{ type: 'START_MAINTENANCE', start_maintenance: { machines: [{ hostname: 'other' }] } }, /is not in DRAINING mode and cannot be brought down/],
      [{ type: 'START_MAINTENANCE', start_maintenance: { machines: [{ ip: '127.0.0.9' }, { ip: '127.0.0.9' }] } }, /appears more than once/],
      [{ type: 'STOP_MAINTENANCE', stop_maintenance: { machines: [{ ip: '127.0.0.9' }] } }, /is not in DOWN mode and cannot be brought up/],
      [{ type: 'STOP_MAINTENANCE' }, /Expecting 'stop_maintenance' to be present/],
      [{ type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: id } } }, /is part of a maintenance schedule under Machine \{"ip":"127.0.0.9"\}/],
    ];
    for (const [body, msg] of cases) {
      const r = await op(m.url, body);
      t.is(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
      t.regex(r.text, msg);
    }
    t.deepEqual(await schedule(m.url), before, 'the schedule did not change');
    t.deepEqual(await status(m.url), beforeStatus, 'no machine changed mode');
    const redis = new Redis(m.redis.url);
    t.deepEqual((await redis.hkeys('{spillway:default}:machines')).sort(), ['other|', '|127.0.0.9']);
    t.is(await redis.hlen('{spillway:default}:agent_drains'), 0);
    redis.disconnect();

    // An answer to an inverse offer that does not exist is ignored (202, nothing recorded).
    const fw = new RawFramework(m.url);
    await fw.subscribe({ user: 'test', name: 'ghost' });
    t.is((await fw.call({ type: 'ACCEPT_INVERSE_OFFERS', accept_inverse_offers: { inverse_offer_ids: [{ value: 'no-such' }] } })).status, 202);
    t.deepEqual(await status(m.url), beforeStatus);
    fw.close();

    // The CLI names the file, line and field of a bad schedule file, and unknown machines; exit 1.
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), 'windows:\n  - machine_ids: [{ hostname: a }]\n    unavailability:\n      start: next tuesday\n');
    const bad = await spillway(['maintenance', 'schedule', 'set', join(dir, 'bad.yaml'), '--master', m.url]);
    t.is(bad.code, 1);
    t.regex(bad.stderr, /bad\.yaml:4: windows\.0\.unavailability\.start: 'next tuesday' is not a date/);
    const unknown = await spillway(['maintenance', 'start', 'nowhere', '--master', m.url]);
    t.is(unknown.code, 1);
    t.regex(unknown.stderr, /'nowhere' is not a machine in the maintenance schedule/);
    t.deepEqual(await schedule(m.url), before);
  } finally {
    await agent.stop();
    await m.shutdown();
  }
});
