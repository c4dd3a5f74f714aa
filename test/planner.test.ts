// The scale-up planner as a pure function: what it starts (and what not, and why) for a given
// demand, cluster and pool set. Pools are real pool-file objects (validated by PoolSchema).
import test from 'ava';
import { plan, HEADROOM_DEMAND_ID } from '../src/autoscaler/planner.ts';
import type { AgentCapacity, Demand, Plan, PlanInput, PoolState, ScalingPolicy, PlanHistory } from '../src/autoscaler/plan-types.ts';
import { PoolSchema, type Pool } from '../providers/pool-config.ts';
import { Bins, FitTree } from '../src/autoscaler/bins.ts';
import type { LaunchOption, Vec } from '../src/autoscaler/plan-types.ts';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

type TypeSpec = { name: string; cpus: number; mem: number; disk?: number; gpus?: number; price?: number; spotPrice?: number };

function rented(name: string, types: TypeSpec[], extra: Record<string, unknown> = {}): Pool {
  return PoolSchema.parse({ name, provider: 'aws-ec2', ownership: 'rented', max: 1000, aws: { region: 'eu-west-1', amiId: 'ami-1' }, instanceTypes: types, ...extra });
}
function ownedLocal(name: string, types: TypeSpec[], extra: Record<string, unknown> = {}): Pool {
  return PoolSchema.parse({ name, provider: 'local', ownership: 'owned', max: 1000, costPerHour: 0.01, instanceTypes: types, ...extra });
}
function staticPool(name: string, machines: { name: string; cpus: number; mem: number; attributes?: Record<string, string> }[], extra: Record<string, unknown> = {}): Pool {
  return PoolSchema.parse({
    name, provider: 'static', ownership: 'owned', max: 1000,
    static: { machines: machines.map((m) => ({ address: `10.0.0.${m.name.length}`, ...m })), powerOn: 'true' }, ...extra,
  });
}
function demand(id: string, cpus: number, mem: number, count: number, extra: Partial<Demand> = {}): Demand {
  return { id, frameworkId: 'fw', role: 'r', shape: { cpus, mem }, count, since: NOW - 1000, ...extra };
}
function agent(id: string, cpus: number, mem: number, extra: Partial<AgentCapacity> = {}): AgentCapacity {
  return { id, free: { cpus, mem, disk: 100_000, gpus: 0 }, attributes: {}, ...extra };
}

const POLICY: ScalingPolicy = { expanders: ['priority', 'least-waste', 'cheapest'], maxLaunchesPerMinute: 1000, budgetPerHour: 1000, headroom: { cpus: 0, mem: 0 } };
const HISTORY: PlanHistory = { launchesInLastMinute: 0, currentRentedSpendPerHour: 0, backoff: [], cooldownUntil: {} };

function input(over: { demands?: Demand[]; agents?: AgentCapacity[]; pools: Pool[]; poolStates?: PoolState[]; policy?: Partial<ScalingPolicy>; history?: Partial<PlanHistory> }): PlanInput {
  return {
    now: NOW, demands: over.demands ?? [], agents: over.agents ?? [], pools: over.pools, poolStates: over.poolStates ?? [],
    policy: { ...POLICY, ...over.policy }, history: { ...HISTORY, ...over.history },
  };
}

const launched = (p: Plan, pool?: string): number => p.steps.filter((s) => !pool || s.pool === pool).reduce((n, s) => n + s.count, 0);
const M4 = { name: 'm4', cpus: 4, mem: 16384, price: 0.2 };

test('free agent capacity is used before anything is started', (t) => {
  const p = plan(input({
    demands: [demand('d', 1, 1024, 6)],
    agents: [agent('a1', 4, 8192), agent('a2', 2, 2048), agent('busy', 0.5, 100)],
    pools: [rented('aws', [M4]), ownedLocal('lab', [M4])],
  }));
  t.deepEqual(p.steps, []);
  t.is(p.placements.onAgents, 6);
  t.deepEqual(p.placements.agents, [{ agentId: 'a1', units: [{ demandId: 'd', count: 4 }] }, { agentId: 'a2', units: [{ demandId: 'd', count: 2 }] }]);
  t.deepEqual(p.unmet, []);
});

test('draining agents take nothing', (t) => {
  const p = plan(input({ demands: [demand('d', 1, 1024, 2)], agents: [agent('a1', 4, 8192, { draining: true })], pools: [rented('aws', [M4])] }));
  t.is(p.placements.onAgents, 0);
  t.is(launched(p, 'aws'), 1);
});

