// Real processes for the fault tests: a private redis-server (AOF, appendfsync always, restartable
// on the same port and data), several `bin/spillway master` replicas on fixed loopback ports and
// `bin/spillway agent`s given every replica's URL. Everything is stopped by `stop()`; process
// logs go to files in a temp dir (named in `logDir`) so a failing test can be diagnosed.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MasterClient } from '../../src/client/master-client.ts';
import { freePort, startRedis, type RedisProcess } from '../../src/up/redis-process.ts';
import { keyPrefix } from '../../src/store/redis-store.ts';
import { BIN, killTaskGroups, waitFor } from './cluster.ts';
import { tempDir } from './redis.ts';

export interface HaClusterOptions {
  masters: number;
  agents: number;
  /** Leader lease in seconds (default 4: comfortably above the event-loop stalls of a loaded CI host). */
  leaseSeconds?: number;
  masterFlags?: string[];
  agentResources?: (i: number) => string;
  /**
   * Masters also listen on this address and advertise it (redirects name it), and clients use it:
   * the host's address on a network-namespace bridge, for agents inside namespaces.
   */
  masterHost?: string;
  /** Runs agent `i` (argv after `node`), e.g. inside a network namespace; default: a plain child process. */
  spawnAgent?: (i: number, argv: string[], opts: SpawnOptions) => ChildProcess;
  /** Address agent `i` listens on and advertises (default 127.0.0.1). */
  agentHost?: (i: number) => string;
}

export interface HaAgent { child: ChildProcess; workDir: string; port: number }

/**
 * Agents ping every second (so they notice a dead or frozen master quickly) but are removed only
 * after 20 missed pings: a loaded CI host must not turn a slow agent into a lost one. Tests of ping
 * removal pass their own flags after these. The autoscaler is off: with the seeded policy it would
 * start agents of its own in the middle of a fault test (its faults have tests of their own).
 */
export const HA_MASTER_FLAGS = ['--agent-ping-timeout', '1', '--max-agent-ping-timeouts', '20', '--allocation-interval', '100', '--heartbeat-interval', '1', '--no-autoscaler'];

export class HaCluster {
  redis!: RedisProcess;
  readonly masters: (ChildProcess | undefined)[] = [];
  readonly agents: HaAgent[] = [];
  readonly logDir = tempDir('spillway-ha-logs-');
  private readonly redisDir = tempDir('spillway-ha-redis-');
  private redisPort = 0;
  private masterPorts: number[] = [];
  private readonly children = new Set<ChildProcess>();
  private checker: Redis | undefined;

  private constructor(readonly opts: HaClusterOptions) {}

