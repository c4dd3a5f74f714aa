// `npm run bench:launch` — task launch throughput and offer→TASK_RUNNING latency.
//
//   e2e     a private redis-server, a master and N real agent processes (`bin/spillway agent`)
//           running the command `true`.
//   master  a private redis-server, a master and N in-process SimulatedAgents that report
//           TASK_RUNNING and TASK_FINISHED at once: the master's own cost, with every status
//           still persisted in Redis.
//
// In both modes the framework is bench/lib/load-framework.ts, in this process. The master is
// spawned as `bin/spillway master` (default, `--master process`) so that it has an event loop and
// a core of its own and its CPU is accounted separately; `--master in-process` runs it here
// instead (runMaster), which is what `node --cpu-prof --import=tsx bench/launch.ts` profiles.
//
// One JSON line per mode on stdout (mode, tasks_per_s, p50_ms, p99_ms, …); progress on stderr.
// Flags: --mode e2e|master (default: both), --tasks, --agents, --task-cpus, --task-mem,
// --agent-cpus, --agent-mem, --allocation-interval <ms> (50), --master process|in-process,
// --master-cpu-prof <dir> (with --master process: profile the master), --agent-cpu-prof <dir>
// (e2e: profile the agent processes), --sim-connections <n>,
// --warmup <n> (tasks run first and reported apart, default 10 % of --tasks: a cold master's JIT
// is not what a long-running one costs), --repeat <n>, --timeout <s> (300), --keep (leave the temp dir with redis.log and agent logs),
// --check (exit 1 when a target is missed). Everything listens on 127.0.0.1 only, and every
// process the benchmark starts is stopped when it ends, fails or is interrupted.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { silentLogger } from '../src/common/logger.ts';
import { runMaster } from '../src/master/run-master.ts';
import { resources } from '../src/resources/resources.ts';
import { SimulatedAgent, type AgentCallTransport } from '../src/sim/simulated-agent.ts';
import { PipelinedClient } from './lib/pipelined-client.ts';
import { freePort, startRedis, type RedisProcess } from '../src/up/redis-process.ts';
import { installSignalHandlers, onCleanup, runCleanups, shuttingDown } from './lib/cleanup.ts';
import { childPids, machineBusyMs, machineCpuMs, processCpu, processCpuMs, selfCpuMs } from './lib/cpu.ts';
import { boundFetchConnections } from './lib/fetch-pool.ts';
import { LoadFramework, type LoadResult } from './lib/load-framework.ts';
import { percentile, round1 } from './lib/stats.ts';
import { referenceMs, runInfo } from './lib/run-info.ts';
import { numberFlag, printHeaderHelp, RUN_FLAGS } from './lib/flags.ts';
import { exited, spawnLogged, stopChild, waitUntil } from './lib/processes.ts';

type Mode = 'e2e' | 'master';
type Placement = 'in-process' | 'process';

const TARGETS: Record<Mode, { tasks_per_s: number; p99_ms?: number }> = {
  e2e: { tasks_per_s: 200 },
  master: { tasks_per_s: 5000, p99_ms: 50 },
};

const DEFAULTS: Record<Mode, { tasks: number; agents: number; taskCpus: number; taskMem: number; agentCpus: number; agentMem: number }> = {
  e2e: { tasks: 2000, agents: 3, taskCpus: 0.1, taskMem: 32, agentCpus: 8, agentMem: 8192 },
  // 0.1 cpus per agent = 10 tasks per offer; 10 agents = 100 tasks in flight: the throughput at the
  // p99 target (docs/BENCHMARKS.md). More in flight adds queueing (latency) but little throughput.
  master: { tasks: 20000, agents: 10, taskCpus: 0.01, taskMem: 1, agentCpus: 0.1, agentMem: 100_000 },
};

/** Connections the simulated agents' calls are pipelined on (their streams have their own). */
const AGENT_CALL_CONNECTIONS = 4;

const log = (s: string): void => { process.stderr.write(`[bench:launch] ${s}\n`); };

interface Settings {
  tasks: number; agents: number; taskCpus: number; taskMem: number; agentCpus: number; agentMem: number;
  allocationIntervalMs: number; timeoutMs: number; placement: Placement; masterCpuProf: string | undefined;
  agentCpuProf: string | undefined;
  /** Tasks launched by a first framework before the measured one (JIT warm-up), reported apart. */
  warmup: number;
  /** master mode: connections per origin for the simulated agents' fetch; 0 = Node's default (unbounded). */
  simConnections: number;
}

