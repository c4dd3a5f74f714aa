// The accounting engines without I/O: pool matching, the cost model, samples, rollups, reports,
// the FOCUS CSV and the summary, over a scripted cluster history whose totals are worked out by hand.
import test from 'ava';
import { parse } from 'csv-parse/sync';
import { PolicySchema, type Policy } from '../src/autoscaler/policy-schema.ts';
import { amortisedHourly, billedLife, DEFAULT_COST_MODEL, type CostModelConfig } from '../src/accounting/cost-model.ts';
import { classifyAgent, UNPOOLED } from '../src/accounting/pool-match.ts';
import { buildSample, IDLE, type AgentSnapshot, type Sample, type TaskSnapshot } from '../src/accounting/sample.ts';
import { HOUR, HourRollup, hourOf, rollupRow, sampleRows, type UsageRow } from '../src/accounting/rows.ts';
import { ReportBuilder, type Report } from '../src/accounting/report-engine.ts';
import { FocusCsvWriter, clusterBillingAccount, csvField, FOCUS_COLUMNS } from '../src/accounting/focus-csv.ts';
import { SummaryBuilder, waitStats } from '../src/accounting/summary.ts';
import { parseReportQuery, ReportQueryError } from '../src/accounting/report-query.ts';
import { costModelOf } from '../src/accounting/sampler.ts';
import { satisfiedUnits } from '../src/accounting/demand-waits.ts';
import type { Price } from '../providers/provider.ts';

const T = Date.UTC(2026, 10, 2, 0, 0, 0); // an hour boundary
const MIN = 60_000;
const close = (t: { true(v: boolean, m?: string): void }, actual: number, expected: number, what: string): void => {
  t.true(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);
};

const policy: Policy = PolicySchema.parse({
  pools: [
    {
      name: 'rack', provider: 'static', ownership: 'owned', max: 2, costPerHour: 0.30,
      static: { powerOn: 'true', machines: [
        { name: 'r1', address: '10.0.0.1', cpus: 8, mem: 32768, costPerHour: 0.40 },
        { name: 'r2', address: '10.0.0.2', cpus: 8, mem: 32768 },
      ] },
    },
    {
      name: 'dc', provider: 'local', ownership: 'owned', max: 1,
      amortisation: { purchasePrice: 8766, lifeYears: 1, powerPerHour: 0.1, spacePerHour: 0.05 },
      instanceTypes: [{ name: 'local-8', cpus: 8, mem: 16384 }],
    },
    {
      name: 'aws-od', provider: 'aws-ec2', ownership: 'rented', max: 5, aws: { region: 'us-east-1', amiId: 'ami-1' },
      instanceTypes: [{ name: 'm5.xlarge', cpus: 4, mem: 16384, price: 0.192 }, { name: 'm5.2xlarge', cpus: 8, mem: 32768, price: 0.384 }],
    },
    {
      name: 'aws-spot', provider: 'aws-ec2', ownership: 'rented', capacityType: 'spot', max: 5, aws: { region: 'us-east-1', amiId: 'ami-1' },
      instanceTypes: [{ name: 'm5.xlarge', cpus: 4, mem: 16384, price: 0.192, spotPrice: 0.08 }],
    },
  ],
  budget: { perHour: 10 },
});
const livePrices = new Map<string, Price[]>([['aws-spot', [
  { instanceType: 'm5.xlarge', zone: 'us-east-1b', capacityType: 'spot', hourly: 0.07 },
  { instanceType: 'm5.xlarge', zone: 'us-east-1a', capacityType: 'spot', hourly: 0.0675 },
]]]);

const task = (role: string, fw: string, cpus: number, mem: number): TaskSnapshot => ({ role, frameworkId: fw, frameworkName: `${fw}-name`, running: true, allocated: { cpus, mem, gpus: 0 } });

interface Scripted { agent: AgentSnapshot; tasksAt(t: number): TaskSnapshot[] }

