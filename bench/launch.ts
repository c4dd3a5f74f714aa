// `npm run bench:launch` — task launch throughput and offer→TASK_RUNNING latency.
//
//   e2e     a private redis-server, an in-process master and N real agent processes
//           (`bin/spillway agent`), running the command `true`.
//   master  a private redis-server, an in-process master and N in-process SimulatedAgents that
//           report TASK_RUNNING and TASK_FINISHED at once: the master's own cost, every status
//           still persisted in Redis.
//
// One JSON line per mode on stdout (mode, tasks_per_s, p50_ms, p99_ms, …); progress on stderr.
// Flags: --mode e2e|master (default both), --tasks, --agents, --task-cpus, --task-mem, --agent-cpus,
// --agent-mem, --allocation-interval <ms>, --repeat <n>, --timeout <s>, --check (exit 1 when a
// target is missed), --keep (leave the temp dir with redis.log and agent logs). Everything runs on 127.0.0.1 and every process started is stopped at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/common/logger.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { resources } from '../src/resources/resources.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { startRedis } from '../src/up/redis-process.ts';
import { installSignalHandlers, onCleanup, runCleanups } from './lib/cleanup.ts';
import { boundFetchConnections } from './lib/fetch-pool.ts';
import { LoadFramework, type LoadResult } from './lib/load-framework.ts';
import { percentile, round1 } from './lib/stats.ts';

type Mode = 'e2e' | 'master';

const BIN = fileURLToPath(new URL('../bin/spillway', import.meta.url));

const TARGETS: Record<Mode, { tasks_per_s: number; p99_ms?: number }> = {
  e2e: { tasks_per_s: 200 },
  master: { tasks_per_s: 5000, p99_ms: 50 },
};

const DEFAULTS: Record<Mode, { tasks: number; agents: number; taskCpus: number; taskMem: number; agentCpus: number; agentMem: number }> = {
  e2e: { tasks: 2000, agents: 3, taskCpus: 0.1, taskMem: 32, agentCpus: 8, agentMem: 8192 },
  master: { tasks: 20000, agents: 20, taskCpus: 0.01, taskMem: 1, agentCpus: 1, agentMem: 1_000_000 },
};

const log = (s: string): void => { process.stderr.write(`[bench:launch] ${s}\n`); };

interface Settings {
  tasks: number; agents: number; taskCpus: number; taskMem: number; agentCpus: number; agentMem: number;
  allocationIntervalMs: number; timeoutMs: number;
  /** master mode: connections per origin for the simulated agents' fetch; 0 = Node's default (unbounded). */
  simConnections: number;
}