interface Options { modes: Mode[]; repeat: number; check: boolean; keep: boolean; settings: (m: Mode) => Settings }

function parse(): Options {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string' },
      tasks: { type: 'string' },
      agents: { type: 'string' },
      'task-cpus': { type: 'string' },
      'task-mem': { type: 'string' },
      'agent-cpus': { type: 'string' },
      'agent-mem': { type: 'string' },
      'allocation-interval': { type: 'string', default: '50' },
      master: { type: 'string', default: 'process' },
      'master-cpu-prof': { type: 'string' },
      'agent-cpu-prof': { type: 'string' },
      'sim-connections': { type: 'string' },
      warmup: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      ...RUN_FLAGS,
    },
    strict: true,
  });
  if (values.help) printHeaderHelp(import.meta.url);
  const num = numberFlag;
  let modes: Mode[];
  if (values.mode === undefined || values.mode === 'all') modes = ['e2e', 'master'];
  else if (values.mode === 'e2e' || values.mode === 'master') modes = [values.mode];
  else throw new Error(`--mode: '${values.mode}' is not one of e2e, master`);
  if (values.master !== 'in-process' && values.master !== 'process') throw new Error(`--master: '${values.master}' is not one of in-process, process`);
  const placement: Placement = values.master;
  if (values['master-cpu-prof'] !== undefined && placement !== 'process') throw new Error('--master-cpu-prof needs --master process (for in-process, run node --cpu-prof)');
  const tasks = num('tasks', values.tasks, 1, true);
  const agents = num('agents', values.agents, 1, true);
  const taskCpus = num('task-cpus', values['task-cpus'], 0.001);
  const taskMem = num('task-mem', values['task-mem'], 0.001);
  const agentCpus = num('agent-cpus', values['agent-cpus'], 0.001);
  const agentMem = num('agent-mem', values['agent-mem'], 1);
  const allocationIntervalMs = num('allocation-interval', values['allocation-interval'], 1)!;
  const simConnections = num('sim-connections', values['sim-connections'], 0, true);
  const warmup = num('warmup', values.warmup, 0, true);
  const timeoutMs = num('timeout', values.timeout, 1)! * 1000;
  return {
    modes,
    repeat: num('repeat', values.repeat, 1, true)!,
    check: values.check,
    keep: values.keep,
    settings: (m) => ({
      tasks: tasks ?? DEFAULTS[m].tasks,
      agents: agents ?? DEFAULTS[m].agents,
      taskCpus: taskCpus ?? DEFAULTS[m].taskCpus,
      taskMem: taskMem ?? DEFAULTS[m].taskMem,
      agentCpus: agentCpus ?? DEFAULTS[m].agentCpus,
      agentMem: agentMem ?? DEFAULTS[m].agentMem,
      allocationIntervalMs,
      timeoutMs,
      warmup: warmup ?? Math.round((tasks ?? DEFAULTS[m].tasks) / 10),
      placement,
      masterCpuProf: values['master-cpu-prof'] === undefined ? undefined : resolve(values['master-cpu-prof']),
      agentCpuProf: values['agent-cpu-prof'] === undefined ? undefined : resolve(values['agent-cpu-prof']),
      // One long-lived SUBSCRIBE stream per agent, plus a small pool for their calls.
      simConnections: simConnections ?? (agents ?? DEFAULTS[m].agents) + 16,
    }),
  };
}

// ---- processes ---------------------------------------------------------------------------------

interface MasterHandle {
  url: string;
  /** pid when the master is a process of its own. */
  pid: number | undefined;
  redis: RedisProcess;
}