/** The cluster of the scripted history (2 hours from T). */
const HISTORY: Scripted[] = [
  { agent: { id: 'A-r1', hostname: '10.0.0.1', attributes: {}, total: { cpus: 8, mem: 32768, gpus: 0 }, registeredAt: T - HOUR, tasks: [] }, tasksAt: () => [task('web', 'fw-web', 4, 16384)] },
  { agent: { id: 'A-r2', hostname: '10.0.0.2', attributes: {}, total: { cpus: 8, mem: 32768, gpus: 0 }, registeredAt: T - HOUR, tasks: [] }, tasksAt: () => [] },
  { agent: { id: 'A-d1', hostname: 'd1', attributes: { pool: 'dc' }, total: { cpus: 8, mem: 16384, gpus: 0 }, registeredAt: T + HOUR, tasks: [] }, tasksAt: () => [task('batch', 'fw-batch', 8, 16384)] },
  {
    agent: { id: 'A-od1', hostname: 'od1', attributes: { pool: 'aws-od', instance: 'i-od1', zone: 'us-east-1a' }, total: { cpus: 4, mem: 16384, gpus: 0 }, registeredAt: T, unreachableSince: T + 17 * MIN, tasks: [] },
    tasksAt: () => [task('batch', 'fw-batch', 2, 8192)],
  },
  {
    agent: { id: 'A-sp1', hostname: 'sp1', attributes: { pool: 'aws-spot', instance: 'i-sp1', zone: 'us-east-1a' }, total: { cpus: 4, mem: 16384, gpus: 0 }, registeredAt: T - HOUR, tasks: [] },
    tasksAt: (t) => (t >= T + HOUR ? [task('batch', 'fw-batch', 4, 16384)] : []),
  },
];

/** Samples every agent every minute over [from, to), as the sampler does. */
function scriptedSamples(model: CostModelConfig, from = T, to = T + 2 * HOUR, history = HISTORY): Sample[] {
  const out: Sample[] = [];
  for (let s = from; s < to; s += MIN) {
    for (const h of history) {
      const snap = { ...h.agent, tasks: h.tasksAt(s) };
      const cls = classifyAgent(snap, policy.pools, livePrices);
      const sample = buildSample(snap, cls, s, 60, model);
      if (sample) out.push(sample);
    }
  }
  return out;
}

const model = costModelOf(policy);

/** The same samples through hourly rollups (stored form and back), as reports of whole hours read them. */
function viaRollups(samples: Sample[]): UsageRow[] {
  const hours = new Map<number, HourRollup>();
  for (const s of samples) {
    const h = hourOf(s.start);
    if (!hours.has(h)) hours.set(h, new HourRollup(h));
    hours.get(h)!.addSample(s);
  }
  return [...hours.values()].flatMap((h) => h.fields().map(([k, v]) => rollupRow(h.hour, k, v)));
}

function report(rows: UsageRow[], by: ReportBuilder['query']['by']): Report {
  const b = new ReportBuilder({ from: T, to: T + 2 * HOUR, by });
  for (const r of rows) b.add(r);
  return b.result();
}

// ---- pool matching ------------------------------------------------------------------------------

