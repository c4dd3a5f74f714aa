// The `static` provider: owned on-prem machines listed in the pool. Machines are never created or
// destroyed — "launch" powers one on through the pool's command hook (ipmitool, wakeonlan, ssh …)
// and waits for its agent to register anew (agent-wait.ts: not the listing of its agent from
// before the power-off); "terminate" powers it off (or only marks it released when the pool says
// drain-only). The machine's name and address reach the hook as the environment
// variables SPILLWAY_MACHINE / SPILLWAY_ADDRESS and replace {name} / {address} (shell-quoted).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Instance, LaunchSpec, Price, Provider } from '../provider.ts';
import type { Pool } from '../pool-config.ts';
import type { ProviderContext } from '../context.ts';
import { InsufficientCapacityError, InvalidConfigError, ProviderUnavailableError } from '../errors.ts';
import { FileStateStore, type StateStore } from '../state-store.ts';
import { checkCount } from '../local/local-provider.ts';
import { listAgents, poweredOnAgent, registrationsAt, type ListedAgent } from './agent-wait.ts';

export interface MachineState {
  pool: string;
  name: string;
  on: boolean;
  token?: string;
  poweredOnAt?: number;
  /** Released without powering off (drain-only, or no powerOff hook): the agent it had is still its agent. */
  keptOn?: boolean;
}

interface MachinesState { machines: MachineState[] }

export interface StaticProviderOptions {
  stateDir: string;
  /** Where which machine is on is kept (default: static-machines.json in stateDir). */
  store?: StateStore<MachinesState>;
  /** How long to wait for the machine's agent after powering it on (default: the pool's boot timeout). */
  waitForAgentMs?: number;
  /** The master's agents (default: GET_AGENTS on the master). */
  agents?: () => Promise<ListedAgent[]>;
}

/** The state file of the static provider in a state dir (also the seed of the Redis store). */
export const staticStateFile = (stateDir: string): string => join(stateDir, 'static-machines.json');

export class StaticProvider implements Provider {
  readonly kind = 'static';
  private readonly state: StateStore<MachinesState>;

  constructor(private readonly pools: Map<string, Pool>, private readonly ctx: ProviderContext, private readonly opts: StaticProviderOptions) {
    this.state = opts.store ?? new FileStateStore(staticStateFile(opts.stateDir), () => ({ machines: [] }));
  }

  async launch(poolName: string, count: number, spec: LaunchSpec): Promise<Instance[]> {
    const pool = this.pool(poolName);
    checkCount(count);
    const cfg = pool.static!;
    const known = (await this.state.read()).machines;
    const already = known.filter((m) => m.pool === poolName && m.token === spec.token);
    if (already.length) return already.map((m) => this.toInstance(pool, m));
    const on = new Set(known.filter((m) => m.pool === poolName && m.on).map((m) => m.name));
    // Any powered-off machine will do unless the caller names one (instanceType = machine name).
    const off = cfg.machines.filter((m) => !on.has(m.name) && (!spec.instanceType || spec.instanceType === 'any' || spec.instanceType === m.name));
    if (off.length < count) {
      throw new InsufficientCapacityError(`pool ${poolName}: ${count} machine(s) wanted, ${off.length} powered off`, this.kind);
    }
    const chosen = off.slice(0, count);
    const waitMs = this.opts.waitForAgentMs ?? pool.bootTimeoutSeconds * 1000;
    // Read before anything is recorded or powered on: a master that cannot be asked fails the launch cleanly.
    const before = waitMs > 0 ? await this.registrationsBefore(chosen, known.filter((m) => m.pool === poolName)) : undefined;
    const now = this.ctx.clock.now();
    // Record first: a retry after a crash finds these machines and powers on nothing new.
    const recorded = await this.state.update((s) => {
      for (const m of chosen) {
        s.machines = s.machines.filter((x) => !(x.pool === poolName && x.name === m.name));
        s.machines.push({ pool: poolName, name: m.name, on: true, token: spec.token, poweredOnAt: now });
      }
    });
    for (const m of chosen) {
      await runHook(cfg.powerOn, m.name, m.address, `pool ${poolName}: powering on ${m.name}`);
      this.ctx.log.info({ pool: poolName, machine: m.name }, 'machine powered on');
    }
    if (before) await Promise.all(chosen.map((m) => this.waitForAgent(m.address, before.get(m.name)!, waitMs)));
    return chosen.map((m) => this.toInstance(pool, recorded.machines.find((x) => x.pool === poolName && x.name === m.name)!));
  }

