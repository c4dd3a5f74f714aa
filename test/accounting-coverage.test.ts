// Reports say which part of their window they cover: a window that starts inside an hour whose
// samples have expired, reaches back past the retention horizon or before accounting began, spans
// an outage the sampler skipped, or reaches past what was sampled (into the future) is reported as
// such — in the JSON coverage and warnings, the table, the summary and the FOCUS CSV — and its
// figures are those of the covered part only. The read plan is tested pure, then against a real
// Redis with an injected clock.
import test from 'ava';
import { Redis } from 'ioredis';
import { parse } from 'csv-parse/sync';
import { PolicySchema } from '../src/autoscaler/policy-schema.ts';
import { ManualClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/common/logger.ts';
import { Accounting } from '../src/accounting/accounting.ts';
import { planRead, type StoreState } from '../src/accounting/coverage.ts';
import { reportText, summaryText } from '../src/accounting/report-text.ts';
import { HOUR, iso } from '../src/accounting/rows.ts';
import type { AgentSnapshot } from '../src/accounting/sample.ts';
import { keyPrefix } from '../src/store/redis-store.ts';
import type { RedisProcess } from '../src/up/redis-process.ts';
import { testRedis } from './helpers/redis.ts';

const MIN = 60_000;
const DAY = 24 * HOUR;
const close = (t: { true(v: boolean, m?: string): void }, actual: number, expected: number, what: string): void => {
  t.true(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);
};

// ---- the read plan (pure) ---------------------------------------------------------------------

const T = Date.UTC(2026, 10, 2); // an hour boundary
const NOW = T + 10 * DAY + 5 * MIN + 30_000;
const CURSOR = T + 10 * DAY + 5 * MIN;
const state: StoreState = {
  now: NOW, retentionMs: 90 * DAY, sampleRetentionMs: DAY, pending: new Set([T + 10 * DAY]), cursor: CURSOR, since: T - 100 * DAY, gaps: [], lagMs: 0,
};

test('a window ending now is complete when the sampler trails it by no more than its normal lag', (t) => {
  const from = T + 10 * DAY - 2 * HOUR;
  const lagging = { ...state, lagMs: 2 * MIN };
  const { coverage } = planRead({ from, to: NOW }, lagging); // 30 s after the last interval closed
  t.deepEqual(coverage, { from: iso(from), to: iso(CURSOR), complete: true, missing: [], note: null });
  // Further behind than that (a stalled sampler) is missing, and said so.
  const stalled = planRead({ from, to: NOW }, { ...lagging, cursor: CURSOR - 10 * MIN }).coverage;
  t.false(stalled.complete);
  t.regex(stalled.note!, /is not sampled yet \(sampled up to /);
  // And so is a window reaching into the future, whatever the lag.
  t.false(planRead({ from, to: NOW + MIN }, lagging).coverage.complete);
});

test('a floating start ("the last 7 days") inside an hour whose samples expired starts at that hour, counted whole', (t) => {
  const from = NOW - 7 * DAY; // 5 min 30 s into its hour, whose samples (kept 1 d) are gone
  const lagging = { ...state, lagMs: 2 * MIN };
  const floating = planRead({ from, to: NOW, startFloats: true }, lagging);
  t.deepEqual(floating.coverage, { from: iso(T + 3 * DAY), to: iso(CURSOR), complete: true, missing: [], note: null });
  t.like(floating.steps[0], { source: 'rollup', hour: T + 3 * DAY });
  t.deepEqual(floating.window, { from: T + 3 * DAY, to: CURSOR }, 'the report states the settled window');
  // A start someone chose is kept, and the part of its hour that cannot be read is said to be missing.
  const chosen = planRead({ from, to: NOW }, lagging).coverage;
  t.false(chosen.complete);
  t.is(chosen.from, iso(T + 3 * DAY + HOUR));
  t.regex(chosen.note!, /per-interval samples, which are kept 1d/);
});

test('after a retention change, hours written under the old settings keep their old expiry', (t) => {
  // Samples were kept 1 d until a day ago, 7 d since: an edge hour 3 days old has no samples left.
  const raised = { ...state, sampleRetentionMs: 7 * DAY, retentionHistory: [
    { at: T - 100 * DAY, retentionMs: 90 * DAY, sampleRetentionMs: DAY },
    { at: NOW - DAY, retentionMs: 90 * DAY, sampleRetentionMs: 7 * DAY },
  ] };
  const from = NOW - 3 * DAY; // inside an hour
  const { coverage, steps } = planRead({ from, to: CURSOR }, raised);
  t.false(coverage.complete);
  t.is(coverage.missing[0].why, 'has expired (part of an hour needs its per-interval samples, which are kept 1d)');
  t.false(steps.some((x) => x.source === 'samples' && x.hour < NOW - DAY), 'no read of samples that expired under the old setting');
  // Lowered: rollups written under 90 d outlive today's 30 d, and are read.
  const lowered = { ...state, retentionMs: 30 * DAY, retentionHistory: [
    { at: T - 100 * DAY, retentionMs: 90 * DAY, sampleRetentionMs: DAY },
    { at: NOW - HOUR, retentionMs: 30 * DAY, sampleRetentionMs: DAY },
  ] };
  const old = planRead({ from: T - 40 * DAY, to: T - 39 * DAY }, lowered);
  t.true(old.coverage.complete, old.coverage.note ?? '');
  t.is(old.steps.length, 24);
});

test('a window inside what is kept is covered whole: edge hours from samples, whole hours from rollups', (t) => {
  const from = T + 10 * DAY - 12 * HOUR + 15 * MIN;
  const plan = planRead({ from, to: CURSOR }, state);
  t.deepEqual(plan.coverage, { from: iso(from), to: iso(CURSOR), complete: true, missing: [], note: null });
  t.deepEqual(plan.steps[0], { hour: from - 15 * MIN, source: 'samples', from, to: from + 45 * MIN });
  t.true(plan.steps.slice(1, -1).every((s) => s.source === 'rollup'));
  t.deepEqual(plan.steps[plan.steps.length - 1], { hour: T + 10 * DAY, source: 'samples', from: T + 10 * DAY, to: CURSOR }, 'the current hour is pending: its samples');
});

test('a window starting inside an hour whose samples expired covers from the next hour, and says so', (t) => {
  const from = T + 5 * DAY + 20 * MIN;
  const to = T + 6 * DAY;
  const { coverage, steps } = planRead({ from, to }, state);
  t.like(coverage, { from: iso(T + 5 * DAY + HOUR), to: iso(to), complete: false });
  t.deepEqual(coverage.missing, [{ from: iso(from), to: iso(T + 5 * DAY + HOUR), why: 'has expired (part of an hour needs its per-interval samples, which are kept 1d)' }]);
  t.is(coverage.note, `the figures cover ${iso(T + 5 * DAY + HOUR)} to ${iso(to)}, not the window asked for (${iso(from)} to ${iso(to)}): ${iso(from)} to ${iso(T + 5 * DAY + HOUR)} has expired (part of an hour needs its per-interval samples, which are kept 1d)`);
  t.is(steps[0].from, T + 5 * DAY + HOUR, 'the expired part is not read');
});

test('a window reaching back past the rollup retention covers from the horizon', (t) => {
  const { coverage } = planRead({ from: T - 90 * DAY, to: T + DAY }, state);
  t.like(coverage, { from: iso(T - 80 * DAY), to: iso(T + DAY), complete: false });
  t.deepEqual(coverage.missing, [{ from: iso(T - 90 * DAY), to: iso(T - 80 * DAY), why: 'has expired (hourly rollups are kept 90d)' }]);
});

test('a window reaching past what was sampled, into the future, covers up to the cursor', (t) => {
  const { coverage, steps } = planRead({ from: T + 10 * DAY - 2 * HOUR, to: NOW + DAY }, state);
  t.like(coverage, { from: iso(T + 10 * DAY - 2 * HOUR), to: iso(CURSOR), complete: false });
  t.deepEqual(coverage.missing, [{ from: iso(CURSOR), to: iso(NOW + DAY), why: `is not sampled yet (sampled up to ${iso(CURSOR)})` }]);
  t.is(steps[steps.length - 1].to, CURSOR);
  t.like(planRead({ from: T, to: T + HOUR }, { ...state, cursor: undefined, since: undefined }).coverage, {
    from: null, to: null, complete: false, note: `the figures cover none of the window asked for (${iso(T)} to ${iso(T + HOUR)}): ${iso(T)} to ${iso(T + HOUR)} is not sampled yet (nothing has been sampled)`,
  });
});

test('a window ending inside an hour with only its rollup left counts that hour whole, and says so', (t) => {
  const { coverage, steps } = planRead({ from: T + 5 * DAY, to: T + 5 * DAY + 30 * MIN }, state);
  t.like(coverage, { from: iso(T + 5 * DAY), to: iso(T + 5 * DAY + HOUR), complete: false, missing: [] });
  t.regex(coverage.note ?? '', /to 2026-11-07T01:00:00Z is counted in: the window ends in an hour whose per-interval samples have expired \(kept 1d\), so that hour is counted whole$/);
  t.deepEqual(steps, [{ hour: T + 5 * DAY, source: 'rollup', from: T + 5 * DAY, to: T + 5 * DAY + HOUR }]);
});

test('time before accounting began and outages the sampler skipped are missing too', (t) => {
  const gap = { from: T + 6 * DAY, to: T + 6 * DAY + 8 * HOUR };
  const { coverage } = planRead({ from: T, to: T + 7 * DAY }, { ...state, since: T + 3 * DAY, gaps: [gap] });
  t.like(coverage, { from: iso(T + 3 * DAY), to: iso(T + 7 * DAY), complete: false });
  t.deepEqual(coverage.missing, [
    { from: iso(T), to: iso(T + 3 * DAY), why: 'is before accounting began' },
    { from: iso(gap.from), to: iso(gap.to), why: 'was not sampled (no master sampled it within the backfill limit)' },
  ]);
});

// ---- against Redis ------------------------------------------------------------------------------

const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);
const clock = new ManualClock(T0);
const policy = PolicySchema.parse({
  pools: [{ name: 'cloud', provider: 'aws-ec2', ownership: 'rented', max: 4, aws: { region: 'eu-west-1', amiId: 'ami-1' }, instanceTypes: [{ name: 'm5.xlarge', cpus: 4, mem: 8192, price: 0.2 }] }],
  budget: { perHour: 5 },
});
const agent: AgentSnapshot = { id: 'a1', hostname: 'm1', attributes: { pool: 'cloud', instance: 'i-1' }, total: { cpus: 4, mem: 8192, gpus: 0 }, registeredAt: T0, tasks: [] };

let redis: RedisProcess;
let conn: Redis;
let acc: Accounting;

test.before(async () => {
  redis = await testRedis();
  conn = new Redis(redis.url);
  acc = new Accounting({
    redis: conn, prefix: keyPrefix('cov'), cluster: 'cov', source: { agents: () => [agent] }, clock,
    policy: async () => policy, openDemand: () => [], log: silentLogger,
  }, { intervalSeconds: 60, retentionMs: DAY, sampleRetentionMs: 2 * HOUR, backfillLimitMs: HOUR });
  // Six hours of one machine at 0.2/h, sampled as they pass; then two minutes more, so hour 5 is rolled up.
  for (let h = 0; h < 6; h++) {
    clock.advance(HOUR);
    await acc.sampler.tick();
  }
  clock.advance(2 * MIN);
  await acc.sampler.tick();
});

test.after.always(async () => {
  await conn?.quit();
  await redis?.stop();
});

// At T0 + 6 h 2 min, samples of hours before T0 + 4 h have expired (kept 2 h after their hour).

test.serial('a report starting inside an hour whose samples expired counts from the next hour and warns, in JSON and the table', async (t) => {
  const from = T0 + 90 * MIN;
  const to = T0 + 5 * HOUR + 30 * MIN;
  const r = await acc.report({ from, to, by: ['pool'] });
  t.like(r.coverage, { from: iso(T0 + 2 * HOUR), to: iso(to), complete: false });
  t.deepEqual(r.coverage.missing.map((m) => [m.from, m.to]), [[iso(from), iso(T0 + 2 * HOUR)]]);
  close(t, r.total.cost, 0.2 * 3.5, 'the covered 3.5 hours only');
  t.is(r.window.from, iso(from), 'the window stays the one asked for');
  t.is(r.warnings[0], r.coverage.note!);
  t.true(reportText(r).includes(`warning: ${r.coverage.note}\n`), reportText(r));

  const whole = await acc.report({ from: T0 + HOUR, to: T0 + 5 * HOUR, by: [] });
  t.like(whole.coverage, { complete: true, note: null });
  t.deepEqual(whole.warnings, []);
});

test.serial('a report ending inside an hour with only its rollup left counts that hour whole and says so', async (t) => {
  const r = await acc.report({ from: T0 + 2 * HOUR, to: T0 + 3 * HOUR + 30 * MIN, by: [] });
  t.like(r.coverage, { from: iso(T0 + 2 * HOUR), to: iso(T0 + 4 * HOUR), complete: false, missing: [] });
  close(t, r.total.cost, 0.2 * 2, 'two whole hours');
  t.regex(r.warnings[0], /is counted in: the window ends in an hour whose per-interval samples have expired \(kept 2h\), so that hour is counted whole/);
});

test.serial('a report reaching before accounting began or into the future covers what was sampled', async (t) => {
  const cursor = (await acc.store.cursor())!;
  t.is(cursor, T0 + 6 * HOUR + 2 * MIN);
  const r = await acc.report({ from: T0 - 2 * HOUR, to: clock.now() + DAY, by: [] });
  t.like(r.coverage, { from: iso(T0), to: iso(cursor), complete: false });
  t.deepEqual(r.coverage.missing, [
    { from: iso(T0 - 2 * HOUR), to: iso(T0), why: 'is before accounting began' },
    { from: iso(cursor), to: iso(clock.now() + DAY), why: `is not sampled yet (sampled up to ${iso(cursor)})` },
  ]);
  close(t, r.total.cost, 0.2 * (6 + 2 / 60), 'all that was sampled');
  const s = await acc.summary({ from: T0 - 2 * HOUR, to: clock.now() + DAY });
  t.deepEqual(s.coverage, r.coverage);
  t.true(summaryText(s).includes(`warning: ${r.coverage.note}\n`));
});

test.serial('the FOCUS CSV clips charge periods to what it covers and marks every row', async (t) => {
  const from = T0 + 90 * MIN;
  const to = T0 + 5 * HOUR + 30 * MIN;
  const csv = await acc.csv({ from, to, by: [] });
  t.like(csv.coverage, { from: iso(T0 + 2 * HOUR), complete: false });
  let text = '';
  const out = await csv.write((c) => { text += c; });
  const rows = parse(text, { columns: true }) as Record<string, string>[];
  t.is(out.lines, rows.length);
  t.true(rows.length > 0);
  close(t, rows.reduce((a, r) => a + Number(r.BilledCost), 0), 0.2 * 3.5, 'BilledCost of the covered part');
  for (const r of rows) {
    t.like(r, { ChargePeriodStart: '2026-01-05T02:00:00Z', ChargePeriodEnd: '2026-01-05T05:30:00Z', BillingAccountId: 'cov', BillingAccountName: 'Spillway cluster cov', x_Warning: csv.coverage.note! });
    t.is(r.ContractedCost, r.BilledCost);
  }
});

test.serial('an outage longer than the backfill limit is recorded, and reports over it say so', async (t) => {
  const before = clock.now();
  clock.advance(8 * HOUR);
  await acc.sampler.tick();
  const resume = Math.floor((clock.now() - HOUR) / MIN) * MIN; // the backfill limit is 1 h
  const r = await acc.report({ from: T0 + 5 * HOUR, to: clock.now() - MIN, by: [] });
  t.false(r.coverage.complete);
  t.true(r.coverage.missing.some((m) => m.from === iso(before) && m.to === iso(resume) && /was not sampled/.test(m.why)), JSON.stringify(r.coverage.missing));
});

test.serial('the retention a sampler writes with is noted once per change, and read plans use it', async (t) => {
  const history = async (): Promise<string[]> => (await conn.zrange(`${keyPrefix('cov')}acct:retention`, '0', '-1')).map((m) => m.slice(m.indexOf('|') + 1));
  t.deepEqual(await history(), [JSON.stringify({ retentionMs: DAY, sampleRetentionMs: 2 * HOUR })], 'noted by the first round');
  await acc.store.noteRetention(clock.now()); // the same settings again: nothing new
  t.is((await history()).length, 1);
  // A master started with samples kept longer: the hours its predecessor wrote still expire early.
  const longer = new Accounting({
    redis: conn, prefix: keyPrefix('cov'), cluster: 'cov', source: { agents: () => [agent] }, clock,
    policy: async () => policy, openDemand: () => [], log: silentLogger,
  }, { intervalSeconds: 60, retentionMs: DAY, sampleRetentionMs: 12 * HOUR, backfillLimitMs: HOUR });
  await longer.store.noteRetention(clock.now());
  t.is((await history()).length, 2);
  const r = await longer.report({ from: T0 + 90 * MIN, to: T0 + 3 * HOUR, by: [] });
  t.false(r.coverage.complete, 'the samples of T0 + 1 h are gone whatever the new setting says');
  t.regex(r.coverage.note!, /which are kept 2h/);
});
