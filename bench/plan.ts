// `npm run bench:plan` — the scale-up planner's own cost: one `plan()` call, which is the engine
// part of "REQUEST → provider launch call" (the rest is queueing and the provider's API).
//
// A synthetic cluster, built once per scenario from a fixed seed (the same every run):
//   agents   10 000, 95 % of them (nearly) full, the rest with 1–8 cpus free; 2 % draining.
//   pools    100: 10 static racks (10 machines each, half powered off), 10 owned local pools, 80
//            rented pools (aws-ec2 / gcp-compute, half spot), 1–2 instance types each out of a
//            catalogue of 100 types (all used); 20 % of pools carry a `zone` attribute; some pools back off
//            or cool down.
//   demand   1 000 demands × 100 units = 100 000 pending task units, shapes from 0.25 cpus/256 MB
//            to 16 cpus/64 GB, 10 % constrained to a zone.
// Scenarios: `roomy` (budget and launch rate do not bind; pool maxes do), `budget-bound` (the
// budget runs out part-way: the rented rounds end early), `rate-bound` (launch rate 200/min),
// `distinct-shapes` (the worst case we know: like roomy, but all 1 000 demands have different,
// non-round shapes — no two machines end in the same state, so bin classes do not merge — and
// every rented pool has the same priority, so every option is simulated in every round).
//
// One JSON line per scenario on stdout: agents, pools, instance_types, demands, pending_tasks,
// runs, p50_ms / p99_ms (wall time of one plan() call), cpu_p50_ms / cpu_p99_ms (this process's
// CPU time during the call — robust on a busy machine), steps, launches, units placed / unmet, and
// target_met (p99 ≤ 1000 ms). Progress on stderr.
// Flags: --runs <n> (20), --warmup <n> (3), --agents, --demands, --units (per demand),
// --scenario roomy|budget-bound|rate-bound|distinct-shapes|all (all), --check (exit 1 when the target is missed).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { plan } from '../src/autoscaler/planner.ts';
import type { AgentCapacity, Demand, PlanInput, PoolState } from '../src/autoscaler/plan-types.ts';
import { PoolSchema, type Pool } from '../providers/pool-config.ts';
import { percentile, round1 } from './lib/stats.ts';

const TARGET_P99_MS = 1000;
const NOW = Date.UTC(2025, 0, 1);
type Scenario = 'roomy' | 'budget-bound' | 'rate-bound' | 'distinct-shapes';
const SCENARIOS: Scenario[] = ['roomy', 'budget-bound', 'rate-bound', 'distinct-shapes'];

const log = (s: string): void => { process.stderr.write(`[bench:plan] ${s}\n`); };