  async terminate(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const [poolName, name] = splitId(id);
      const pool = this.pools.get(poolName);
      const machine = pool?.static?.machines.find((m) => m.name === name);
      const st = (await this.state.read()).machines.find((m) => m.pool === poolName && m.name === name);
      if (!pool || !machine || !st?.on) continue;
      const powerOff = pool.static!.onRelease === 'power-off' ? pool.static!.powerOff : undefined;
      if (powerOff) await runHook(powerOff, machine.name, machine.address, `pool ${poolName}: powering off ${machine.name}`);
      await this.state.update((s) => {
        const m = s.machines.find((x) => x.pool === poolName && x.name === name);
        if (m) { m.on = false; m.token = undefined; m.keptOn = powerOff ? undefined : true; }
      });
    }
  }

  async list(poolName: string): Promise<Instance[]> {
    const pool = this.pool(poolName);
    return (await this.state.read()).machines.filter((m) => m.pool === poolName && m.on).map((m) => this.toInstance(pool, m));
  }

  async prices(poolName: string): Promise<Price[]> {
    const pool = this.pool(poolName);
    return pool.static!.machines.map((m) => ({ instanceType: m.name, zone: 'on-prem', capacityType: 'owned' as const, hourly: m.costPerHour ?? pool.costPerHour ?? 0 }));
  }

  private toInstance(pool: Pool, st: MachineState): Instance {
    const m = pool.static!.machines.find((x) => x.name === st.name)!;
    return {
      id: `${pool.name}/${st.name}`, pool: pool.name, provider: this.kind, instanceType: st.name, capacityType: 'owned', zone: 'on-prem',
      state: st.on ? 'running' : 'stopped', launchedAt: st.poweredOnAt ?? 0, privateAddress: m.address,
    };
  }

  private listAgents(): Promise<ListedAgent[]> {
    return this.opts.agents ? this.opts.agents() : listAgents(this.ctx.masterUrl);
  }

  /** Per machine about to be powered on: the agent registrations that are not its new agent. */
  private async registrationsBefore(chosen: readonly { name: string; address: string }[], states: readonly MachineState[]): Promise<Map<string, Set<string>>> {
    let agents: ListedAgent[];
    try {
      agents = await this.listAgents();
    } catch (e) {
      throw new ProviderUnavailableError(`the master's agents could not be listed before powering on: ${(e as Error).message}`, this.kind);
    }
    // A machine that was only released, never powered off, keeps its agent: none is excluded.
    return new Map(chosen.map((m) => [m.name, states.find((s) => s.name === m.name)?.keptOn ? new Set<string>() : registrationsAt(agents, m.address)]));
  }

  private async waitForAgent(address: string, before: ReadonlySet<string>, timeoutMs: number): Promise<void> {
    const deadline = this.ctx.clock.now() + timeoutMs;
    while (!poweredOnAgent(await this.listAgents().catch(() => []), address, before)) {
      if (this.ctx.clock.now() > deadline) throw new ProviderUnavailableError(`no agent registered from ${address} within ${Math.round(timeoutMs / 1000)} s of power-on`, this.kind);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private pool(name: string): Pool {
    const p = this.pools.get(name);
    if (!p || p.provider !== 'static' || !p.static) throw new InvalidConfigError(`no static pool named '${name}'`, this.kind);
    return p;
  }
}

function splitId(id: string): [string, string] {
  const i = id.indexOf('/');
  return i < 0 ? ['', id] : [id.slice(0, i), id.slice(i + 1)];
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function runHook(template: string, name: string, address: string, what: string): Promise<void> {
  const command = template.replaceAll('{name}', quote(name)).replaceAll('{address}', quote(address));
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SPILLWAY_MACHINE: name, SPILLWAY_ADDRESS: address } });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', (e) => reject(new ProviderUnavailableError(`${what}: ${e.message}`, 'static')));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new ProviderUnavailableError(`${what}: hook exited with status ${code}${err ? `: ${err.trim().slice(0, 200)}` : ''}`, 'static'))));
  });
}