/** A private redis-server and a master on 127.0.0.1, both registered for cleanup. */
async function startMaster(dir: string, s: Settings): Promise<MasterHandle> {
  const redis = await startRedis({ dataDir: join(dir, 'redis') });
  onCleanup('redis-server', () => redis.stop());
  log(`redis-server pid ${redis.child.pid} on ${redis.url} (data in ${join(dir, 'redis')})`);
  if (s.placement === 'in-process') {
    const m = await runMaster({
      redisUrl: redis.url, host: '127.0.0.1', port: 0, log: silentLogger,
      // Large ACCEPTs (hundreds of TaskInfos) must fit in one body.
      bodyLimit: '64mb',
      config: { allocationIntervalMs: s.allocationIntervalMs },
    });
    onCleanup('master', () => m.stop());
    log(`in-process master on ${m.url} (allocation interval ${s.allocationIntervalMs} ms)`);
    return { url: m.url, pid: undefined, redis };
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const execArgv = s.masterCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${s.masterCpuProf}`] : [];
  const logFile = join(dir, 'master.log');
  const child = spawnLogged(['master', '--redis', redis.url, '--host', '127.0.0.1', '--port', String(port),
    '--allocation-interval', String(s.allocationIntervalMs), '--body-limit', '64mb'], logFile, execArgv);
  // SIGINT: the master stops cleanly (and writes its CPU profile when asked for one).
  onCleanup('master process', () => stopChild(child, 'SIGINT'));
  // Leading and recovered: /health answers as soon as it listens, the APIs only then (503 before).
  const health = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_HEALTH"}' };
  await waitUntil('the master to lead', 30_000,
    async () => (await fetch(`${url}/api/v1`, health).then((r) => r.text().then(() => r.ok), () => false)),
    () => exited(child, 'master', logFile));
  log(`master process pid ${child.pid} on ${url} (allocation interval ${s.allocationIntervalMs} ms${s.masterCpuProf ? `, CPU profile to ${s.masterCpuProf}` : ''})`);
  return { url, pid: child.pid, redis };
}

async function connectedAgents(url: string): Promise<number> {
  const res = await fetch(`${url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'GET_AGENTS' }) });
  if (!res.ok) return 0;
  const body = (await res.json()) as { get_agents: { agents: { active: boolean }[] } };
  return body.get_agents.agents.filter((a) => a.active).length;
}

// ---- the two modes ----------------------------------------------------------------------------

interface Measured { result: LoadResult; warmup: LoadResult | undefined; cpu: Record<string, number>; redis: Record<string, number>; machine: Record<string, number> }

/** Runs the load and records the CPU each participant spent during it. */
async function measure(mode: Mode, m: MasterHandle, s: Settings, agentPids: (number | undefined)[]): Promise<Measured> {
  const framework = (name: string, tasks: number): LoadFramework => {
    const fw = new LoadFramework({
      master: m.url, tasks, taskCpus: s.taskCpus, taskMem: s.taskMem, command: 'true',
      name, timeoutMs: s.timeoutMs, acceptRefuseSeconds: 1,
      progress: (line) => log(`${name}: ${line}`),
    });
    onCleanup(name, () => fw.close());
    return fw;
  };
  let warmup: LoadResult | undefined;
  if (s.warmup > 0) {
    log(`${mode}: warm-up, ${s.warmup} tasks (reported apart)`);
    warmup = await framework(`bench-launch-${mode}-warmup`, s.warmup).run();
  }
  const fw = framework(`bench-launch-${mode}`, s.tasks);
  const cpuNow = (): Record<string, number> => ({
    machine_busy: machineBusyMs(),
    bench_process: selfCpuMs(),
    ...(m.pid !== undefined ? { master_process: processCpuMs(m.pid) } : {}),
    redis: processCpuMs(m.redis.child.pid),
    ...(agentPids.length ? {
      agent_processes: agentPids.reduce((sum: number, pid) => sum + processCpu(pid).self, 0),
      // The tasks' own processes: each agent's launcher shell (a live child of the agent) with the
      // waiter subshells and commands it reaped, plus anything the agent reaped itself.
      agent_task_processes: agentPids.reduce((sum: number, pid) => sum + processCpu(pid).children
        + childPids(pid).reduce((s2, c) => s2 + processCpuMs(c), 0), 0),
    } : {}),
  });
  const redisBefore = await redisCalls(m.redis.url);
  const machineBefore = machineCpuMs();
  const before = cpuNow();
  const result = await fw.run();
  const after = cpuNow();
  const machineAfter = machineCpuMs();
  const redisAfter = await redisCalls(m.redis.url);
  const cpu: Record<string, number> = {};
  let ours = 0;
  for (const k of Object.keys(before)) {
    if (k === 'machine_busy') continue;
    cpu[k] = Math.round(after[k] - before[k]);
    ours += cpu[k];
  }
  // The rest of the machine's busy time: other users' processes (they skew the numbers), but also
  // kernel threads and interrupts working for this run (writeback of the agents' fsyncs, loopback
  // networking). `machine` below splits the machine's time by kind.
  cpu.other = Math.max(0, Math.round(after.machine_busy - before.machine_busy - ours));
  const machine: Record<string, number> = {};
  for (const k of Object.keys(machineAfter)) machine[k] = Math.round(machineAfter[k] - (machineBefore[k] ?? 0));
  const redis: Record<string, number> = {};
  for (const [k, v] of Object.entries(redisAfter)) redis[k] = v - (redisBefore[k] ?? 0);
  return { result, warmup, cpu, redis, machine };
}

