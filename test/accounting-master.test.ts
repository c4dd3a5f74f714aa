// Accounting against a real master on a real Redis with simulated agents and a Mesos framework,
// on an injected clock: samples land in Redis once per agent and interval, a master restart leaves
// no gap and counts nothing twice, a second sampler over the same intervals changes nothing, and
// reports (API and CLI) add up to what was used — with bad input refused, naming accepted values.
import test from 'ava';
import { Redis } from 'ioredis';
import { parse } from 'csv-parse/sync';
import { ManualClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/common/logger.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { freePort, type RedisProcess } from '../src/up/redis-process.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';
import { Accounting } from '../src/accounting/accounting.ts';
import { masterSource } from '../src/accounting/master-source.ts';
import { keyPrefix } from '../src/store/redis-store.ts';
import type { Report } from '../src/accounting/report-engine.ts';
import type { Summary } from '../src/accounting/summary.ts';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { testRedis } from './helpers/redis.ts';
import { spillway } from './helpers/run-process.ts';
import { FAST_MASTER } from './helpers/in-process.ts';

const HOUR = 3_600_000;
const MIN = 60_000;
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
const clock = new ManualClock(T0);
const close = (t: { true(v: boolean, m?: string): void }, actual: number, expected: number, what: string): void => {
  t.true(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} ≠ ${expected}`);
};

const POLICY = {
  pools: [
    { name: 'rack', provider: 'static', ownership: 'owned', max: 1, costPerHour: 0.5, static: { powerOn: 'true', machines: [{ name: 'm1', address: '10.0.0.1', cpus: 8, mem: 16384 }] } },
    { name: 'cloud', provider: 'aws-ec2', ownership: 'rented', max: 4, aws: { region: 'eu-west-1', amiId: 'ami-1' }, instanceTypes: [{ name: 'm5.xlarge', cpus: 4, mem: 8192, price: 0.2 }] },
  ],
  budget: { perHour: 5, currency: 'EUR' },
};

let redis: RedisProcess;
let port: number;
let master: RunningMaster;
let url: string;
let rack: SimulatedAgent;
let cloud: SimulatedAgent;
let fw: RawFramework;

function start(): Promise<RunningMaster> {
  return runMaster({
    redisUrl: redis.url, host: '127.0.0.1', port, log: silentLogger, clock, accounting: { intervalSeconds: 60 },
    // Pings and recovery measured in hours of the manual clock, so moving it never loses anyone.
    config: { ...FAST_MASTER, agentPingIntervalSeconds: 3600, frameworkRecoverySeconds: 86_400 },
  });
}

const get = async (path: string): Promise<{ status: number; text: string; json: () => any }> => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${url}${path}`);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
};

const iso = (t: number): string => new Date(t).toISOString();
const windowQ = (from: number, to: number): string => `from=${iso(from)}&to=${iso(to)}`;

test.before(async () => {
  redis = await testRedis();
  port = await freePort();
  master = await start();
  url = master.url;
  const applied = await fetch(`${url}/v1/policies`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(POLICY) });
  if (applied.status !== 201) throw new Error(`policy: ${applied.status} ${await applied.text()}`);
  rack = new SimulatedAgent({ master: url, hostname: '10.0.0.1', behaviour: 'run', resources: resources({ cpus: 8, mem: 16384 }) });
  cloud = new SimulatedAgent({
    master: url, hostname: 'ip-10-1-0-5', behaviour: 'run', resources: resources({ cpus: 4, mem: 8192 }),
    attributes: [{ name: 'pool', type: 'TEXT', text: { value: 'cloud' } }, { name: 'instance', type: 'TEXT', text: { value: 'i-0abc' } }, { name: 'zone', type: 'TEXT', text: { value: 'eu-west-1b' } }],
  });
  await rack.start();
  await cloud.start();
});

test.after.always(async () => {
  fw?.close();
  rack?.stop();
  cloud?.stop();
  await master?.stop();
  await redis?.stop();
});

async function sampleCount(): Promise<Map<string, number>> {
  const c = new Redis(redis.url);
  const prefix = keyPrefix('default');
  const counts = new Map<string, number>();
  for (let h = T0; h < T0 + 3 * HOUR; h += HOUR) {
    for (const field of await c.hkeys(`${prefix}acct:s:${h}`)) {
      const agent = field.split('@')[0];
      counts.set(agent, (counts.get(agent) ?? 0) + 1);
    }
  }
  await c.quit();
  return counts;
}