test('agents are matched to pools by attribute, static machines by address, types by shape; spot uses the live zone price', (t) => {
  const ident = (id: string, hostname: string, attributes: Record<string, string>, cpus = 4, mem = 16384) => ({ id, hostname, attributes, total: { cpus, mem, gpus: 0 } });
  const r1 = classifyAgent(ident('a', '10.0.0.1', {}), policy.pools);
  t.like(r1, { pool: 'rack', ownership: 'owned', provider: 'static', instanceType: 'r1', capacityType: 'owned', hourly: 0.40, listHourly: 0.40 });
  t.is(classifyAgent(ident('a', '10.0.0.2', {}), policy.pools).hourly, 0.30, 'the pool costPerHour when the machine has none');
  close(t, classifyAgent(ident('a', 'd1', { pool: 'dc' }), policy.pools).hourly, 1.15, 'amortised: 8766/(1 × 8766) + 0.10 + 0.05');
  t.like(classifyAgent(ident('a', 'x', { pool: 'aws-od' }, 8, 32768), policy.pools), { instanceType: 'm5.2xlarge', hourly: 0.384, capacityType: 'on-demand', region: 'us-east-1' });
  t.like(classifyAgent(ident('a', 'x', { pool: 'aws-od', instance_type: 'm5.xlarge' }, 8, 32768), policy.pools), { instanceType: 'm5.xlarge', hourly: 0.192 });
  t.like(classifyAgent(ident('a', 'x', { pool: 'aws-spot', zone: 'us-east-1a', instance: 'i-9' }), policy.pools, livePrices), { hourly: 0.0675, listHourly: 0.192, resourceId: 'i-9', capacityType: 'spot' });
  t.like(classifyAgent(ident('a', 'x', { pool: 'aws-spot' }), policy.pools), { hourly: 0.08, warning: undefined }, 'the book spotPrice without live prices');
  const unpooled = classifyAgent(ident('a-7', 'h7', {}), policy.pools);
  t.like(unpooled, { pool: UNPOOLED, ownership: 'owned', hourly: 0, resourceId: 'a-7' });
  t.regex(unpooled.warning ?? '', /a-7 \(h7\) belongs to no pool.*counted as owned at cost 0/);
  t.regex(classifyAgent(ident('a', 'x', { pool: 'gone' }), policy.pools).warning ?? '', /names pool 'gone', which the applied policy does not have/);
});

// ---- cost model ----------------------------------------------------------------------------------

test('amortised cost per hour is purchase price over life hours plus power and space', (t) => {
  close(t, amortisedHourly({ purchasePrice: 35064, lifeYears: 4, powerPerHour: 0.05, spacePerHour: 0.02 }), 1 + 0.07, '35064 / (4 × 8766) + 0.05 + 0.02');
});

test('billing rules: per second with a one-minute minimum, per hour rounds a started hour up', (t) => {
  t.is(billedLife(17 * 60, { granularitySeconds: 1, minimumSeconds: 60 }), 1020);
  t.is(billedLife(30, { granularitySeconds: 1, minimumSeconds: 60 }), 60);
  t.is(billedLife(17 * 60, { granularitySeconds: 3600, minimumSeconds: 0 }), 3600);
  t.is(billedLife(61 * 60, { granularitySeconds: 3600, minimumSeconds: 0 }), 7200);
  t.is(billedLife(1020.0000001, { granularitySeconds: 1, minimumSeconds: 0 }), 1020);
});

test('an agent that lived 17 minutes is charged 17 minutes under per-second billing and 1 hour under hourly billing', (t) => {
  const born = T + 30_000; // not on an interval boundary
  const agent: Scripted = {
    agent: { id: 'short', hostname: 's', attributes: { pool: 'aws-od', instance_type: 'm5.xlarge' }, total: { cpus: 4, mem: 16384, gpus: 0 }, registeredAt: born, unreachableSince: born + 17 * MIN, tasks: [] },
    tasksAt: () => [task('batch', 'fw', 4, 16384)],
  };
  const perSecond = scriptedSamples(model, T, T + HOUR, [agent]);
  close(t, perSecond.reduce((a, s) => a + s.billed, 0), 17 * 60, 'billed seconds (per second)');
  close(t, perSecond.reduce((a, s) => a + s.cost, 0), 0.192 * 17 / 60, 'cost (per second)');
  const hourlyPolicy = PolicySchema.parse({ ...policy, accounting: { billing: { 'aws-ec2': { per: 'hour' } } } });
  const perHour = scriptedSamples(costModelOf(hourlyPolicy), T, T + 2 * HOUR, [agent]);
  close(t, perHour.reduce((a, s) => a + s.billed, 0), 3600, 'billed seconds (per hour)');
  close(t, perHour.reduce((a, s) => a + s.cost, 0), 0.192, 'cost (per hour)');
  const rows = perHour.flatMap(sampleRows);
  close(t, rows.filter((r) => r.dims.role === IDLE).reduce((a, r) => a + r.m[12], 0), 0.192 * 43 / 60, 'the 43 unused minutes are idle cost');
  t.is(perHour.reduce((a, s) => a + s.present, 0), 17 * 60, 'present 17 minutes either way');
});