test('owned capacity (powered-off static machines, then owned pools) is used before rented', (t) => {
  const p = plan(input({
    demands: [demand('d', 2, 4096, 10)],
    pools: [
      rented('aws', [M4], { priority: 100 }),
      staticPool('rack', [{ name: 'r1', cpus: 8, mem: 32768 }, { name: 'r2', cpus: 8, mem: 32768 }, { name: 'r3', cpus: 8, mem: 32768 }], { priority: 5 }),
      ownedLocal('lab', [{ name: 'small', cpus: 2, mem: 4096 }], { max: 3, priority: 1 }),
    ],
    poolStates: [{ name: 'rack', running: 1, pending: 0, offMachines: ['r2', 'r3'] }],
  }));
  // rack first (priority 5): r2 and r3 hold 4 units each; lab (priority 1): 2 more; nothing rented.
  t.deepEqual(p.steps.map((s) => [s.kind, s.pool, s.instanceType, s.count]), [
    ['power-on', 'rack', 'r2', 1], ['power-on', 'rack', 'r3', 1], ['launch', 'lab', 'small', 2],
  ]);
  t.is(p.placements.onOwned, 10);
  t.is(p.placements.onRented, 0);
  t.regex(p.steps[0].reason, /power on machine r2 .* owned pool rack .*4 units of 1 demand/);
});

test('owned pools below max first, the rest spills into rented', (t) => {
  const p = plan(input({
    demands: [demand('d', 4, 8192, 5)],
    pools: [rented('aws', [M4]), ownedLocal('lab', [M4], { max: 3 })],
    poolStates: [{ name: 'lab', running: 1, pending: 0 }],
  }));
  t.is(launched(p, 'lab'), 2);
  t.is(launched(p, 'aws'), 3);
  t.is(p.placements.onOwned, 2);
  t.is(p.placements.onRented, 3);
  t.is(p.rentedHourlyCost, 0.6);
});

test('first-fit-decreasing packing: 10 units of 1 cpu on 4-cpu types need 3 instances', (t) => {
  const p = plan(input({ demands: [demand('d', 1, 1024, 10)], pools: [rented('aws', [M4])] }));
  t.is(p.steps.length, 1);
  t.is(p.steps[0].count, 3);
  t.deepEqual(p.steps[0].units, [{ demandId: 'd', count: 10 }]);
  t.regex(p.steps[0].reason, /launch 3 × m4 \(on-demand, \$0\.20\/h each\) in pool aws for 10 units of 1 demand/);
});

test('first-fit-decreasing packing: big units first, small ones fill the gaps', (t) => {
  // 3,3,2,2,1,1 cpus on 4 cpus: [3,1] [3,1] [2,2] — 3 instances, not 4.
  const p = plan(input({
    demands: [demand('one', 1, 1, 2), demand('two', 2, 1, 2), demand('three', 3, 1, 2)],
    pools: [rented('aws', [M4])],
  }));
  t.is(launched(p), 3);
  t.deepEqual(p.steps[0].units, [{ demandId: 'three', count: 2 }, { demandId: 'two', count: 2 }, { demandId: 'one', count: 2 }]);
});

test('priority expander: the highest-priority pool wins even when dearer', (t) => {
  const p = plan(input({
    demands: [demand('d', 1, 1024, 4)],
    pools: [rented('cheap', [{ ...M4, price: 0.1 }], { priority: 1 }), rented('preferred', [{ ...M4, price: 0.5 }], { priority: 10 })],
    policy: { expanders: ['priority', 'cheapest'] },
  }));
  t.deepEqual(p.steps.map((s) => s.pool), ['preferred']);
  t.regex(p.steps[0].reason, /chosen by priority 10 among 2 options/);
});

test('least-waste expander: the type that leaves the least cpu+mem idle wins', (t) => {
  // 3 units of 2 cpus / 4 GiB: big (8 cpus, 16 GiB) → 1 instance, 2 cpus + 4 GiB idle (waste 0.5);
  // exact (6 cpus, 12 GiB) → 1 instance, nothing idle.
  const p = plan(input({
    demands: [demand('d', 2, 4096, 3)],
    pools: [rented('aws', [{ name: 'big', cpus: 8, mem: 16384, price: 0.1 }, { name: 'exact', cpus: 6, mem: 12288, price: 0.3 }])],
    policy: { expanders: ['least-waste'] },
  }));
  t.deepEqual(p.steps.map((s) => [s.instanceType, s.count]), [['exact', 1]]);
  t.regex(p.steps[0].reason, /chosen by waste 0 among 2 options/);
});