function commitOf(): string {
  const out = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : 'unknown';
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sizes { agents: number; demands: number; units: number }

function build(scenario: Scenario, sizes: Sizes): PlanInput {
  const rnd = mulberry32(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const zones = ['a', 'b', 'c'];

  // A catalogue of 100 instance types: families × sizes, price roughly proportional to size.
  const catalogue = Array.from({ length: 100 }, (_, i) => {
    const cpus = [2, 4, 8, 16, 32, 48, 64, 96][i % 8];
    const memPerCpu = [2048, 4096, 8192][Math.floor(i / 8) % 3];
    const gpus = i % 25 === 24 ? 1 : 0;
    const price = Math.round(cpus * (memPerCpu / 4096) * (0.02 + rnd() * 0.01) * 10000) / 10000 + gpus;
    return { name: `t${i}.${cpus}x`, cpus, mem: cpus * memPerCpu, gpus, price, spotPrice: Math.round(price * (0.25 + rnd() * 0.2) * 10000) / 10000 };
  });

  const samePriority = scenario === 'distinct-shapes';
  const pools: Pool[] = [];
  const poolStates: PoolState[] = [];
  for (let i = 0; i < 10; i++) {
    const machines = Array.from({ length: 10 }, (_, j) => ({ name: `r${i}m${j}`, address: `10.${i}.0.${j}`, cpus: pick([16, 32, 64]), mem: pick([65536, 131072]), costPerHour: 0.05 }));
    pools.push(PoolSchema.parse({ name: `rack-${i}`, provider: 'static', ownership: 'owned', max: 10, priority: 100, static: { machines, powerOn: 'true' }, attributes: { zone: pick(zones) } }));
    poolStates.push({ name: `rack-${i}`, running: 5, pending: 0, offMachines: machines.slice(5).map((m) => m.name) });
  }
  for (let i = 0; i < 10; i++) {
    pools.push(PoolSchema.parse({ name: `lab-${i}`, provider: 'local', ownership: 'owned', max: 20, priority: 50, costPerHour: 0.02, instanceTypes: [pick(catalogue)] }));
    poolStates.push({ name: `lab-${i}`, running: 10 + Math.floor(rnd() * 10), pending: 0 });
  }
  for (let i = 0; i < 80; i++) {
    const types = rnd() < 0.5 ? [catalogue[i]] : [catalogue[i], catalogue[80 + (i % 20)]];
    const aws = i % 2 === 0;
    const priority = Math.floor(rnd() * 3);
    pools.push(PoolSchema.parse({
      name: `${aws ? 'aws' : 'gcp'}-${i}`, provider: aws ? 'aws-ec2' : 'gcp-compute', ownership: 'rented',
      capacityType: i % 4 < 2 ? 'spot' : 'on-demand', max: 150 + Math.floor(rnd() * 150), priority: samePriority ? 0 : priority,
      attributes: rnd() < 0.2 ? { zone: pick(zones) } : {}, instanceTypes: types,
      ...(aws ? { aws: { region: 'eu-west-1', amiId: 'ami-1' } } : { gcp: { project: 'p', zone: 'europe-west1-b', sourceImage: 'img' } }),
    }));
    poolStates.push({ name: pools[pools.length - 1].name, running: Math.floor(rnd() * 50), pending: Math.floor(rnd() * 5) });
  }

  const agents: AgentCapacity[] = Array.from({ length: sizes.agents }, (_, i) => {
    const roomy = rnd() < 0.05;
    return {
      id: `agent-${String(i).padStart(5, '0')}`, pool: pools[i % pools.length].name,
      free: roomy ? { cpus: 1 + Math.floor(rnd() * 8), mem: 1024 * (1 + Math.floor(rnd() * 16)), disk: 100_000, gpus: 0 } : { cpus: Math.floor(rnd() * 3) / 10, mem: Math.floor(rnd() * 128), disk: 1000, gpus: 0 },
      attributes: { zone: pick(zones), pool: pools[i % pools.length].name }, draining: rnd() < 0.02,
    };
  });

  const shapes = [[0.25, 256], [0.5, 512], [1, 1024], [1, 2048], [2, 4096], [2, 8192], [4, 8192], [4, 16384], [8, 32768], [16, 65536]] as const;
  const demands: Demand[] = Array.from({ length: sizes.demands }, (_, i) => {
    const [cpus, mem] = scenario === 'distinct-shapes' ? [0.01 + Math.round(rnd() * 400) / 100, 1 + Math.floor(rnd() * 16000)] : pick(shapes);
    return {
      id: `fw-${i % 50}#${i}`, frameworkId: `fw-${i % 50}`, role: `role-${i % 7}`, shape: { cpus, mem }, count: sizes.units,
      constraints: rnd() < 0.1 ? [{ attribute: 'zone', value: pick(zones) }] : undefined, since: NOW - Math.floor(rnd() * 600_000),
    };
  });

  const backoff = pools.filter((p) => p.ownership === 'rented' && rnd() < 0.05).map((p) => ({ pool: p.name, until: NOW + 300_000, reason: 'InsufficientInstanceCapacity' }));
  const cooldownUntil = Object.fromEntries(pools.filter((p) => p.ownership === 'rented' && rnd() < 0.05).map((p) => [p.name, NOW + 60_000]));
  return {
    now: NOW, demands, agents, pools, poolStates,
    policy: {
      expanders: ['priority', 'least-waste', 'cheapest'],
      maxLaunchesPerMinute: scenario === 'rate-bound' ? 200 : 100_000,
      budgetPerHour: scenario === 'budget-bound' ? 150 : 1_000_000,
      headroom: { cpus: 8, mem: 16384 },
    },
    history: { launchesInLastMinute: 10, currentRentedSpendPerHour: 40, backoff, cooldownUntil },
  };
}

function parse(): { runs: number; warmup: number; scenarios: Scenario[]; sizes: Sizes; check: boolean } {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      agents: { type: 'string', default: '10000' },
      demands: { type: 'string', default: '1000' },
      units: { type: 'string', default: '100' },
      scenario: { type: 'string', default: 'all' },
      check: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (flag: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: '${v}' must be an integer ≥ ${min}`);
    return n;
  };
  let scenarios: Scenario[];
  if (values.scenario === 'all') scenarios = SCENARIOS;
  else if ((SCENARIOS as string[]).includes(values.scenario)) scenarios = [values.scenario as Scenario];
  else throw new Error(`--scenario: '${values.scenario}' is not one of ${SCENARIOS.join(', ')}, all`);
  return {
    runs: int('runs', values.runs, 1), warmup: int('warmup', values.warmup, 0), scenarios, check: values.check,
    sizes: { agents: int('agents', values.agents, 0), demands: int('demands', values.demands, 1), units: int('units', values.units, 1) },
  };
}

function main(): void {
  const opts = parse();
  const commit = commitOf();
  let missed = false;
  for (const scenario of opts.scenarios) {
    const input = build(scenario, opts.sizes);
    const wall: number[] = [];
    const cpu: number[] = [];
    let last: ReturnType<typeof plan> | undefined;
    for (let r = 0; r < opts.warmup + opts.runs; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      last = plan(input);
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (r >= opts.warmup) {
        wall.push(ms);
        cpu.push((c.user + c.system) / 1000);
      }
      log(`${scenario} run ${r + 1}/${opts.warmup + opts.runs}${r < opts.warmup ? ' (warm-up)' : ''}: ${ms.toFixed(1)} ms`);
    }
    const p = last!;
    const p99 = percentile(wall, 99);
    const met = p99 <= TARGET_P99_MS;
    missed ||= !met;
    process.stdout.write(JSON.stringify({
      bench: 'plan', scenario, commit,
      agents: input.agents.length, pools: input.pools.length,
      instance_types: new Set(input.pools.flatMap((x) => x.instanceTypes.map((t) => t.name))).size,
      static_machines: input.pools.reduce((n, x) => n + (x.static?.machines.length ?? 0), 0),
      demands: input.demands.length, pending_tasks: input.demands.reduce((n, d) => n + d.count, 0),
      runs: wall.length, p50_ms: round1(percentile(wall, 50)), p99_ms: round1(p99),
      cpu_p50_ms: round1(percentile(cpu, 50)), cpu_p99_ms: round1(percentile(cpu, 99)),
      steps: p.steps.length, launches: p.launches, rented_per_hour: Math.round(p.rentedHourlyCost * 100) / 100,
      on_agents: p.placements.onAgents, on_owned: p.placements.onOwned, on_rented: p.placements.onRented,
      unmet: p.placements.unmet, impossible: p.placements.impossible,
      target_p99_ms: TARGET_P99_MS, target_met: met,
    }) + '\n');
  }
  if (opts.check && missed) process.exit(1);
}

main();