test('a minimum charge applies to a machine that lived less than it', (t) => {
  const agent: Scripted = {
    agent: { id: 'blip', hostname: 'b', attributes: { pool: 'aws-od', instance_type: 'm5.xlarge' }, total: { cpus: 4, mem: 16384, gpus: 0 }, registeredAt: T + 10_000, unreachableSince: T + 40_000, tasks: [] },
    tasksAt: () => [],
  };
  const s = scriptedSamples(model, T, T + 5 * MIN, [agent]);
  close(t, s.reduce((a, x) => a + x.billed, 0), 60, 'billed the one-minute minimum for 30 s of life');
});

// ---- the scripted cluster history ------------------------------------------------------------

// Worked out by hand (weights 0.031611 per core, 0.004237 per GiB: an allocation of half the cores
// and half the memory is half the cost):
//   r1  0.40/h × 2 h = 0.80, half allocated to web       → allocated 0.40, idle 0.40
//   r2  0.30/h × 2 h = 0.60, idle                         → idle 0.60
//   d1  (8766/8766 + 0.15)/h × 1 h = 1.15, fully batch    → allocated 1.15
//   od1 0.192/h × 17 min = 0.0544, half batch             → allocated 0.0272, idle 0.0272
//   sp1 live spot 0.0675/h × 2 h = 0.135, batch in hour 2 → allocated 0.0675, idle 0.0675
const EXPECTED = {
  cost: 0.80 + 0.60 + 1.15 + 0.0544 + 0.135,
  owned: 0.80 + 0.60 + 1.15,
  rented: 0.0544 + 0.135,
  idle: 0.40 + 0.60 + 0.0272 + 0.0675,
  allocCpu: 4 * 2 + 8 * 1 + 2 * 17 / 60 + 4 * 1,
  capCpu: 8 * 2 + 8 * 2 + 8 * 1 + 4 * 17 / 60 + 4 * 2,
  spotList: 0.192 * 2,
};