test('cheapest expander: lowest price per unit served, spot price for spot pools', (t) => {
  // 10 × 1 cpu: small (4 cpus, $0.20) → 3 × = $0.06/unit; large (16 cpus, $0.70) → 1 × = $0.07/unit;
  // spot large ($0.50 on-demand, $0.15 spot) → $0.015/unit.
  const base = input({
    demands: [demand('d', 1, 1024, 10)],
    pools: [rented('od', [{ name: 'small', cpus: 4, mem: 16384, price: 0.2 }, { name: 'large', cpus: 16, mem: 65536, price: 0.7 }])],
    policy: { expanders: ['cheapest'] },
  });
  t.deepEqual(plan(base).steps.map((s) => [s.instanceType, s.count, s.hourlyCost]), [['small', 3, 0.6]]);
  const withSpot = { ...base, pools: [...base.pools, rented('spot', [{ name: 'large', cpus: 16, mem: 65536, price: 0.5, spotPrice: 0.15 }], { capacityType: 'spot' })] };
  const p = plan(withSpot);
  t.deepEqual(p.steps.map((s) => [s.pool, s.instanceType, s.capacityType, s.count, s.unitPrice]), [['spot', 'large', 'spot', 1, 0.15]]);
  // Live prices from the provider override the price book.
  const live = plan({ ...withSpot, prices: { spot: [{ instanceType: 'large', zone: 'a', capacityType: 'spot', hourly: 0.9 }] } });
  t.deepEqual(live.steps.map((s) => [s.pool, s.instanceType]), [['od', 'small']]);
});

test('the chain breaks ties: priority ties go to least-waste, waste ties go to cheapest', (t) => {
  const demands = [demand('d', 2, 4096, 4)];
  const pools = [
    rented('a', [{ name: 'fit', cpus: 8, mem: 16384, price: 0.4 }], { priority: 5 }),
    rented('b', [{ name: 'fit', cpus: 8, mem: 16384, price: 0.3 }], { priority: 5 }),
    rented('c', [{ name: 'loose', cpus: 16, mem: 65536, price: 0.1 }], { priority: 5 }),
    rented('d', [{ name: 'fit', cpus: 8, mem: 16384, price: 0.01 }], { priority: 1 }),
  ];
  const p = plan(input({ demands, pools }));
  // priority keeps a, b, c; least-waste keeps a, b (c wastes half); cheapest picks b.
  t.deepEqual(p.steps.map((s) => [s.pool, s.count]), [['b', 1]]);
  t.regex(p.steps[0].reason, /chosen by priority 5 → waste 0 → \$0\.075\/unit\/h among 4 options/);
  // Order matters: cheapest first picks d outright.
  t.deepEqual(plan(input({ demands, pools, policy: { expanders: ['cheapest', 'priority'] } })).steps.map((s) => s.pool), ['d']);
  // Full ties end in pool name order.
  const tie = plan(input({ demands, pools: [rented('y', [M4]), rented('x', [M4])], policy: { expanders: ['priority'] } }));
  t.deepEqual(tie.steps.map((s) => s.pool), ['x']);
  t.regex(tie.steps[0].reason, /priority 0 → name/);
});

test('pool max: running + pending + planned never exceeds max; the rest spills or is unmet with the reason', (t) => {
  const pools = [rented('aws', [M4], { max: 5, priority: 10 })];
  const state = [{ name: 'aws', running: 2, pending: 1 }];
  const p = plan(input({ demands: [demand('d', 4, 8192, 6)], pools, poolStates: state }));
  t.is(launched(p, 'aws'), 2);
  t.regex(p.steps[0].reason, /capped at 2 by the pool max/);
  t.deepEqual(p.unmet, [{ demandId: 'd', count: 4, reason: 'pool aws is at its max of 5 (2 running, 1 pending, 2 planned)' }]);
  const spill = plan(input({ demands: [demand('d', 4, 8192, 6)], pools: [...pools, rented('gcp', [M4])], poolStates: state }));
  t.deepEqual(spill.steps.map((s) => [s.pool, s.count]), [['aws', 2], ['gcp', 4]]);
  t.deepEqual(spill.unmet, []);
  const full = plan(input({ demands: [demand('d', 4, 8192, 1)], pools, poolStates: [{ name: 'aws', running: 5, pending: 0 }] }));
  t.deepEqual(full.skipped, [{ pool: 'aws', instanceType: 'm4', reason: 'pool aws is at its max of 5 (5 running, 0 pending)' }]);
});

