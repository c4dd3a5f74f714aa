// Real processes on loopback: a master (`bin/spillway master`) and agents (`bin/spillway agent`)
// on a private redis-server, for end-to-end tests. Every process is stopped by `stop()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type RedisProcess } from '../../src/up/redis-process.ts';
import { testRedis, tempDir } from './redis.ts';

export const BIN = fileURLToPath(new URL('../../bin/spillway', import.meta.url));

export interface AgentProcess {
  child: ChildProcess;
  workDir: string;
  port: number;
  args: string[];
}

export interface Cluster {
  redis: RedisProcess;
  masterUrl: string;
  master: ChildProcess;
  agents: AgentProcess[];
  startMaster(): Promise<void>;
  startAgent(i: number, workDir?: string): Promise<AgentProcess>;
  kill(child: ChildProcess, signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export const FAST_MASTER_FLAGS = ['--agent-ping-timeout', '1', '--max-agent-ping-timeouts', '5', '--allocation-interval', '100', '--heartbeat-interval', '1'];

export async function startCluster(opts: {
  agents: number; masterFlags?: string[]; agentResources?: string;
  /** Extra flags for agent i (e.g. `--hostname 127.0.0.2` for an agent on another loopback address). */
  agentArgs?: (i: number) => string[];
}): Promise<Cluster> {
  const redis = await testRedis();
  const port = await freePort();
  const masterUrl = `http://127.0.0.1:${port}`;
  const env = { ...process.env, SPILLWAY_LOG_LEVEL: process.env.SPILLWAY_LOG_LEVEL ?? 'warn' };
  const children = new Set<ChildProcess>();
  const workDirs = new Set<string>();
  const cluster: Cluster = {
    redis,
    masterUrl,
    master: undefined as unknown as ChildProcess,
    agents: [],
    async startMaster() {
      const child = spawn(process.execPath, [BIN, 'master', '--redis', redis.url, '--port', String(port), ...FAST_MASTER_FLAGS, ...(opts.masterFlags ?? [])], { stdio: ['ignore', 'ignore', 'inherit'], env });
      children.add(child);
      cluster.master = child;
      await waitForMasterReady(masterUrl);
    },
    async startAgent(i: number, workDir = tempDir('spillway-agent-')) {
      const agentPort = await freePort();
      const args = [BIN, 'agent', '--master', masterUrl, '--port', String(agentPort), '--work-dir', workDir,
        '--resources', opts.agentResources ?? `cpus:4;mem:2048;disk:1000;ports:[${32000 + i * 100}-${32099 + i * 100}]`, '--attributes', `index:${i}`, ...(opts.agentArgs?.(i) ?? [])];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
      children.add(child);
      const a = { child, workDir, port: agentPort, args };
      cluster.agents[i] = a;
      workDirs.add(workDir);
      return a;
    },
    async kill(child, signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await exited;
    },
    async stop() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all([...children].map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
      // Every work dir an agent ever had: a task can outlive an agent that was killed and replaced.
      killTaskGroups([...workDirs]);
      await redis.stop();
    },
  };
  await cluster.startMaster();
  for (let i = 0; i < opts.agents; i++) await cluster.startAgent(i);
  await waitForAgents(masterUrl, opts.agents);
  return cluster;
}

export async function operator<T = any>(masterUrl: string, type: string): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${masterUrl}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type }) });
  if (!res.ok) throw new Error(`${type}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * Until the master answers its API: /health answers as soon as it listens, but calls get 503
 * "Master has not finished recovery" while it loads its state from Redis (seconds on a loaded
 * machine).
 */
export async function waitForMasterReady(masterUrl: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await operator(masterUrl, 'GET_HEALTH').catch(() => undefined)) !== undefined, timeoutMs, 'the master to listen and finish recovery');
}

export async function waitForAgents(masterUrl: string, n: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => {
    const r = await operator(masterUrl, 'GET_AGENTS').catch(() => undefined);
    return (r?.get_agents.agents.filter((a: { active: boolean }) => a.active).length ?? 0) >= n;
  }, timeoutMs, `${n} agents to register`);
}

export async function waitFor(pred: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills processes left by tasks of SIGKILLed agents (they run in their own process groups). */
export function killTaskGroups(workDirs: string[]): void {
  for (const dir of workDirs) {
    try {
      for (const fw of readdirSync(join(dir, 'tasks'))) {
        for (const f of readdirSync(join(dir, 'tasks', fw))) {
          let cp: { pgid?: number; pid?: number };
          try { cp = JSON.parse(readFileSync(join(dir, 'tasks', fw, f), 'utf8')) as typeof cp; } catch { continue; } // torn slot
          const pg = cp.pgid ?? cp.pid;
          if (pg) try { process.kill(-pg, 'SIGKILL'); } catch { /* already gone */ }
        }
      }
    } catch { /* no tasks dir */ }
  }
}