  static async start(opts: HaClusterOptions): Promise<HaCluster> {
    const c = new HaCluster(opts);
    try {
      c.redisPort = await freePort();
      await c.startRedis();
      for (let i = 0; i < opts.masters; i++) c.masterPorts.push(await freePort());
      for (let i = 0; i < opts.masters; i++) await c.startMaster(i);
      await c.waitForLeader();
      for (let i = 0; i < opts.agents; i++) await c.startAgent(i);
      await c.waitForAgents(opts.agents);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  get masterUrls(): string[] {
    return this.masterPorts.map((p) => `http://${this.opts.masterHost ?? '127.0.0.1'}:${p}`);
  }

  /** A client of the operator API that finds the leader among the replicas. */
  client(): MasterClient {
    return new MasterClient(this.masterUrls, { rounds: 20, attemptTimeoutMs: 5000 });
  }

  async startRedis(): Promise<void> {
    this.redis = await startRedis({ dataDir: this.redisDir, port: this.redisPort, appendfsync: 'always' });
  }

  async startMaster(i: number): Promise<ChildProcess> {
    const log = openSync(join(this.logDir, `master-${i}.log`), 'a');
    const child = spawn(process.execPath, [
      BIN, 'master', '--redis', this.redis.url, '--port', String(this.masterPorts[i]), '--leader-lease', String(this.opts.leaseSeconds ?? 4),
      ...(this.opts.masterHost ? ['--listen', this.opts.masterHost, '--advertise-ip', this.opts.masterHost] : []),
      ...HA_MASTER_FLAGS, ...(this.opts.masterFlags ?? []),
    ], { stdio: ['ignore', log, log], env: { ...process.env, SPILLWAY_LOG_LEVEL: 'info' } });
    closeSync(log);
    this.children.add(child);
    this.masters[i] = child;
    await waitFor(async () => (await fetch(`${this.masterUrls[i]}/health`).catch(() => undefined))?.ok === true, 90_000, `master ${i} to listen`);
    return child;
  }

  async startAgent(i: number, workDir = this.agents[i]?.workDir ?? tempDir('spillway-ha-agent-')): Promise<HaAgent> {
    const port = this.agents[i]?.port ?? await freePort();
    const log = openSync(join(this.logDir, `agent-${i}.log`), 'a');
    const argv = [
      BIN, 'agent', '--master', this.masterUrls.join(','), '--port', String(port), '--work-dir', workDir, '--hostname', this.opts.agentHost?.(i) ?? '127.0.0.1',
      '--resources', this.opts.agentResources?.(i) ?? `cpus:8;mem:8192;disk:1000;ports:[${33000 + i * 100}-${33099 + i * 100}]`, '--attributes', `index:${i}`,
    ];
    const spawnOpts: SpawnOptions = { stdio: ['ignore', log, log], env: { ...process.env, SPILLWAY_LOG_LEVEL: 'info' } };
    const child = this.opts.spawnAgent?.(i, argv, spawnOpts) ?? spawn(process.execPath, argv, spawnOpts);
    closeSync(log);
    this.children.add(child);
    const a = { child, workDir, port };
    this.agents[i] = a;
    return a;
  }

  /** Index of the replica that leads now, as the replicas themselves say (undefined: none yet). */
  async leaderIndex(): Promise<number | undefined> {
    for (const url of this.masterUrls) {
      const info = await fetch(`${url}/v1/leader`, { signal: AbortSignal.timeout(2000) }).then((r) => r.json() as Promise<{ leader: { address: string } | null; self: { state: string } }>).catch(() => undefined);
      if (info?.leader) {
        const i = this.masterUrls.findIndex((u) => new URL(u).host === info.leader!.address);
        // Believe only a leader that says so itself.
        const self = await fetch(`${this.masterUrls[i]}/v1/leader`, { signal: AbortSignal.timeout(2000) }).then((r) => r.json() as Promise<{ self: { state: string } }>).catch(() => undefined);
        if (self?.self.state === 'leader') return i;
      }
    }
    return undefined;
  }

  async waitForLeader(not?: number, timeoutMs = 30_000): Promise<number> {
    let found: number | undefined;
    await waitFor(async () => {
      found = await this.leaderIndex();
      return found !== undefined && found !== not;
    }, timeoutMs, not === undefined ? 'a leader' : `a leader other than master ${not}`);
    return found!;
  }

  async waitForAgents(n: number, timeoutMs = 60_000): Promise<void> {
    const c = this.client();
    await waitFor(async () => {
      const r = await c.call<{ get_agents: { agents: { active: boolean }[] } }>('GET_AGENTS').catch(() => undefined);
      return (r?.get_agents.agents.filter((a) => a.active).length ?? 0) >= n;
    }, timeoutMs, `${n} agents to register`);
  }

  /** Sends a signal and, for a killing one, waits for the exit. */
  async signal(child: ChildProcess | undefined, sig: NodeJS.Signals): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = sig === 'SIGSTOP' || sig === 'SIGCONT' ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(sig);
    await exited;
  }

  /** A connection of the test's own to Redis (closed by `dropChecker`/`stop`). */
  checkerClient(): Redis {
    this.checker ??= new Redis(this.redis.url, { maxRetriesPerRequest: null });
    return this.checker;
  }

  /** A connection of the test's own, to read what Redis really holds. */
  async redisState(cluster = 'default'): Promise<DurableState> {
    const redis = this.checkerClient();
    const p = keyPrefix(cluster);
    const hash = async (k: string) => Object.fromEntries(Object.entries(await redis.hgetall(p + k)).map(([id, v]) => [id, JSON.parse(v)]));
    const list = async (k: string) => (await redis.lrange(p + k, 0, -1)).map((v) => JSON.parse(v));
    return {
      tasks: await hash('tasks'), completed: await list('completed_tasks'), agents: await hash('agents'), frameworks: await hash('frameworks'),
      weights: await hash('weights'), quotas: await hash('quotas'), policies: await list('policy_versions'),
      provisioning: { launches: await hash('autoscaler:launches'), instances: await hash('autoscaler:instances') },
      epoch: Number(await redis.get(`${p}epoch`)),
    };
  }

  dropChecker(): void {
    this.checker?.disconnect();
    this.checker = undefined;
  }

  async stop(): Promise<void> {
    this.dropChecker();
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) {
        try { c.kill('SIGCONT'); } catch { /* gone */ }
        c.kill('SIGKILL');
      }
    }
    await Promise.all([...this.children].map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
    killTaskGroups(this.agents.map((a) => a.workDir));
    await this.redis?.stop('SIGKILL');
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface DurableState {
  tasks: Record<string, Json>;
  completed: Json[];
  agents: Record<string, Json>;
  frameworks: Record<string, Json>;
  weights: Record<string, Json>;
  quotas: Record<string, Json>;
  policies: Json[];
  /** The autoscaler's provisioning records. */
  provisioning: { launches: Record<string, Json>; instances: Record<string, Json> };
  epoch: number;
}