test('budget stops rented scale-up, with the reason in unmet; owned machines do not count', (t) => {
  const p = plan(input({
    demands: [demand('d', 4, 8192, 10)],
    pools: [rented('aws', [{ name: 'm5.large', cpus: 4, mem: 16384, price: 0.3 }]), ownedLocal('lab', [M4], { max: 2, costPerHour: 5 })],
    policy: { budgetPerHour: 5 },
    history: { currentRentedSpendPerHour: 3.8 },
  }));
  t.is(launched(p, 'lab'), 2);
  t.is(launched(p, 'aws'), 4);
  t.is(p.rentedHourlyCost, 1.2);
  t.regex(p.steps[1].reason, /capped at 4 by the budget/);
  t.deepEqual(p.unmet, [{ demandId: 'd', count: 4, reason: 'budget of $5.00/h reached (planned $5.00/h + m5.large $0.30/h)' }]);
  t.true(3.8 + p.rentedHourlyCost <= 5 + 1e-9);
});

test('unmet names the binding rule: the budget that stops most options, not the one pool at its max', (t) => {
  const p = plan(input({
    demands: [demand('d', 4, 8192, 10)],
    pools: [rented('top', [M4], { priority: 10, max: 1 }), rented('b', [M4]), rented('c', [M4])],
    policy: { budgetPerHour: 0.6 },
  }));
  t.is(launched(p), 3);
  t.deepEqual(p.unmet, [{ demandId: 'd', count: 7, reason: 'budget of $0.60/h reached (planned $0.60/h + m4 $0.20/h)' }]);
});

test('budget: when the dear type no longer fits, a cheaper one still may', (t) => {
  const p = plan(input({
    demands: [demand('d', 4, 8192, 3)],
    pools: [rented('aws', [{ name: 'dear', cpus: 4, mem: 16384, price: 1 }], { priority: 10 }), rented('gcp', [{ name: 'cheap', cpus: 4, mem: 16384, price: 0.25 }])],
    policy: { budgetPerHour: 2.5 },
  }));
  t.deepEqual(p.steps.map((s) => [s.pool, s.count]), [['aws', 2], ['gcp', 1]]);
  t.deepEqual(p.unmet, []);
});

test('launch rate: launches in the last minute + planned stay within the limit', (t) => {
  const p = plan(input({
    demands: [demand('d', 4, 8192, 20)],
    pools: [rented('aws', [M4])],
    policy: { maxLaunchesPerMinute: 10 },
    history: { launchesInLastMinute: 4 },
  }));
  t.is(launched(p), 6);
  t.is(p.launches, 6);
  t.is(p.unmet.length, 1);
  t.is(p.unmet[0].count, 14);
  t.regex(p.unmet[0].reason, /^launch rate 10\/min reached \(4 in the last minute, 6 planned\)$/);
  const exhausted = plan(input({ demands: [demand('d', 4, 8192, 1)], pools: [rented('aws', [M4])], policy: { maxLaunchesPerMinute: 10 }, history: { launchesInLastMinute: 10 } }));
  t.deepEqual(exhausted.steps, []);
  t.regex(exhausted.skipped[0].reason, /launch rate 10\/min reached/);
});

test('cooldown: a pool cooling down is skipped with the reason', (t) => {
  const cooldownUntil = { aws: NOW + 60_000 };
  const only = plan(input({ demands: [demand('d', 4, 8192, 2)], pools: [rented('aws', [M4])], history: { cooldownUntil } }));
  t.deepEqual(only.steps, []);
  t.deepEqual(only.unmet, [{ demandId: 'd', count: 2, reason: 'pool aws is cooling down until 2025-01-01T12:01:00.000Z' }]);
  const other = plan(input({ demands: [demand('d', 4, 8192, 2)], pools: [rented('aws', [M4], { priority: 9 }), rented('gcp', [M4])], history: { cooldownUntil } }));
  t.deepEqual(other.steps.map((s) => s.pool), ['gcp']);
  t.deepEqual(other.skipped, [{ pool: 'aws', instanceType: 'm4', reason: 'pool aws is cooling down until 2025-01-01T12:01:00.000Z' }]);
  // A cooldown in the past is over.
  t.is(launched(plan(input({ demands: [demand('d', 4, 8192, 2)], pools: [rented('aws', [M4])], history: { cooldownUntil: { aws: NOW } } }))), 2);
});

