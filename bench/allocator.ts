// `npm run bench:allocator` — the allocation engine alone (src/allocator), no master, no I/O.
//
// The shape of Apache Mesos' HierarchicalAllocator_BENCHMARK_Test.DeclineOffers: A agents of
// cpus:24;mem:49152;disk:1000000;ports:[31000-32000], each with some resources already in use by
// framework i % F (16 cpus, 2014 mem, 1024 disk, 16 scattered ports; --no-used to leave agents
// empty); F frameworks in role '*' (or spread over roles). Then
//   1. the cold round: the first allocateRound, which hands out offers (timed: cold_round_ms);
//   2. every framework declines every agent with a long filter (refuse_seconds 3600): the offers
//      of round 1 through recover(…, { refuseSeconds, now }), exactly as a DECLINE does, then every
//      (framework, agent) pair through refuse(), as a DECLINE of an optimistic offer does.
//      This is the state Mesos' benchmark reaches after its F decline rounds, without running them
//      (`--fill rounds` runs them instead: allocate, decline all, repeat until nothing is offered;
//      O(A·F²), for small sizes);
//   3. the measured rounds: allocateRound with everyone filtered, so nothing is offered. This is
//      round_ms (median), p50_ms/p99_ms, over --rounds rounds (default: as many as fit in ~10 s,
//      3..30), the clock advancing 1 s per round.
// Every round visits agents in one shuffled order computed once (as the master does).
//
// Scenarios: decline (F frameworks in '*'), decline-roles (F spread over 10 roles),
// quota+reservations (F over 10 roles; 10% of agents carry a STATIC reservation of
// cpus:8;mem:16384;disk:100000 for one of the roles; roles 0–4 have quota guarantees, 5–9 limits).
// Without --scenario the default suite runs, each size in a child process of its own (clean heap):
//   decline 1k/100, decline 10k/1k, decline-roles 10k/1k, quota+reservations 10k/1k, decline 50k/2k.
// With --scenario, one scenario runs in this process (what `node --cpu-prof` profiles).
//
// One JSON line per scenario on stdout (scenario, agents, frameworks, round_ms, p50_ms, p99_ms,
// cold_round_ms, heap_mb, …, node, date); progress on stderr.
// Flags: --scenario decline|decline-roles|quota+reservations, --agents <n>, --frameworks <n>,
// --roles <n> (for the role scenarios, default 10), --rounds <n>, --fill refuse|rounds,
// --no-used, --seed <n>, --check (exit 1 when a target is missed), --cpu-prof-rounds <file>
// (a .cpuprofile of the measured rounds only, through node:inspector; read it with
// `node --import=tsx bench/profile-top.ts <file>`).
// Targets (the issue): ≤ 100 ms per round at 10k agents / 1k frameworks, ≤ 1 s at 50k / 2k.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Allocator } from '../src/allocator/allocator.ts';
import { resources, type Range } from '../src/resources/resources.ts';
import { bucket, setOf, type ResourceSet } from '../src/resources/resource-set.ts';
import { percentile, round1 } from './lib/stats.ts';

type ScenarioName = 'decline' | 'decline-roles' | 'quota+reservations';
const SCENARIOS: readonly ScenarioName[] = ['decline', 'decline-roles', 'quota+reservations'];

interface Settings {
  scenario: ScenarioName;
  agents: number;
  frameworks: number;
  roles: number;
  rounds: number | undefined;
  fill: 'refuse' | 'rounds';
  used: boolean;
  seed: number;
  cpuProfRounds: string | undefined;
}

const SUITE: readonly { scenario: ScenarioName; agents: number; frameworks: number }[] = [
  { scenario: 'decline', agents: 1_000, frameworks: 100 },
  { scenario: 'decline', agents: 10_000, frameworks: 1_000 },
  { scenario: 'decline-roles', agents: 10_000, frameworks: 1_000 },
  { scenario: 'quota+reservations', agents: 10_000, frameworks: 1_000 },
  { scenario: 'decline', agents: 50_000, frameworks: 2_000 },
];

/** Round time targets from the issue, by size (agents/frameworks); other sizes have none. */
function targetMs(agents: number, frameworks: number): number | undefined {
  if (agents === 10_000 && frameworks === 1_000) return 100;
  if (agents === 50_000 && frameworks === 2_000) return 1_000;
  return undefined;
}