for (const [path, rowsOf] of [['samples', (s: Sample[]) => s.flatMap(sampleRows)], ['hourly rollups', viaRollups]] as const) {
  test(`a scripted history over several pools gives the hand-computed totals (read from ${path})`, (t) => {
    const rows = rowsOf(scriptedSamples(model));
    const total = report(rows, []).total;
    close(t, total.cost, EXPECTED.cost, 'total cost');
    close(t, total.idleCost, EXPECTED.idle, 'idle cost');
    close(t, total.allocatedCost, EXPECTED.cost - EXPECTED.idle, 'allocated cost');
    close(t, total.allocated.cpu, EXPECTED.allocCpu, 'allocated core-hours');
    close(t, total.used.cpu, EXPECTED.allocCpu, 'used = allocated to running tasks without measurements');
    close(t, total.capacity.cpu, EXPECTED.capCpu, 'capacity core-hours');
    close(t, total.utilisation.cpu, EXPECTED.allocCpu / EXPECTED.capCpu, 'utilisation');
    close(t, total.costPerAllocatedCpuHour!, EXPECTED.cost / EXPECTED.allocCpu, 'cost per allocated core-hour');
    close(t, total.costPerUsedCpuHour!, EXPECTED.cost / EXPECTED.allocCpu, 'cost per used core-hour');
    close(t, total.rentedShare, EXPECTED.rented / EXPECTED.cost, 'rented share');

    const byOwnership = report(rows, ['ownership']);
    const own = Object.fromEntries(byOwnership.groups.map((g) => [g.key.ownership!, g]));
    close(t, own.owned.cost, EXPECTED.owned, 'owned cost');
    close(t, own.rented.cost, EXPECTED.rented, 'rented cost');
    close(t, own.rented.rentedShare, 1, 'rented share of rented');

    const byPool = Object.fromEntries(report(rows, ['pool']).groups.map((g) => [g.key.pool!, g]));
    close(t, byPool.rack.cost, 1.40, 'rack');
    close(t, byPool.rack.idleCost, 1.00, 'rack idle');
    close(t, byPool.dc.cost, 1.15, 'dc');
    close(t, byPool['aws-od'].cost, 0.0544, 'aws-od');
    close(t, byPool['aws-spot'].cost, 0.135, 'aws-spot (live spot price)');
    close(t, byPool['aws-spot'].listCost, EXPECTED.spotList, 'aws-spot list cost at the on-demand price');

    const byRole = Object.fromEntries(report(rows, ['role']).groups.map((g) => [g.key.role!, g]));
    close(t, byRole.web.cost, 0.40, 'web');
    close(t, byRole.batch.cost, 1.15 + 0.0272 + 0.0675, 'batch');
    close(t, byRole[IDLE].cost, EXPECTED.idle, 'idle row');
    close(t, byRole.batch.utilisation.cpu, 1, 'a role row is its allocation');

    const byHour = report(rows, ['ownership', 'hour']);
    t.deepEqual(byHour.groups.map((g) => [g.key.hour, g.key.ownership]), [
      ['2026-11-02T00:00Z', 'owned'], ['2026-11-02T00:00Z', 'rented'], ['2026-11-02T01:00Z', 'owned'], ['2026-11-02T01:00Z', 'rented'],
    ]);
    close(t, byHour.groups[0].cost, 0.40 + 0.30, 'owned in hour 1');
    close(t, byHour.groups[3].cost, 0.0675, 'rented in hour 2');
    t.deepEqual(report(rows, ['framework']).groups.filter((g) => g.key.framework === 'fw-batch').map((g) => g.frameworkName), ['fw-batch-name']);
  });
}

test('an hourly rollup built from samples equals one built from their rows', (t) => {
  const samples = scriptedSamples(model);
  const fast = new HourRollup(T);
  const slow = new HourRollup(T);
  for (const s of samples.filter((x) => x.start < T + HOUR)) {
    fast.addSample(s);
    for (const r of sampleRows(s)) slow.add(r);
  }
  t.deepEqual(new Map(fast.fields()), new Map(slow.fields()));
  t.is(fast.size, 6, 'r1: web + idle, r2: idle, od1: batch + idle, sp1: idle (d1 came in hour 2)');
});

