// The `local` provider: "instances" are `spillway agent` processes on this machine — for
// `spillway up`, development and tests. Each instance gets its own work dir and port; its agent
// advertises the pool as an attribute. Launches are idempotent under the token: the token and the
// instance ids are written to the state file before any process starts, so a crash between the
// two never makes a retry start a second set. With `local.netns` each agent runs in its own
// network namespace with its own address (local-netns.ts; root only).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Instance, LaunchSpec, Price, Provider } from '../provider.ts';
import type { Pool } from '../pool-config.ts';
import type { ProviderContext } from '../context.ts';
import { InvalidConfigError } from '../errors.ts';
import { StateFile } from '../state-file.ts';
import { freePort } from '../../src/up/redis-process.ts';
import { addInstanceNamespace, prepareNetwork, removeInstanceNamespace, type NetnsPlacement, type PreparedNetwork } from './local-netns.ts';

const BIN = fileURLToPath(new URL('../../bin/spillway', import.meta.url));

interface LocalInstanceRecord {
  id: string;
  pool: string;
  instanceType: string;
  token: string;
  pid?: number;
  port?: number;
  workDir: string;
  launchedAt: number;
  terminated?: boolean;
  /** Set in netns mode once the instance's namespace exists. */
  placement?: NetnsPlacement;
}

/** Inside its own namespace an agent has the port space to itself. */
const NETNS_AGENT_PORT = 5051;
/** How long a terminated netns instance's processes get between SIGTERM and SIGKILL. */
const NETNS_STOP_GRACE_MS = 10_000;

interface LocalState {
  instances: LocalInstanceRecord[];
}

export interface LocalProviderOptions {
  /** Where instance work dirs and the state file live. */
  stateDir: string;
  /** Extra agent flags (tests use fast pings). */
  agentArgs?: string[];
}

export class LocalProvider implements Provider {
  readonly kind = 'local';
  private readonly state: StateFile<LocalState>;

  constructor(private readonly pools: Map<string, Pool>, private readonly ctx: ProviderContext, private readonly opts: LocalProviderOptions) {
    this.state = new StateFile(join(opts.stateDir, 'local-instances.json'), () => ({ instances: [] }));
  }

  async launch(poolName: string, count: number, spec: LaunchSpec): Promise<Instance[]> {
    const pool = this.pool(poolName);
    checkCount(count);
    const type = pool.instanceTypes.find((t) => t.name === spec.instanceType);
    if (!type) throw new InvalidConfigError(`pool ${poolName}: instance type '${spec.instanceType}' is not in its instanceTypes (${pool.instanceTypes.map((t) => t.name).join(', ')})`, this.kind);
    const existing = this.state.read().instances.filter((i) => i.token === spec.token && i.pool === poolName);
    // A crash between recording and starting leaves records without a process: start those now.
    const unstarted = existing.filter((r) => r.pid === undefined && !r.terminated);
    const net = (existing.length === 0 || unstarted.length) && pool.local?.netns ? await prepareNetwork(poolName, pool.local, this.ctx.masterUrl) : undefined;
    if (existing.length) {
      for (const r of unstarted) await this.start(r, pool, type, net, spec.joinToken);
      return existing.map((r) => this.toInstance(r));
    }
    const now = this.ctx.clock.now();
    const records: LocalInstanceRecord[] = Array.from({ length: count }, (_, i) => {
      const id = `local-${createHash('sha256').update(`${poolName}:${spec.token}:${i}`).digest('hex').slice(0, 12)}`;
      return { id, pool: poolName, instanceType: type.name, token: spec.token, workDir: join(this.opts.stateDir, 'instances', id), launchedAt: now };
    });
    this.state.update((s) => s.instances.push(...records));
    for (const r of records) await this.start(r, pool, type, net, spec.joinToken);
    return records.map((r) => this.toInstance(r));
  }