test('backoff: a pool or one type backing off after failures is skipped with the reason', (t) => {
  const until = NOW + 300_000;
  const spot = rented('aws-spot', [M4, { name: 'm8', cpus: 8, mem: 32768, price: 0.4, spotPrice: 0.12 }], { capacityType: 'spot' });
  const whole = plan(input({ demands: [demand('d', 4, 8192, 2)], pools: [spot], history: { backoff: [{ pool: 'aws-spot', until, reason: 'InsufficientInstanceCapacity' }] } }));
  t.deepEqual(whole.steps, []);
  t.deepEqual(whole.unmet, [{ demandId: 'd', count: 2, reason: 'pool aws-spot is backing off until 2025-01-01T12:05:00.000Z: InsufficientInstanceCapacity' }]);
  t.deepEqual(whole.skipped, [{ pool: 'aws-spot', reason: 'pool aws-spot is backing off until 2025-01-01T12:05:00.000Z: InsufficientInstanceCapacity' }]);
  // Only m8 backs off: m4 is used instead.
  const typeOnly = plan(input({ demands: [demand('d', 4, 8192, 2)], pools: [spot], history: { backoff: [{ pool: 'aws-spot', instanceType: 'm8', until, reason: 'InsufficientInstanceCapacity' }] } }));
  t.deepEqual(typeOnly.steps.map((s) => [s.instanceType, s.count]), [['m4', 2]]);
  // An expired backoff is ignored.
  t.is(launched(plan(input({ demands: [demand('d', 4, 8192, 2)], pools: [spot], history: { backoff: [{ pool: 'aws-spot', until: NOW - 1, reason: 'x' }] } }))), 1);
  // Static machines back off by name.
  const rack = staticPool('rack', [{ name: 'r1', cpus: 8, mem: 32768 }, { name: 'r2', cpus: 8, mem: 32768 }]);
  const p = plan(input({ demands: [demand('d', 8, 8192, 1)], pools: [rack], poolStates: [{ name: 'rack', running: 0, pending: 0, offMachines: ['r1', 'r2'] }],
    history: { backoff: [{ pool: 'rack', instanceType: 'r1', until, reason: 'never registered' }] } }));
  t.deepEqual(p.steps.map((s) => s.instanceType), ['r2']);
});

test('constraints: units go only to agents and pools whose attributes match', (t) => {
  const p = plan(input({
    demands: [demand('gpu', 1, 1024, 3, { constraints: [{ attribute: 'accel', value: 'a100' }] }), demand('any', 1, 1024, 2)],
    agents: [agent('plain', 2, 4096), agent('gpu-box', 1, 4096, { attributes: { accel: 'a100' } })],
    pools: [rented('aws', [M4], { priority: 10 }), rented('gpus', [M4], { attributes: { accel: 'a100' } })],
  }));
  t.deepEqual(p.placements.agents, [{ agentId: 'gpu-box', units: [{ demandId: 'gpu', count: 1 }] }, { agentId: 'plain', units: [{ demandId: 'any', count: 2 }] }]);
  t.deepEqual(p.steps.map((s) => [s.pool, s.count, s.units]), [['gpus', 1, [{ demandId: 'gpu', count: 2 }]]]);
  // The pool name is an attribute too (agents of a pool carry it).
  const byPool = plan(input({ demands: [demand('d', 1, 1024, 1, { constraints: [{ attribute: 'pool', value: 'b' }] })], pools: [rented('a', [M4], { priority: 5 }), rented('b', [M4])] }));
  t.deepEqual(byPool.steps.map((s) => s.pool), ['b']);
});