test('the FOCUS CSV parses, and the BilledCost of each period adds up to the table', (t) => {
  const rows = viaRollups(scriptedSamples(model));
  for (const period of ['day', 'hour'] as const) {
    let text = '';
    const w = new FocusCsvWriter({ from: T, to: T + 2 * HOUR }, period, (c) => { text += c; }, { account: clusterBillingAccount('prod') });
    w.header();
    for (const r of rows) w.add(r);
    w.end();
    const records = parse(text, { columns: true }) as Record<string, string>[];
    t.deepEqual(Object.keys(records[0]), [...FOCUS_COLUMNS]);
    for (const col of ['ContractedCost', 'BillingAccountId', 'BillingAccountName']) t.true(FOCUS_COLUMNS.includes(col as never), `FOCUS 1.0 column ${col}`);
    const firstX = FOCUS_COLUMNS.findIndex((c) => c.startsWith('x_'));
    t.true(FOCUS_COLUMNS.slice(firstX).every((c) => c.startsWith('x_')), 'FOCUS columns first, x_ columns after');
    t.true(records.every((r) => r.ContractedCost === r.BilledCost && r.EffectiveCost === r.BilledCost), 'no negotiated or commitment discounts: contracted = effective = billed');
    t.true(records.every((r) => r.BillingAccountId === 'prod' && r.BillingAccountName === 'Spillway cluster prod'), 'the cluster is the billing account');
    t.true(records.every((r) => r.x_Warning === ''), 'a complete window warns of nothing');
    const sum = (f: (r: Record<string, string>) => boolean, col = 'BilledCost') => records.filter(f).reduce((a, r) => a + Number(r[col]), 0);
    close(t, sum(() => true), EXPECTED.cost, `${period}: BilledCost total = the table's total cost`);
    close(t, sum((r) => r.x_Ownership === 'rented'), EXPECTED.rented, `${period}: rented BilledCost`);
    close(t, sum(() => true, 'x_IdleCost'), EXPECTED.idle, `${period}: x_IdleCost`);
    close(t, sum(() => true, 'x_AllocatedCost') + sum(() => true, 'x_IdleCost'), EXPECTED.cost, `${period}: allocated + idle = billed`);
    const byHour = report(rows, ['hour']);
    for (const g of byHour.groups) {
      const start = g.key.hour!.replace(':00Z', ':00:00Z');
      if (period === 'hour') close(t, sum((r) => r.ChargePeriodStart === start), g.cost, `BilledCost of period ${start}`);
    }
    const spot = records.find((r) => r.ResourceId === 'i-sp1' && r.x_Role === 'batch')!;
    t.true(Number(spot.ListCost) > Number(spot.ContractedCost), 'spot: the on-demand list price above the spot price charged');
    t.like(spot, {
      PricingCategory: 'Dynamic', ChargeCategory: 'Usage', ChargeFrequency: 'Usage-Based', ServiceName: 'Amazon Elastic Compute Cloud', ServiceCategory: 'Compute',
      ProviderName: 'AWS', RegionId: 'us-east-1', AvailabilityZone: 'us-east-1a', ResourceType: 'Virtual Machine', ConsumedUnit: 'Core-Hours',
      BillingCurrency: 'USD', BillingPeriodStart: '2026-11-01T00:00:00Z', BillingPeriodEnd: '2026-12-01T00:00:00Z', x_Pool: 'aws-spot', x_Ownership: 'rented',
      x_FrameworkName: 'fw-batch-name', x_CapacityType: 'spot',
    });
    t.regex(spot.ChargePeriodStart, /^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
    // The priced unit is a machine-hour; each row holds its share, and unit price × quantity = cost.
    for (const r of records) {
      t.is(r.PricingUnit, 'Hours');
      close(t, Number(r.ListUnitPrice) * Number(r.PricingQuantity), Number(r.ListCost), 'ListUnitPrice × PricingQuantity = ListCost');
      close(t, Number(r.ContractedUnitPrice) * Number(r.PricingQuantity), Number(r.ContractedCost), 'ContractedUnitPrice × PricingQuantity = ContractedCost');
    }
    t.like(spot, { ListUnitPrice: '0.192', ContractedUnitPrice: '0.0675', SkuId: 'aws-ec2/m5.xlarge', SkuPriceId: 'aws-ec2/m5.xlarge/spot/us-east-1' });
    // r1 was there both hours: its rows (web's half and the idle half) add up to 2 machine-hours.
    close(t, sum((r) => r.ResourceName === '10.0.0.1', 'PricingQuantity'), 2, `${period}: r1's machine-hours`);
    t.like(records.find((r) => r.ResourceName === '10.0.0.1' && r.x_Role === 'web')!, { ListUnitPrice: '0.4', ContractedUnitPrice: '0.4' });
    t.is(records.find((r) => r.x_Pool === 'rack' && r.x_Role === IDLE)!.PricingCategory, 'Other');
  }
});

test('an hour rolled up before machine-hours were recorded still reads; a FOCUS row with any of it leaves quantity and unit prices empty', (t) => {
  const rollup = new HourRollup(T);
  for (const smp of scriptedSamples(model).filter((x) => x.start < T + HOUR)) rollup.addSample(smp);
  const [key, value] = rollup.fields().find(([, v]) => !v.includes('"'))!;
  const now = JSON.parse(value) as number[];
  const old = JSON.stringify(now.slice(0, 13)); // the 13 measures of before
  const row = rollupRow(T, key, old);
  t.is(row.m.length, 15);
  t.deepEqual(row.m.slice(0, 13), JSON.parse(old));
  t.deepEqual(row.m.slice(13), [0, 1], 'no machine-hours, and one part without them');
  const warned = rollupRow(T, key, JSON.stringify([...JSON.parse(old), 'no price']));
  t.is(warned.warn, 'no price');
  t.deepEqual(warned.m.slice(13), [0, 1]);
  t.is(rollupRow(T, key, value).m[14], 0, 'a row of today has its hours');
  // The day of the upgrade: an hour of before and an hour of after in one daily row.
  const csv = (rows: UsageRow[]): Record<string, string> => {
    let text = '';
    const w = new FocusCsvWriter({ from: T, to: T + 2 * HOUR }, 'day', (c) => { text += c; }, { account: clusterBillingAccount('prod') });
    w.header();
    for (const r of rows) w.add(r);
    w.end();
    return (parse(text, { columns: true }) as Record<string, string>[])[0];
  };
  const mixed = csv([row, rollupRow(T + HOUR, key, value)]);
  t.like(mixed, { PricingQuantity: '', PricingUnit: 'Hours', ListUnitPrice: '', ContractedUnitPrice: '' });
  t.not(mixed.BilledCost, '');
  const whole = csv([rollupRow(T, key, value), rollupRow(T + HOUR, key, value)]);
  t.true(Number(whole.PricingQuantity) > 0 && Number(whole.ContractedUnitPrice) > 0, JSON.stringify(whole));
});

test('CSV fields follow RFC 4180 and defuse spreadsheet formulas', (t) => {
  t.is(csvField('plain'), 'plain');
  t.is(csvField('a,b'), '"a,b"');
  t.is(csvField('say "hi"'), '"say ""hi"""');
  t.is(csvField('two\nlines'), '"two\nlines"');
  t.is(csvField(' padded'), '" padded"');
  t.is(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  t.is(csvField(-1.5), '-1.5');
  t.is(csvField(undefined), '');
  const parsed = parse(`${['x,"y"', 'multi\r\nline', '@cmd'].map(csvField).join(',')}\r\n`) as string[][];
  t.deepEqual(parsed, [['x,"y"', 'multi\r\nline', "'@cmd"]]);
});

test('the summary answers finance: rented spend and use, owned first, who drives rented spend', (t) => {
  const b = new SummaryBuilder({ from: T, to: T + 2 * HOUR });
  for (const r of viaRollups(scriptedSamples(model))) b.add(r);
  const waits = [
    { frameworkId: 'fw-batch', role: 'batch', since: T, at: T + 30_000, units: 3 },
    { frameworkId: 'fw-batch', role: 'batch', since: T, at: T + 90_000, units: 1 },
    { frameworkId: 'fw-web', role: 'web', since: T, at: T + 600_000, units: 1 },
  ];
  const s = b.result(waits, [{ role: 'batch', units: 2, since: T + HOUR }], T + 2 * HOUR);
  close(t, s.rented.cost, EXPECTED.rented, 'rented spend');
  close(t, s.rented.allocatedShare, (0.0272 + 0.0675) / EXPECTED.rented, 'share of rented spend that was allocated');
  close(t, s.owned.utilisation.cpu, (8 + 8) / (16 + 16 + 8), 'owned utilisation');
  // Hour 1: 0.567 rented core-hours (od1) while owned had 12 idle; hour 2: 4 (sp1) while 12 idle.
  t.is(s.ownedFirst.hoursWithRentedAllocation, 2);
  t.is(s.ownedFirst.hoursWithOwnedIdle, 2);
  close(t, s.ownedFirst.rentedCpuHoursWhileOwnedIdle, 2 * 17 / 60 + 4, 'rented core-hours while owned idle');
  t.false(s.ownedFirst.ownedUsedFirst);
  t.deepEqual(s.rentedSpendByRole.map((r) => r.name), ['batch']);
  close(t, s.rentedSpendByRole[0].share, 0.5, 'batch drives half the rented spend; the other half is idle');
  t.deepEqual(s.rentedSpendByFramework.map((r) => r.name), ['fw-batch-name (fw-batch)']);
  t.like(s.demandWait, { units: 5, p50Seconds: 30, p90Seconds: 600, maxSeconds: 600, waitingNow: { units: 2, oldestSeconds: 3600 } });
  t.is(s.demandWait.byRole.batch.units, 4);
  t.true(s.sentences.some((l) => l.startsWith('Owned before rented: no')), s.sentences.join('\n'));
});

test('wait statistics are nearest-rank over units, and satisfied units come from the demand before and after', (t) => {
  t.like(waitStats([]), { units: 0, p50Seconds: 0 });
  const before = [
    { id: 'f#0', frameworkId: 'f', role: 'r', shape: { scalars: { cpus: 1 }, ports: [] }, count: 3, constraints: [], since: 1000 },
    { id: 'f#1', frameworkId: 'f', role: 'r', shape: { scalars: { cpus: 2 }, ports: [] }, count: 1, constraints: [], since: 2000 },
  ];
  const after = [{ ...before[0], count: 1 }];
  t.deepEqual(satisfiedUnits(before, after, 5000), [
    { frameworkId: 'f', role: 'r', unit: 'f#0', since: 1000, at: 5000, units: 2 },
    { frameworkId: 'f', role: 'r', unit: 'f#1', since: 2000, at: 5000, units: 1 },
  ]);
});

// ---- bad input ------------------------------------------------------------------------------------

test('bad report queries name the field and the accepted values', (t) => {
  const now = T;
  const err = (q: Record<string, unknown>) => t.throws(() => parseReportQuery(q, now), { instanceOf: ReportQueryError });
  t.is(err({ by: 'pool,colour' })?.message, "by: unknown grouping 'colour' (accepted: pool, ownership, provider, role, framework, day, hour, agent, instance-type, capacity-type, zone)");
  t.regex(err({ window: 'seven days' })?.message ?? '', /^window: 'seven days' is not a duration \(accepted: a whole number followed by s, m, h, d or w/);
  t.regex(err({ from: '2026-11-02', to: '2026-11-01' })?.message ?? '', /^to: the window ends \(2026-11-01T00:00:00.000Z\) before it starts \(2026-11-02T00:00:00.000Z\)$/);
  t.regex(err({ from: 'yesterday' })?.message ?? '', /^from: 'yesterday' is not an ISO 8601 time/);
  t.is(err({ format: 'xlsx' })?.message, "format: 'xlsx' is not offered (accepted: table, csv, json)");
  t.regex(err({ window: '1d', from: '2026-11-01', to: '2026-11-02' })?.message ?? '', /at most two of window, from and to/);
  t.regex(err({ colour: 'red' })?.message ?? '', /^colour: unknown parameter \(accepted: window, from, to, by, format\)$/);
  t.like(parseReportQuery({ window: '7d', by: 'ownership,pool' }, now), { from: now - 7 * 86_400_000, to: now, by: ['ownership', 'pool'], format: 'json' });
  t.like(parseReportQuery({ from: '2026-11-01T00:00:00Z', window: '1d' }, now), { from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 2) });
});

test('policy accounting settings are validated with the path and reason', (t) => {
  const bad = PolicySchema.safeParse({ ...policy, accounting: { billing: { 'aws-ec2': { per: 'fortnight' } }, costSplit: { cpu: 0, memGiB: 0, gpu: 0 } } });
  t.false(bad.success);
  const issues = bad.success ? [] : bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  t.true(issues.includes('accounting.billing.aws-ec2.per: one of: second, minute, hour'), issues.join('\n'));
  t.true(issues.includes('accounting.costSplit: at least one weight must be above 0'), issues.join('\n'));
  const both = PolicySchema.safeParse({ ...policy, pools: [{ ...policy.pools[1], costPerHour: 1 }] });
  t.true(!both.success && both.error.issues.some((i) => i.message === 'give costPerHour or amortisation, not both'));
  t.deepEqual(costModelOf(undefined), DEFAULT_COST_MODEL);
});