test.serial('samples every agent every interval; demand waits and the agent-measured use are recorded', async (t) => {
  fw = new RawFramework(url);
  t.is(await fw.subscribe({ user: 'u', name: 'etl', roles: ['analytics'], capabilities: [{ type: 'MULTI_ROLE' }], failover_timeout: 86_400 }), 200);
  const req = await fw.call({ type: 'REQUEST', request: { requests: [{ resources: [scalarRes('cpus', 2), scalarRes('mem', 4096)], count: 1 }] } });
  t.is(req.status, 202);
  clock.advance(2 * MIN);
  await master.accounting!.sampler.tick(); // the two minutes without the task
  const offers = await fw.next((e: Event) => e.type === 'OFFERS' && e.offers.offers.some((o: Event) => o.agent_id.value === cloud.agentId));
  const offer = offers.offers.offers.find((o: Event) => o.agent_id.value === cloud.agentId);
  const res = [scalarRes('cpus', 2), scalarRes('mem', 4096)].map((r) => ({ ...r, allocation_info: { role: 'analytics' } }));
  const accepted = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 't', task_id: { value: 'etl-1' }, agent_id: offer.agent_id, resources: res, command: { value: 'sleep 1000' } }] } }], filters: { refuse_seconds: 0 } } });
  t.is(accepted.status, 202, accepted.body);
  await fw.next((e: Event) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');
  await cloud.reportSlack(resources({ cpus: 1, mem: 2048 })); // the agent measured 1 cpu and 2 GB unused
  clock.advance(58 * MIN);
  const r = await master.accounting!.sampler.tick();
  t.true(r.intervals <= 60);
  const counts = await sampleCount();
  t.is(counts.get(rack.agentId!), 60, 'one sample per minute for the rack machine');
  t.is(counts.get(cloud.agentId!), 60, 'one sample per minute for the cloud machine');

  const report = (await get(`/v1/reports?${windowQ(T0, T0 + HOUR)}&by=ownership`)).json() as Report;
  t.is(report.currency, 'EUR');
  const by = Object.fromEntries(report.groups.map((g) => [g.key.ownership, g]));
  close(t, by.owned.cost, 0.5, 'the rack machine: 0.5 EUR/h');
  close(t, by.rented.cost, 0.2, 'the cloud machine: 0.2 EUR/h');
  // 2 of 4 cpus and 4 of 8 GB held from minute 2: half the machine for 58 minutes.
  close(t, by.rented.allocatedCost, 0.1 * 58 / 60, 'rented allocated cost');
  close(t, by.rented.allocated.cpu, 2 * 58 / 60, 'rented allocated core-hours');
  close(t, by.rented.used.cpu, 1 * 58 / 60, 'used = allocated − the slack the agent measured');
  t.deepEqual(report.warnings, []);

  const summary = (await get(`/v1/reports/summary?${windowQ(T0, T0 + HOUR)}`)).json() as Summary;
  t.like(summary.demandWait, { units: 1, p50Seconds: 120, maxSeconds: 120 });
  t.deepEqual(summary.rentedSpendByRole.map((x) => x.name), ['analytics']);
});

test.serial('a master restart leaves no gap and counts no interval twice', async (t) => {
  clock.advance(30_000);
  await master.stop(); // mid-interval: the sampler's cursor in Redis says where it stopped
  rack.stop();
  cloud.stop();
  master = await start();
  t.is(master.url, url);
  await rack.start();
  await cloud.start(); // re-registers with its running task
  clock.advance(HOUR - 30_000);
  await master.accounting!.sampler.tick();
  const counts = await sampleCount();
  t.is(counts.get(rack.agentId!), 120, 'two hours, one sample per minute, none missing or doubled');
  t.is(counts.get(cloud.agentId!), 120);
  const report = (await get(`/v1/reports?${windowQ(T0, T0 + 2 * HOUR)}&by=ownership`)).json() as Report;
  const by = Object.fromEntries(report.groups.map((g) => [g.key.ownership, g]));
  close(t, by.owned.cost, 1.0, 'rack over two hours');
  close(t, by.rented.cost, 0.4, 'cloud over two hours');
  close(t, by.rented.allocatedCost, 0.1 * 118 / 60, 'the task kept running across the restart');
});

test.serial('a second sampler over the same intervals (two masters) writes nothing new', async (t) => {
  const conn = new Redis(redis.url);
  t.teardown(() => conn.quit().then(() => undefined));
  const other = new Accounting({
    redis: conn, prefix: keyPrefix('default'), source: masterSource(master.master), clock, policy: async () => undefined,
    openDemand: () => [], log: silentLogger,
  }, { intervalSeconds: 60, retentionMs: 90 * 24 * HOUR, sampleRetentionMs: 48 * HOUR, backfillLimitMs: 6 * HOUR });
  await conn.set(`${keyPrefix('default')}acct:cursor`, String(T0 + HOUR)); // it believes it last sampled an hour ago
  const r = await other.sampler.tick();
  t.is(r.samples, 120, 'it sampled the last hour of both agents again…');
  t.is(r.written, 0, '…and none of it was written');
  await master.accounting!.sampler.tick();
  const before = (await get(`/v1/reports?${windowQ(T0, T0 + 2 * HOUR)}`)).json() as Report;
  close(t, before.total.cost, 1.4, 'totals unchanged');
  // Rolling up by both, and again, changes nothing either.
  await other.sampler.roll(T0 + 3 * HOUR);
  t.is(await other.sampler.roll(T0 + 3 * HOUR), 0, 'nothing left to roll');
  close(t, ((await get(`/v1/reports?${windowQ(T0, T0 + 2 * HOUR)}`)).json() as Report).total.cost, 1.4, 'totals unchanged after rolling up');
});