function parse(): { modes: Mode[]; repeat: number; check: boolean; keep: boolean; settings: (m: Mode) => Settings } {
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
      'sim-connections': { type: 'string' },
      repeat: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '300' },
      check: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stderr.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
    process.exit(0);
  }
  const num = (flag: string, v: string | undefined, min: number, integer = false): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new Error(`--${flag}: '${v}' must be ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
    return n;
  };
  let modes: Mode[];
  if (values.mode === undefined || values.mode === 'all') modes = ['e2e', 'master'];
  else if (values.mode === 'e2e' || values.mode === 'master') modes = [values.mode];
  else throw new Error(`--mode: '${values.mode}' is not one of e2e, master`);
  const tasks = num('tasks', values.tasks, 1, true);
  const agents = num('agents', values.agents, 1, true);
  const taskCpus = num('task-cpus', values['task-cpus'], 0.001);
  const taskMem = num('task-mem', values['task-mem'], 0.001);
  const agentCpus = num('agent-cpus', values['agent-cpus'], 0.001);
  const agentMem = num('agent-mem', values['agent-mem'], 1);
  const allocationIntervalMs = num('allocation-interval', values['allocation-interval'], 1)!;
  const simConnections = num('sim-connections', values['sim-connections'], 0, true);
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
      // One long-lived SUBSCRIBE stream per agent, plus a small pool for their calls.
      simConnections: simConnections ?? (agents ?? DEFAULTS[m].agents) + 16,
    }),
  };
}

/** A private redis-server and an in-process master on 127.0.0.1, both registered for cleanup. */
async function startMaster(dir: string, s: Settings): Promise<RunningMaster> {
  const redis = await startRedis({ dataDir: join(dir, 'redis') });
  onCleanup('redis-server', () => redis.stop());
  log(`redis-server pid ${redis.child.pid} on ${redis.url}`);
  const m = await runMaster({
    redisUrl: redis.url, host: '127.0.0.1', port: 0, log: silentLogger,
    // Large ACCEPTs (hundreds of TaskInfos) must fit in one body.
    bodyLimit: '64mb',
    config: { allocationIntervalMs: s.allocationIntervalMs },
  });
  onCleanup('master', () => m.stop());
  log(`in-process master on ${m.url} (allocation interval ${s.allocationIntervalMs} ms)`);
  return m;
}

async function waitForAgents(m: RunningMaster, n: number, children: ChildProcess[] = []): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let connected = 0;
    for (const a of m.master.state.agents.values()) if (a.stream) connected++;
    if (connected >= n) return;
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`agent process ${dead.pid} exited (${dead.exitCode ?? dead.signalCode}) before registering`);
    if (Date.now() > deadline) throw new Error(`only ${connected}/${n} agents registered within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

async function runLoad(m: RunningMaster, s: Settings, mode: Mode, command: string): Promise<LoadResult> {
  const fw = new LoadFramework({
    master: m.url, tasks: s.tasks, taskCpus: s.taskCpus, taskMem: s.taskMem, command,
    name: `bench-launch-${mode}`, timeoutMs: s.timeoutMs, acceptRefuseSeconds: 1,
    progress: (line) => log(`${mode}: ${line}`),
  });
  onCleanup('framework', () => fw.close());
  return fw.run();
}

async function e2e(dir: string, s: Settings): Promise<LoadResult> {
  const m = await startMaster(dir, s);
  const children: ChildProcess[] = [];
  for (let i = 0; i < s.agents; i++) {
    const workDir = join(dir, `agent-${i}`);
    const logFd = openSync(join(dir, `agent-${i}.log`), 'a');
    const ports = `[${31000 + i * 100}-${31099 + i * 100}]`;
    const child = spawn(process.execPath, [
      BIN, 'agent', '--master', m.url, '--port', '0', '--hostname', '127.0.0.1', '--work-dir', workDir,
      '--resources', `cpus:${s.agentCpus};mem:${s.agentMem};disk:1000;ports:${ports}`,
      '--kill-tasks-on-exit', '--exit-with-parent',
    ], { stdio: ['ignore', logFd, logFd], env: { ...process.env, SPILLWAY_LOG_LEVEL: process.env.SPILLWAY_LOG_LEVEL ?? 'warn' } });
    closeSync(logFd);
    children.push(child);
    onCleanup(`agent ${i}`, () => stopChild(child));
    log(`agent ${i}: pid ${child.pid}, work dir ${workDir}`);
  }
  await waitForAgents(m, s.agents, children);
  log(`${s.agents} agents registered; launching ${s.tasks} tasks running 'true'`);
  return runLoad(m, s, 'e2e', 'true');
}

async function masterOnly(dir: string, s: Settings): Promise<LoadResult> {
  const m = await startMaster(dir, s);
  const health = await fetch(`${m.url}/health`); // also makes fetch create its global dispatcher
  await health.text();
  if (s.simConnections > 0) {
    const restore = boundFetchConnections(s.simConnections);
    if (restore) onCleanup('fetch connection pool', restore);
    else log('could not bound fetch connections (no global dispatcher found); simulated agents use Node defaults');
  }
  for (let i = 0; i < s.agents; i++) {
    const a = new SimulatedAgent({
      master: m.url, hostname: `sim-${i}`, behaviour: 'finish',
      resources: resources({ cpus: s.agentCpus, mem: s.agentMem, disk: 100_000 }, [[31000, 32000]]),
    });
    await a.start();
    onCleanup(`simulated agent ${i}`, () => a.stop());
  }
  await waitForAgents(m, s.agents);
  log(`${s.agents} simulated agents registered; launching ${s.tasks} tasks`);
  return runLoad(m, s, 'master', 'true');
}

async function runMode(mode: Mode, s: Settings, keep: boolean): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(os.tmpdir(), `spillway-bench-${mode}-`));
  if (keep) log(`--keep: ${dir} (redis.log, agent logs) is left in place`);
  else onCleanup('temp dir', () => rmSync(dir, { recursive: true, force: true }));
  log(`${mode}: ${JSON.stringify(s)} in ${dir}`);
  try {
    const r = mode === 'e2e' ? await e2e(dir, s) : await masterOnly(dir, s);
    const tasksPerS = r.tasks / (r.durationMs / 1000);
    const p50 = percentile(r.latenciesMs, 50);
    const p99 = percentile(r.latenciesMs, 99);
    const target = TARGETS[mode];
    const met = tasksPerS >= target.tasks_per_s && (target.p99_ms === undefined || p99 <= target.p99_ms);
    return {
      mode,
      tasks_per_s: round1(tasksPerS),
      p50_ms: round1(p50),
      p99_ms: round1(p99),
      max_ms: round1(percentile(r.latenciesMs, 100)),
      tasks: r.tasks,
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
      ...(mode === 'master' ? { sim_fetch_connections: s.simConnections || 'unbounded' } : {}),
      master: 'in-process',
      target,
      target_met: met && r.finished === r.tasks && r.callErrors === 0,
      machine: { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}` },
      date: new Date().toISOString(),
    };
  } finally {
    await runCleanups(log);
  }
}

async function main(): Promise<void> {
  installSignalHandlers(log);
  const { modes, repeat, check, keep, settings } = parse();
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
    log(`failed: ${(e as Error).stack ?? String(e)}`);
    await runCleanups(log);
    process.exit(1);
  },
);