  /** Starts the agent process of a recorded instance (in its namespace with netns) and records its pid and port. */
  private async start(r: LocalInstanceRecord, pool: Pool, type: Pool['instanceTypes'][number], net: PreparedNetwork | undefined, joinToken?: string): Promise<void> {
    const port = net ? NETNS_AGENT_PORT : await freePort();
    const ports = net ? '[31000-32000]' : `[${port + 1}-${port + 100}]`;
    const resources = `cpus:${type.cpus};mem:${type.mem};disk:${type.disk ?? 1024}${type.gpus ? `;gpus:${type.gpus}` : ''};ports:${ports}`;
    const attrs = Object.entries({ ...pool.attributes, pool: pool.name, instance: r.id }).map(([k, v]) => `${k}:${v}`).join(';');
    // The join token goes through the environment, never the command line (visible in ps).
    const spawnOpts = { detached: true, stdio: 'ignore' as const, env: { ...process.env, SPILLWAY_INSTANCE_ID: r.id, ...(joinToken ? { SPILLWAY_JOIN_TOKEN: joinToken } : {}) } };
    const agentArgs = (master: string, host: string[]) => [BIN, 'agent', '--master', master, '--port', String(port), ...host, '--work-dir', r.workDir,
      '--resources', resources, '--attributes', attrs, '--kill-tasks-on-exit', ...(this.opts.agentArgs ?? [])];
    const child = net
      ? await this.spawnInNamespace(pool.name, net, r, (address) => agentArgs(net.masterUrl, ['--hostname', address]), spawnOpts)
      : spawn(process.execPath, agentArgs(this.ctx.masterUrl, []), spawnOpts);
    child.unref();
    this.state.update((s) => {
      const rec = s.instances.find((x) => x.id === r.id);
      if (rec) { rec.pid = child.pid; rec.port = port; }
    });
    r.pid = child.pid;
    r.port = port;
    this.ctx.log.info({ pool: pool.name, instance: r.id, pid: child.pid, ...(r.placement ? { address: r.placement.address, netns: r.placement.netns } : {}) }, 'local instance started');
  }

  async terminate(ids: readonly string[]): Promise<void> {
    const wanted = new Set(ids);
    const records = this.state.read().instances.filter((i) => wanted.has(i.id) && !i.terminated);
    for (const r of records) {
      if (r.pid && isOurProcess(r.pid, r.id)) {
        try { process.kill(r.pid, 'SIGTERM'); } catch { /* already gone */ }
      }
    }
    // Namespaces go once what runs inside has stopped; the placement is looked up by instance id,
    // so a namespace made just before a crash (not yet in the state file) goes too.
    for (const r of records) {
      const network = r.placement ?? this.placementOf(r.pool);
      if (network) await removeInstanceNamespace(network, r.id, NETNS_STOP_GRACE_MS);
    }
    this.state.update((s) => { for (const i of s.instances) if (wanted.has(i.id)) i.terminated = true; });
  }

  /** Creates the instance's namespace, records where it is, then starts its agent inside. */
  private async spawnInNamespace(pool: string, net: PreparedNetwork, r: LocalInstanceRecord, args: (address: string) => string[], opts: SpawnOptions): Promise<ChildProcess> {
    const ns = await addInstanceNamespace(pool, net.network, r.id);
    r.placement = { network: net.network.name, subnet: net.network.subnet.cidr, netns: ns.name, address: ns.address };
    this.state.update((s) => {
      const rec = s.instances.find((x) => x.id === r.id);
      if (rec) rec.placement = r.placement;
    });
    return ns.spawn(process.execPath, args(ns.address), opts);
  }

  private placementOf(pool: string): Pick<NetnsPlacement, 'network' | 'subnet'> | undefined {
    const local = this.pools.get(pool)?.local;
    return local?.netns ? { network: local.network, subnet: local.subnet } : undefined;
  }

  async list(poolName: string): Promise<Instance[]> {
    this.pool(poolName);
    return this.state.read().instances.filter((i) => i.pool === poolName && !i.terminated).map((r) => this.toInstance(r));
  }

  async prices(poolName: string): Promise<Price[]> {
    const pool = this.pool(poolName);
    return pool.instanceTypes.map((t) => ({
      instanceType: t.name, zone: 'local', capacityType: pool.ownership === 'owned' ? 'owned' as const : pool.capacityType,
      hourly: pool.ownership === 'owned' ? (pool.costPerHour ?? 0) : (pool.capacityType === 'spot' ? t.spotPrice ?? t.price ?? 0 : t.price ?? 0),
    }));
  }

  private toInstance(r: LocalInstanceRecord): Instance {
    const pool = this.pools.get(r.pool);
    const alive = r.pid !== undefined && isOurProcess(r.pid, r.id);
    return {
      id: r.id, pool: r.pool, provider: this.kind, instanceType: r.instanceType,
      capacityType: pool?.ownership === 'owned' ? 'owned' : (pool?.capacityType ?? 'on-demand'),
      zone: 'local', state: r.terminated ? 'terminated' : alive ? 'running' : r.pid === undefined ? 'pending' : 'stopped',
      launchedAt: r.launchedAt, privateAddress: r.placement?.address ?? '127.0.0.1',
    };
  }

  private pool(name: string): Pool {
    const p = this.pools.get(name);
    if (!p || p.provider !== 'local') throw new InvalidConfigError(`no local pool named '${name}'`, this.kind);
    return p;
  }
}

/** Guards against pid reuse: the process must carry our instance id in its environment. */
function isOurProcess(pid: number, id: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`SPILLWAY_INSTANCE_ID=${id}`);
  } catch {
    return true; // no /proc (not Linux): trust the pid
  }
}

export function checkCount(count: number): void {
  if (!Number.isInteger(count) || count <= 0) throw new InvalidConfigError(`count must be a whole number > 0, got ${count}`, 'any');
}