test('instances still booting count as empty capacity: the same demand is not launched for twice', (t) => {
  const pools = [rented('aws', [M4, { name: 'm8', cpus: 8, mem: 32768, price: 0.4 }], { max: 10 })];
  const p = plan(input({ demands: [demand('d', 2, 4096, 7)], pools, poolStates: [{ name: 'aws', running: 0, pending: 1, booting: { m8: 1 } }] }));
  // The booting m8 holds 4 units; 3 are left → 2 × m4 (or 1 × m8) more, not 4 × m4.
  t.is(p.placements.onBooting, 4);
  t.deepEqual(p.placements.byDemand[0], { demandId: 'd', count: 7, onAgents: 0, onBooting: 4, onOwned: 0, onRented: 3, unmet: 0, impossible: 0 });
  t.true(launched(p) <= 2);
});

test('impossible demand is reported, not chased', (t) => {
  const p = plan(input({
    demands: [
      demand('huge', 64, 1_000_000, 2),
      demand('nowhere', 1, 1024, 3, { constraints: [{ attribute: 'rack', value: 'z' }] }),
      demand('mismatch', 8, 1024, 1, { constraints: [{ attribute: 'accel', value: 'a100' }] }),
      demand('ok', 1, 1024, 1),
    ],
    agents: [agent('a', 0, 0)],
    pools: [rented('aws', [M4, { name: 'm8', cpus: 8, mem: 32768, price: 0.4 }]), rented('gpus', [M4], { attributes: { accel: 'a100' } })],
    policy: { expanders: ['cheapest'] },
  }));
  t.deepEqual(p.impossible, [
    { demandId: 'huge', count: 2, reason: 'needs 64 cpus, 1000000 MB mem: bigger than every instance type and machine of every pool, and no agent has that much free' },
    { demandId: 'nowhere', count: 3, reason: 'constraints rack=z match no pool, and no agent matching them has room' },
    { demandId: 'mismatch', count: 1, reason: 'no pool matching accel=a100 has an instance type or machine that holds 8 cpus, 1024 MB mem' },
  ]);
  t.deepEqual(p.steps.map((s) => [s.pool, s.instanceType, s.count]), [['aws', 'm4', 1]]);
  t.deepEqual(p.unmet, []);
  t.is(p.placements.impossible, 6);
  // A pool with max 0 can never hold anything.
  const zero = plan(input({ demands: [demand('d', 1, 1024, 1)], pools: [rented('aws', [M4], { max: 0 })] }));
  t.is(zero.impossible.length, 1);
  // Existing agents could hold it: not impossible, only unmet.
  const agentsOnly = plan(input({ demands: [demand('d', 32, 1024, 3)], agents: [agent('big', 32, 4096)], pools: [rented('aws', [M4])] }));
  t.is(agentsOnly.placements.onAgents, 1);
  t.deepEqual(agentsOnly.impossible, []);
  t.regex(agentsOnly.unmet[0].reason, /only existing agents can hold 32 cpus/);
});

test('headroom is one synthetic unit: kept on free capacity if there is room, else started', (t) => {
  const headroom = { cpus: 2, mem: 4096 };
  const spare = plan(input({ agents: [agent('a', 4, 8192)], pools: [rented('aws', [M4])], policy: { headroom } }));
  t.deepEqual(spare.steps, []);
  t.deepEqual(spare.placements.agents, [{ agentId: 'a', units: [{ demandId: HEADROOM_DEMAND_ID, count: 1 }] }]);
  const none = plan(input({ demands: [demand('d', 2, 4096, 2)], agents: [agent('a', 4, 8192)], pools: [rented('aws', [M4])], policy: { headroom } }));
  t.deepEqual(none.steps.map((s) => [s.count, s.units]), [[1, [{ demandId: HEADROOM_DEMAND_ID, count: 1 }]]]);
  t.deepEqual(none.placements.byDemand.map((d) => d.demandId), ['d', HEADROOM_DEMAND_ID]);
});