/** Commands redis-server executed so far, by name (INFO commandstats), plus bytes received. */
async function redisCalls(url: string): Promise<Record<string, number>> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    const out: Record<string, number> = {};
    for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
    const input = /^total_net_input_bytes:(\d+)/m.exec(await client.info('stats'));
    if (input) out.net_input_bytes = Number(input[1]);
    return out;
  } catch {
    return {};
  } finally {
    client.disconnect();
  }
}

const agentLog = (dir: string, i: number): string => join(dir, `agent-${i}.log`);

async function e2e(dir: string, s: Settings): Promise<Measured> {
  const m = await startMaster(dir, s);
  const children: ChildProcess[] = [];
  for (let i = 0; i < s.agents; i++) {
    const workDir = join(dir, `agent-${i}`);
    const ports = `[${31000 + i * 100}-${31099 + i * 100}]`;
    const child = spawnLogged(['agent', '--master', m.url, '--port', '0', '--hostname', '127.0.0.1', '--work-dir', workDir,
      '--resources', `cpus:${s.agentCpus};mem:${s.agentMem};disk:1000;ports:${ports}`,
      '--kill-tasks-on-exit', '--exit-with-parent'], agentLog(dir, i),
    s.agentCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${s.agentCpuProf}`] : []);
    children.push(child);
    onCleanup(`agent ${i}`, () => stopChild(child));
    log(`agent ${i}: pid ${child.pid}, work dir ${workDir}`);
  }
  await waitUntil(`${s.agents} agents to register`, 60_000, async () => (await connectedAgents(m.url)) >= s.agents,
    () => children.map((c, i) => exited(c, `agent ${i}`, agentLog(dir, i))).find(Boolean));
  log(`${s.agents} agents registered; launching ${s.tasks} tasks running 'true'`);
  return measure('e2e', m, s, children.map((c) => c.pid));
}

async function masterOnly(dir: string, s: Settings): Promise<Measured> {
  const m = await startMaster(dir, s);
  await connectedAgents(m.url); // fetch has created its global dispatcher now
  if (s.simConnections > 0) {
    const restore = boundFetchConnections(s.simConnections);
    if (restore) onCleanup('fetch connection pool', restore);
    else log('could not bound fetch connections (no global dispatcher found); simulated agents use Node defaults');
  }
  // The agents' UPDATE calls go pipelined on a few connections, as the framework's calls do: with
  // fetch, the benchmark's own cost per call would crowd the master off the machine's two cores.
  const agentCalls = new PipelinedClient(new URL('/api/v1/agent', m.url), AGENT_CALL_CONNECTIONS, (e) => log(`agent call connection failed: ${e.message}`));
  onCleanup('agent call connections', () => agentCalls.close());
  const post: AgentCallTransport = (_url, body, { 'Content-Type': _type, ...headers }) => new Promise((resolve, reject) => {
    agentCalls.post(body, headers, (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)));
  });
  for (let i = 0; i < s.agents; i++) {
    const a = new SimulatedAgent({
      master: m.url, hostname: `sim-${i}`, behaviour: 'finish', post,
      resources: resources({ cpus: s.agentCpus, mem: s.agentMem, disk: 100_000 }, [[31000, 32000]]),
    });
    await a.start();
    onCleanup(`simulated agent ${i}`, () => a.stop());
  }
  await waitUntil(`${s.agents} simulated agents to register`, 30_000, async () => (await connectedAgents(m.url)) >= s.agents);
  log(`${s.agents} simulated agents registered; launching ${s.tasks} tasks`);
  return measure('master', m, s, []);
}

/**
 * Temp dirs are removed when the benchmark exits, not after each run: deleting a run's ~15,000
 * sandbox files makes ext4 skip those recently freed inodes when the next run's agents create
 * files (for about 30 s), which would measure this cleanup rather than the next run.
 */
function removeAtExit(dir: string): void {
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
}

async function runMode(mode: Mode, s: Settings, keep: boolean): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(os.tmpdir(), `spillway-bench-${mode}-`));
  if (keep) log(`--keep: ${dir} (redis.log, master and agent logs) is left in place`);
  else removeAtExit(dir);
  log(`${mode}: ${JSON.stringify(s)} in ${dir}`);
  try {
    const { result: r, warmup, cpu, redis, machine } = mode === 'e2e' ? await e2e(dir, s) : await masterOnly(dir, s);
    const tasksPerS = r.tasks / (r.durationMs / 1000);
    const p99 = percentile(r.latenciesMs, 99);
    const target = TARGETS[mode];
    const clean = r.finished === r.tasks && r.callErrors === 0;
    const met = clean && tasksPerS >= target.tasks_per_s && (target.p99_ms === undefined || p99 <= target.p99_ms);
    return {
      mode,
      tasks_per_s: round1(tasksPerS),
      p50_ms: round1(percentile(r.latenciesMs, 50)),
      p99_ms: round1(p99),
      max_ms: round1(percentile(r.latenciesMs, 100)),
      tasks: r.tasks,
      // The first framework's tasks, on a cold master: not in the figures above.
      warmup: warmup ? {
        tasks: warmup.tasks,
        tasks_per_s: round1(warmup.tasks / (warmup.durationMs / 1000)),
        p50_ms: round1(percentile(warmup.latenciesMs, 50)),
        p99_ms: round1(percentile(warmup.latenciesMs, 99)),
      } : null,
      finished: r.finished,
      failed: r.failed,
      agents: s.agents,
      duration_ms: Math.round(r.durationMs),
      offers: r.offers,
      accepts: r.accepts,
      declines: r.declines,
      max_tasks_per_accept: r.maxTasksPerAccept,
      updates: r.updates,
      duplicate_terminal_updates: r.duplicateTerminal,
      call_errors: r.callErrors,
      task_resources: { cpus: s.taskCpus, mem: s.taskMem },
      agent_resources: { cpus: s.agentCpus, mem: s.agentMem },
      allocation_interval_ms: s.allocationIntervalMs,
      master: s.placement,
      ...(mode === 'master' ? { sim_fetch_connections: s.simConnections || 'unbounded' } : {}),
      cpu_ms: cpu,
      cpu_ms_per_task: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((v / r.tasks) * 1000) / 1000])),
      // The whole machine's CPU per task by kind (user, system, iowait, irq, softirq, steal).
      machine_cpu_ms_per_task: Object.fromEntries(Object.entries(machine).map(([k, v]) => [k, Math.round((v / r.tasks) * 1000) / 1000])),
      // Write batches (EVALSHA of the fenced Lua script) and bytes the master sent to Redis, per task.
      redis_per_task: {
        evalsha: Math.round(((redis.evalsha ?? 0) / r.tasks) * 100) / 100,
        bytes_in: Math.round((redis.net_input_bytes ?? 0) / r.tasks),
      },
      target,
      target_met: met,
      ...runInfo(),
    };
  } finally {
    await runCleanups(log);
  }
}

async function main(): Promise<void> {
  installSignalHandlers(log);
  const { modes, repeat, check, keep, settings } = parse();
  referenceMs(); // on the idle machine, before anything starts (results reuse it)
  let missed = false;
  for (let i = 0; i < repeat; i++) {
    for (const mode of modes) {
      const line = await runMode(mode, settings(mode), keep);
      if (!line.target_met) missed = true;
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  }
  if (check && missed) {
    log('a target was missed');
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(),
  async (e: unknown) => {
    if (shuttingDown()) return; // the signal handler cleans up and exits
    log(`failed: ${(e as Error).stack ?? String(e)}`);
    await runCleanups(log);
    process.exit(1);
  },
);