test.serial('reports: whole hours from rollups equal the samples, CSV BilledCost adds up, table and JSON agree', async (t) => {
  clock.advance(5 * MIN);
  await master.accounting!.sampler.tick(); // hour 2 is closed now and rolled up
  const pending = await master.accounting!.store.pendingHours();
  t.false(pending.some((p) => p.hour < T0 + 2 * HOUR), 'the first two hours are rolled up');
  const q = `${windowQ(T0, T0 + 2 * HOUR)}&by=pool,hour`;
  const json = (await get(`/v1/reports?${q}`)).json() as Report;
  close(t, json.total.cost, 1.4, 'from rollups');
  const edge = (await get(`/v1/reports?${windowQ(T0 + 30 * MIN, T0 + 90 * MIN)}&by=pool`)).json() as Report;
  close(t, edge.total.cost, 0.7, 'an hour made of two half hours, read from the samples');
  const csv = await get(`/v1/reports?${q}&format=csv`);
  t.is(csv.status, 200);
  const rows = parse(csv.text, { columns: true }) as Record<string, string>[];
  close(t, rows.reduce((a, r) => a + Number(r.BilledCost), 0), json.total.cost, 'CSV BilledCost = table total');
  for (const g of json.groups) {
    const start = g.key.hour!.replace(':00Z', ':00:00Z');
    close(t, rows.filter((r) => r.x_Pool === g.key.pool && r.ChargePeriodStart === start).reduce((a, r) => a + Number(r.BilledCost), 0), g.cost, `${g.key.pool} ${g.key.hour}`);
  }
  t.true(rows.some((r) => r.ResourceId === 'i-0abc' && r.AvailabilityZone === 'eu-west-1b' && r.x_Role === 'analytics' && r.x_FrameworkName === 'etl'));
  const table = await get(`/v1/reports?${q}&format=table`);
  t.regex(table.text, /│ rack\s+│ \d{4}-\d\d-\d\dT\d\d:00Z │/);
  t.regex(table.text, /│ total /);

  const w = ['--master', url, '--from', iso(T0), '--to', iso(T0 + 2 * HOUR)];
  const [cli, cliCsv, cliSummary] = await Promise.all([
    spillway(['report', ...w, '--by', 'ownership', '--json']), spillway(['report', ...w, '--format', 'csv']), spillway(['report', 'summary', ...w]),
  ]);
  t.is(cli.code, 0, cli.stderr);
  close(t, (JSON.parse(cli.stdout) as Report).total.cost, 1.4, 'CLI --json');
  t.is(cliCsv.code, 0, cliCsv.stderr);
  close(t, (parse(cliCsv.stdout, { columns: true }) as Record<string, string>[]).reduce((a, r) => a + Number(r.BilledCost), 0), 1.4, 'CLI CSV');
  t.is(cliSummary.code, 0, cliSummary.stderr);
  t.regex(cliSummary.stdout, /Rented spend: 0\.40 EUR of 1\.40 EUR/);
  t.regex(cliSummary.stdout, /Demand wait: 1 demanded task\(s\) got capacity after p50 2\.0 min/);
});