function bigInput(seed: number): PlanInput {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const cpuses = [0.5, 1, 2, 4, 8, 16];
  const mems = [512, 1024, 4096, 8192, 16384, 65536];
  const pools: Pool[] = [];
  const poolStates: PoolState[] = [];
  const nPools = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < nPools; i++) {
    const types = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, j) => ({
      name: `t${j}`, cpus: pick(cpuses), mem: pick(mems), price: Math.round(rnd() * 100) / 100, spotPrice: Math.round(rnd() * 50) / 100,
    }));
    const extra = { max: Math.floor(rnd() * 30), priority: Math.floor(rnd() * 3), attributes: rnd() < 0.3 ? { zone: pick(['a', 'b']) } : {} };
    if (rnd() < 0.25) pools.push(ownedLocal(`own${i}`, types, extra));
    else pools.push(rented(`pool${i}`, types, { ...extra, capacityType: rnd() < 0.5 ? 'spot' : 'on-demand' }));
    const pending = Math.floor(rnd() * 3);
    poolStates.push({ name: pools[i].name, running: Math.floor(rnd() * 10), pending, booting: rnd() < 0.5 ? { t0: pending } : undefined });
  }
  if (rnd() < 0.5) {
    const machines = Array.from({ length: 1 + Math.floor(rnd() * 5) }, (_, j) => ({ name: `m${j}`, cpus: pick(cpuses), mem: pick(mems) }));
    pools.push(staticPool('rack', machines, { max: Math.floor(rnd() * 6) }));
    poolStates.push({ name: 'rack', running: 0, pending: 0, offMachines: machines.filter(() => rnd() < 0.7).map((m) => m.name) });
  }
  const demands = Array.from({ length: 1 + Math.floor(rnd() * 12) }, (_, i) => demand(`d${i}`, pick(cpuses), pick(mems), 1 + Math.floor(rnd() * 40),
    rnd() < 0.2 ? { constraints: [{ attribute: 'zone', value: pick(['a', 'b', 'c']) }] } : {}));
  const agents = Array.from({ length: Math.floor(rnd() * 8) }, (_, i) => agent(`a${i}`, pick(cpuses), pick(mems), { draining: rnd() < 0.1 }));
  const backoff = pools.filter(() => rnd() < 0.15).map((p) => ({ pool: p.name, until: NOW + 1000, reason: 'InsufficientInstanceCapacity' }));
  const cooldownUntil = Object.fromEntries(pools.filter(() => rnd() < 0.15).map((p) => [p.name, NOW + 1000]));
  return input({
    demands, agents, pools, poolStates,
    policy: {
      expanders: [...(['priority', 'least-waste', 'cheapest'] as const)].sort(() => rnd() - 0.5),
      maxLaunchesPerMinute: Math.floor(rnd() * 40), budgetPerHour: Math.round(rnd() * 2000) / 100,
      headroom: rnd() < 0.3 ? { cpus: pick(cpuses), mem: pick(mems) } : { cpus: 0, mem: 0 },
    },
    history: { launchesInLastMinute: Math.floor(rnd() * 10), currentRentedSpendPerHour: Math.round(rnd() * 500) / 100, backoff, cooldownUntil },
  });
}

test('determinism: the same input gives the same plan, whatever the agents\' order', (t) => {
  for (let seed = 1; seed <= 30; seed++) {
    const inp = bigInput(seed);
    const a = plan(inp);
    t.deepEqual(plan(structuredClone(inp)), a);
    t.deepEqual(plan({ ...inp, agents: [...inp.agents].reverse() }), a);
  }
});

test('randomized: plans never exceed pool max, budget or launch rate, and account for every unit', (t) => {
  for (let seed = 1; seed <= 400; seed++) {
    const inp = bigInput(seed);
    const p = plan(inp);
    const msg = `seed ${seed}`;
    for (const pool of inp.pools) {
      const st = inp.poolStates.find((s) => s.name === pool.name)!;
      const planned = launched(p, pool.name);
      if (planned > 0) t.true(st.running + st.pending + planned <= pool.max, `${msg}: pool ${pool.name} max`);
      if (planned > 0) t.false(inp.history.backoff.some((b) => b.pool === pool.name) || (inp.history.cooldownUntil[pool.name] ?? 0) > NOW, `${msg}: ${pool.name} backoff/cooldown`);
    }
    const rentedCost = p.steps.filter((s) => s.ownership === 'rented').reduce((c, s) => c + s.hourlyCost, 0);
    if (rentedCost > 0) t.true(inp.history.currentRentedSpendPerHour + rentedCost <= inp.policy.budgetPerHour + 1e-6, `${msg}: budget`);
    if (p.launches > 0) t.true(inp.history.launchesInLastMinute + p.launches <= inp.policy.maxLaunchesPerMinute, `${msg}: rate`);
    t.is(p.launches, launched(p), msg);
    for (const d of p.placements.byDemand) {
      t.is(d.onAgents + d.onBooting + d.onOwned + d.onRented + d.unmet + d.impossible, d.count, `${msg}: ${d.demandId} accounted`);
    }
    const unmet = p.unmet.reduce((n, u) => n + u.count, 0);
    t.is(unmet, p.placements.unmet, msg);
    for (const u of p.unmet) t.regex(u.reason, /^(pool |budget of |launch rate |only existing agents)/, `${msg}: ${u.reason}`);
    // What a step is planned to hold fits in its instances (per dimension, in total).
    for (const s of p.steps) {
      const pool = inp.pools.find((x) => x.name === s.pool)!;
      const shape = pool.provider === 'static' ? pool.static!.machines.find((m) => m.name === s.instanceType)! : pool.instanceTypes.find((x) => x.name === s.instanceType)!;
      let cpus = 0;
      let mem = 0;
      for (const u of s.units) {
        const d = u.demandId === HEADROOM_DEMAND_ID ? inp.policy.headroom : inp.demands.find((x) => x.id === u.demandId)!.shape;
        cpus += u.count * d.cpus;
        mem += u.count * d.mem;
      }
      t.true(cpus <= s.count * shape.cpus + 1e-6 && mem <= s.count * shape.mem + 1e-6, `${msg}: step ${s.pool}/${s.instanceType} overfull`);
    }
  }
});