const REFUSE_SECONDS = 3600;
const INTERVAL_MS = 1000;
const MEASURE_BUDGET_MS = 10_000;

const log = (s: string): void => { process.stderr.write(`[bench:allocator] ${s}\n`); };

function commitOf(): string {
  const out = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : 'unknown';
}

// ---- flags -------------------------------------------------------------------------------------

interface Options { suite: boolean; check: boolean; settings: Settings[] }

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      agents: { type: 'string' },
      frameworks: { type: 'string' },
      roles: { type: 'string' },
      rounds: { type: 'string' },
      fill: { type: 'string', default: 'refuse' },
      'no-used': { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
      check: { type: 'boolean', default: false },
      'cpu-prof-rounds': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    const text = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
    process.stderr.write(text.filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
    process.exit(0);
  }
  const num = (flag: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: '${v}' must be an integer ≥ ${min}`);
    return n;
  };
  const fill = values.fill;
  if (fill !== 'refuse' && fill !== 'rounds') throw new Error(`--fill: '${fill}' is not one of refuse, rounds`);
  const scenario = values.scenario;
  if (scenario !== undefined && !SCENARIOS.includes(scenario as ScenarioName)) {
    throw new Error(`--scenario: '${scenario}' is not one of ${SCENARIOS.join(', ')}`);
  }
  const agents = num('agents', values.agents, 1);
  const frameworks = num('frameworks', values.frameworks, 1);
  const common: Omit<Settings, 'scenario' | 'agents' | 'frameworks'> = {
    roles: num('roles', values.roles, 1) ?? 10,
    rounds: num('rounds', values.rounds, 1),
    fill,
    used: !values['no-used'],
    seed: num('seed', values.seed, 0)!,
    cpuProfRounds: values['cpu-prof-rounds'],
  };
  if (scenario === undefined && agents === undefined && frameworks === undefined) {
    if (common.cpuProfRounds !== undefined) throw new Error('--cpu-prof-rounds needs --scenario (one scenario, in this process)');
    return { suite: true, check: values.check, settings: SUITE.map((s) => ({ ...s, ...common })) };
  }
  return {
    suite: false,
    check: values.check,
    settings: [{ scenario: (scenario ?? 'decline') as ScenarioName, agents: agents ?? 10_000, frameworks: frameworks ?? 1_000, ...common }],
  };
}

// ---- the cluster -------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so every run shuffles the same way. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const AGENT = { cpus: 24, mem: 49152, disk: 1_000_000 };
const PORTS: Range = [31000, 32000];
const USED = { cpus: 16, mem: 2014, disk: 1024 };
const RESERVED = { cpus: 8, mem: 16384, disk: 100_000 };

interface Cluster {
  allocator: Allocator;
  agentIds: string[];
  order: string[];
  /** Role of framework i. */
  roleOf: (i: number) => string;
  frameworkIds: string[];
}

function roleName(i: number): string {
  return `role${i}`;
}

function build(s: Settings): Cluster {
  const random = rng(s.seed);
  const allocator = new Allocator();
  const spread = s.scenario !== 'decline';
  const roleOf = (i: number): string => (spread ? roleName(i % s.roles) : '*');
  const frameworkIds: string[] = [];
  for (let i = 0; i < s.frameworks; i++) {
    const id = `fw-${String(i).padStart(5, '0')}`;
    frameworkIds.push(id);
    allocator.addFramework(id, [roleOf(i)]);
  }
  if (s.scenario === 'quota+reservations') {
    // Quota sized against the cluster: each guarantee is 2% of the cluster's cpus and mem, each
    // limit 5% (a role's frameworks would otherwise take ~10%, its share of the frameworks).
    const cpus = s.agents * AGENT.cpus;
    const mem = s.agents * AGENT.mem;
    for (let r = 0; r < Math.min(s.roles, 10); r++) {
      if (r < 5) allocator.setQuota(roleName(r), { guarantees: { cpus: cpus * 0.02, mem: mem * 0.02 }, limits: {} });
      else allocator.setQuota(roleName(r), { guarantees: {}, limits: { cpus: cpus * 0.05, mem: mem * 0.05 } });
    }
  }
  const agentIds: string[] = [];
  for (let i = 0; i < s.agents; i++) {
    const id = `agent-${String(i).padStart(6, '0')}`;
    agentIds.push(id);
    let total: ResourceSet;
    if (s.scenario === 'quota+reservations' && i % 10 === 0) {
      const unreserved = resources({ cpus: AGENT.cpus - RESERVED.cpus, mem: AGENT.mem - RESERVED.mem, disk: AGENT.disk - RESERVED.disk }, [PORTS]);
      total = setOf([bucket(unreserved), bucket(resources(RESERVED), { type: 'STATIC', role: roleName((i / 10) % s.roles) })]);
    } else {
      total = [bucket(resources(AGENT, [PORTS]))];
    }
    allocator.addAgent(id, total);
    if (s.used) {
      // 16 tasks of 1 cpu, each holding one port picked at random (as in Mesos' benchmark).
      const ports = new Set<number>();
      while (ports.size < 16) ports.add(PORTS[0] + Math.floor(random() * (PORTS[1] - PORTS[0] + 1)));
      const used = [bucket(resources(USED, [...ports].map((p): Range => [p, p])))];
      const fw = i % s.frameworks;
      allocator.allocate(frameworkIds[fw], roleOf(fw), id, used);
    }
  }
  return { allocator, agentIds, order: shuffled(agentIds, random), roleOf, frameworkIds };
}

// ---- measuring ---------------------------------------------------------------------------------

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const mb = (bytes: number): number => round1(bytes / (1024 * 1024));

interface Result {
  bench: 'allocator';
  scenario: ScenarioName;
  agents: number;
  frameworks: number;
  roles: number;
  used: boolean;
  fill: Settings['fill'];
  round_ms: number;
  p50_ms: number;
  p99_ms: number;
  min_ms: number;
  max_ms: number;
  rounds: number;
  offers_per_round: number;
  cold_round_ms: number;
  cold_offers: number;
  setup_ms: number;
  decline_ms: number;
  filters: number;
  heap_mb: number;
  heap_gc: boolean;
  array_buffers_mb: number;
  rss_mb: number;
  target_ms: number | null;
  met: boolean | null;
  node: string;
  cpus: number;
  commit: string;
  date: string;
}

async function runScenario(s: Settings): Promise<Result> {
  const label = `${s.scenario} ${s.agents} agents / ${s.frameworks} frameworks`;
  log(`${label}: building the cluster`);
  let t = performance.now();
  const c = build(s);
  const setupMs = performance.now() - t;
  const { allocator, order, agentIds, frameworkIds, roleOf } = c;
  let now = 1_700_000_000_000;

  gc();
  log(`${label}: built in ${Math.round(setupMs)} ms; cold round`);
  t = performance.now();
  const first = allocator.allocateRound(now, { agentOrder: order });
  const coldMs = performance.now() - t;
  log(`${label}: cold round ${round1(coldMs)} ms, ${first.length} offers; declining everything (refuse_seconds ${REFUSE_SECONDS})`);

  t = performance.now();
  let filters = 0;
  const decline = (offers: typeof first): void => {
    for (const o of offers) {
      allocator.recover(o.frameworkId, o.role, o.agentId, o.resources, { refuseSeconds: REFUSE_SECONDS, now });
      filters++;
    }
  };
  decline(first);
  if (s.fill === 'refuse') {
    // Every framework declines all of every agent's free resources, with the same filter. (A
    // framework offered part of an agent in round 1, its quota chopped, say, declines the whole
    // agent too: a filter only refuses offers it contains.)
    const free = agentIds.map((id) => allocator.agentFree(id));
    for (let f = 0; f < frameworkIds.length; f++) {
      const fid = frameworkIds[f];
      const role = roleOf(f);
      for (let i = 0; i < agentIds.length; i++) {
        allocator.refuse(fid, role, agentIds[i], free[i], REFUSE_SECONDS, now);
        filters++;
      }
      if ((f + 1) % Math.max(1, Math.floor(frameworkIds.length / 10)) === 0) log(`${label}:   ${f + 1}/${frameworkIds.length} frameworks declined everything`);
    }
  } else {
    // Mesos' way: allocate, decline all, until a round offers nothing.
    for (let round = 1; ; round++) {
      now += INTERVAL_MS;
      const offers = allocator.allocateRound(now, { agentOrder: order });
      if (offers.length === 0) break;
      decline(offers);
      if (round % 10 === 0) log(`${label}:   decline round ${round}: ${offers.length} offers`);
    }
  }
  const declineMs = performance.now() - t;
  gc();
  const mem = process.memoryUsage();
  log(`${label}: ${filters} filters in ${Math.round(declineMs)} ms; heap ${mb(mem.heapUsed)} MB; measuring filtered rounds`);

  let session: Session | undefined;
  if (s.cpuProfRounds !== undefined) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  const times: number[] = [];
  const offersPerRound: number[] = [];
  const started = performance.now();
  const wanted = s.rounds;
  for (;;) {
    now += INTERVAL_MS;
    t = performance.now();
    const offers = allocator.allocateRound(now, { agentOrder: order });
    times.push(performance.now() - t);
    offersPerRound.push(offers.length);
    decline(offers); // none expected; keep the state steady if there are
    const n = times.length;
    if (wanted !== undefined ? n >= wanted : n >= 30 || (n >= 3 && performance.now() - started > MEASURE_BUDGET_MS)) break;
  }
  if (session && s.cpuProfRounds !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(s.cpuProfRounds, JSON.stringify(profile));
    session.disconnect();
    log(`${label}: profile of the measured rounds in ${s.cpuProfRounds}`);
  }
  const p50 = percentile(times, 50);
  const target = targetMs(s.agents, s.frameworks);
  const result: Result = {
    bench: 'allocator',
    scenario: s.scenario,
    agents: s.agents,
    frameworks: s.frameworks,
    roles: s.scenario === 'decline' ? 1 : s.roles,
    used: s.used,
    fill: s.fill,
    round_ms: round1(p50),
    p50_ms: round1(p50),
    p99_ms: round1(percentile(times, 99)),
    min_ms: round1(Math.min(...times)),
    max_ms: round1(Math.max(...times)),
    rounds: times.length,
    offers_per_round: Math.max(...offersPerRound),
    cold_round_ms: round1(coldMs),
    cold_offers: first.length,
    setup_ms: Math.round(setupMs),
    decline_ms: Math.round(declineMs),
    filters,
    heap_mb: mb(mem.heapUsed),
    heap_gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
    array_buffers_mb: mb(mem.arrayBuffers),
    rss_mb: mb(mem.rss),
    target_ms: target ?? null,
    met: target === undefined ? null : p50 <= target,
    node: process.version,
    cpus: os.cpus().length,
    commit: commitOf(),
    date: new Date().toISOString(),
  };
  log(`${label}: round ${result.round_ms} ms (p99 ${result.p99_ms} ms, ${result.rounds} rounds)${target === undefined ? '' : `, target ≤ ${target} ms: ${result.met ? 'met' : 'MISSED'}`}`);
  return result;
}

// ---- the suite: one child process per scenario ---------------------------------------------------

function runChild(s: Settings): Promise<Result | undefined> {
  const args = [
    ...process.execArgv, fileURLToPath(import.meta.url),
    '--scenario', s.scenario, '--agents', String(s.agents), '--frameworks', String(s.frameworks),
    '--roles', String(s.roles), '--fill', s.fill, '--seed', String(s.seed),
    ...(s.rounds === undefined ? [] : ['--rounds', String(s.rounds)]),
    ...(s.used ? [] : ['--no-used']),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = out.trim().split('\n').filter(Boolean).at(-1);
      if (code !== 0 || !line) {
        log(`${s.scenario} ${s.agents}/${s.frameworks}: child exited with ${code ?? signal}`);
        resolve(undefined);
        return;
      }
      resolve(JSON.parse(line) as Result);
    });
  });
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  if (!opts.suite) {
    const r = await runScenario(opts.settings[0]);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    if (opts.check && r.met === false) process.exitCode = 1;
    return;
  }
  let failed = false;
  for (const s of opts.settings) {
    const r = await runChild(s);
    if (!r) { failed = true; continue; }
    process.stdout.write(`${JSON.stringify(r)}\n`);
    if (r.met === false) failed = opts.check || failed;
  }
  if (failed) process.exitCode = 1;
}

await main();