test.serial('a window reaching past what was sampled says so: JSON, table, CSV header and rows, and the CLI', async (t) => {
  const cursor = (await master.accounting!.store.cursor())!;
  const to = clock.now() + HOUR; // into the future
  const q = windowQ(T0, to);
  const json = (await get(`/v1/reports?${q}`)).json() as Report;
  const at = (x: number): string => iso(x).replace('.000Z', 'Z'); // as reports print times
  t.like(json.coverage, { from: at(T0), to: at(cursor), complete: false });
  t.regex(json.warnings[0], /^the figures cover .* is not sampled yet \(sampled up to /);
  t.true((await get(`/v1/reports?${q}&format=table`)).text.includes(`warning: ${json.coverage.note}\n`));
  const csv = await fetch(`${url}/v1/reports?${q}&format=csv`);
  t.like(JSON.parse(csv.headers.get('x-spillway-coverage')!), { complete: false, note: json.coverage.note });
  const rows = parse(await csv.text(), { columns: true }) as Record<string, string>[];
  t.true(rows.length > 0 && rows.every((r) => r.x_Warning.includes(json.coverage.note!) && r.BillingAccountId === 'default'));
  const w = ['--master', url, '--from', iso(T0), '--to', iso(to)];
  const [cliCsv, cliTable] = await Promise.all([spillway(['report', ...w, '--format', 'csv']), spillway(['report', ...w])]);
  t.is(cliCsv.code, 0, cliCsv.stderr);
  t.true(cliCsv.stderr.includes(`warning: ${json.coverage.note}`), cliCsv.stderr);
  t.is(cliTable.code, 0, cliTable.stderr);
  t.true(cliTable.stdout.includes(`warning: ${json.coverage.note}`), cliTable.stdout);
});

test.serial('"the last N hours" ends where the sampler is and is complete: no warning on an everyday report', async (t) => {
  const cursor = (await master.accounting!.store.cursor())!;
  const json = (await get('/v1/reports?window=2h')).json() as Report;
  t.like(json.coverage, { to: iso(cursor).replace('.000Z', 'Z'), complete: true, note: null });
  t.deepEqual(json.warnings, []);
  t.deepEqual([json.window.from, json.window.to], [json.coverage.from, json.coverage.to], 'the window the report states is the one it covers');
  const cli = await spillway(['report', '--master', url, '--window', '2h', '--json']);
  t.is(cli.code, 0, cli.stderr);
  t.like((JSON.parse(cli.stdout) as Report).coverage, { complete: true }, 'the CLI lets the master resolve the window on its clock');
});

test.serial('bad report input: 400 naming the parameter and the accepted values; the CLI exits 1 before asking', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['by=pool,colour', 'by', /unknown grouping 'colour' \(accepted: pool, ownership, provider, role, framework, day, hour/],
    ['window=soon', 'window', /'soon' is not a duration \(accepted: a whole number followed by s, m, h, d or w/],
    ['from=2026-11-02&to=2026-11-01', 'to', /the window ends .* before it starts/],
    ['from=not-a-date', 'from', /is not an ISO 8601 time/],
    ['format=xlsx', 'format', /'xlsx' is not offered \(accepted: table, csv, json\)/],
    ['colour=red', 'colour', /unknown parameter/],
  ];
  for (const [q, field, reason] of cases) {
    const r = await get(`/v1/reports?${q}`);
    t.is(r.status, 400, q);
    t.is(r.json().field, field, q);
    t.regex(r.json().reason, reason, q);
  }
  const s = await get('/v1/reports/summary?format=csv');
  t.is(s.status, 400);
  t.regex(s.json().error, /'csv' is not offered for the summary \(accepted: table, json\)/);
  const cliCases = [
    [['--by', 'colour'], /--by: unknown grouping 'colour' \(accepted: pool, ownership/],
    [['--window', '7 days'], /--window: '7 days' is not a duration/],
    [['--from', '2026-11-02', '--to', '2026-11-01'], /--to: the window ends/],
    [['--format', 'xlsx'], /--format: 'xlsx' is not offered \(accepted: table, csv, json\)/],
  ] as [string[], RegExp][];
  const answers = await Promise.all(cliCases.map(([args]) => spillway(['report', '--master', 'http://127.0.0.1:9', ...args])));
  cliCases.forEach(([args, msg], i) => {
    t.is(answers[i].code, 1, args.join(' '));
    t.regex(answers[i].stderr, msg);
  });
});

test.serial('an agent removed mid-interval (marked gone after a drain) is billed up to then, with its provider\'s minimum', async (t) => {
  const gone = new SimulatedAgent({
    master: url, hostname: 'ip-10-1-0-9', behaviour: 'run', resources: resources({ cpus: 4, mem: 8192 }),
    attributes: [{ name: 'pool', type: 'TEXT', text: { value: 'cloud' } }, { name: 'instance', type: 'TEXT', text: { value: 'i-0gone' } }],
  });
  await gone.start();
  t.teardown(() => gone.stop());
  await master.accounting!.sampler.tick(); // everything up to now is sampled
  const joined = clock.now();
  clock.advance(20_000);
  const res = await fetch(`${url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: gone.agentId } } }) });
  t.is(res.status, 200);
  clock.advance(3 * MIN);
  await master.accounting!.sampler.tick();
  const c = new Redis(redis.url);
  t.teardown(() => c.quit());
  const samples: { present: number; billed: number }[] = [];
  for (let h = Math.floor(joined / HOUR) * HOUR; h <= clock.now(); h += HOUR) {
    for (const [field, v] of Object.entries(await c.hgetall(`${keyPrefix('default')}acct:s:${h}`))) if (field.startsWith(`${gone.agentId}@`)) samples.push(JSON.parse(v));
  }
  close(t, samples.reduce((a, s) => a + s.present, 0), 20, 'present for the 20 s it was there');
  close(t, samples.reduce((a, s) => a + s.billed, 0), 60, 'billed for EC2\'s 60 s minimum');
});