test('fit tree: the first slot that covers a need is the one a linear scan finds', (t) => {
  const rnd = mulberry32(7);
  const vec = (): Vec => ({ cpus: Math.floor(rnd() * 9), mem: Math.floor(rnd() * 9), disk: Infinity, gpus: rnd() < 0.2 ? 1 : 0 });
  const slots: Vec[] = Array.from({ length: 37 }, vec);
  const tree = FitTree.of(slots);
  for (let i = 0; i < 3000; i++) {
    if (rnd() < 0.3) {
      const s = Math.floor(rnd() * slots.length);
      slots[s] = vec();
      tree.set(s, slots[s]);
    }
    if (rnd() < 0.05) {
      const v = vec();
      slots.push(v);
      tree.pushValues(v.cpus, v.mem, v.disk, v.gpus);
    }
    const need = { cpus: Math.floor(rnd() * 9), mem: Math.floor(rnd() * 9), disk: 0, gpus: rnd() < 0.1 ? 1 : 0 };
    const from = Math.floor(rnd() * slots.length);
    const odd = rnd() < 0.5 ? (s: number) => s % 2 === 1 : undefined;
    const expected = slots.findIndex((v, s) => s >= from && v.cpus >= need.cpus && v.mem >= need.mem && v.gpus >= need.gpus && (!odd || odd(s)));
    t.is(tree.first(need, from, odd), expected);
  }
});

test('bin classes: packing conserves capacity and never leaves a machine overfull', (t) => {
  const rnd = mulberry32(11);
  for (let round = 0; round < 50; round++) {
    const shape = { cpus: 1 + Math.floor(rnd() * 16), mem: 1024 * (1 + Math.floor(rnd() * 64)), disk: Infinity, gpus: 0 };
    const opt = { index: 0, pool: rented('p', [M4]), kind: 'launch', ownership: 'rented', capacityType: 'on-demand', name: 'x', shape, attributes: {}, price: 1 } as LaunchOption;
    const bins = new Bins();
    let machines = 0;
    const used = { cpus: 0, mem: 0 };
    const units = Array.from({ length: 40 }, () => ({ cpus: Math.round(rnd() * shape.cpus * 100) / 100 || 0.5, mem: Math.floor(rnd() * shape.mem) || 1, disk: 0, gpus: 0 }))
      .sort((a, b) => b.cpus / shape.cpus - a.cpus / shape.cpus);
    for (const u of units) {
      let k = 1 + Math.floor(rnd() * 30);
      const wanted = k;
      k = bins.place(u, undefined, k);
      if (k > 0) {
        const per = Math.min(Math.floor(shape.cpus / u.cpus), Math.floor(shape.mem / u.mem), k);
        const n = Math.ceil(k / per);
        bins.open(opt, u, n, per, k);
        machines += n;
      }
      used.cpus += wanted * u.cpus;
      used.mem += wanted * u.mem;
    }
    const totals = bins.totals();
    t.is(totals.machines, machines);
    t.true(Math.abs(totals.free.cpus + used.cpus - machines * shape.cpus) < 1e-6);
    t.true(Math.abs(totals.free.mem + used.mem - machines * shape.mem) < 1e-6);
  }
});

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
