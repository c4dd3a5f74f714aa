// An autoscaled cluster for end-to-end tests: a private redis-server, a master (in this process,
// or as a `bin/spillway master` child that a test can kill -9) with the autoscaler on, "owned"
// agents started by the test, and rented agents the local provider starts on demand.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { freePort, type RedisProcess } from '../../src/up/redis-process.ts';
import { createLogger } from '../../src/common/logger.ts';
import { runMaster, type RunningMaster } from '../../src/master/run-master.ts';
import type { MasterAutoscalerOptions } from '../../src/autoscaler/start.ts';
import type { StoredDecision } from '../../src/autoscaler/decision-log.ts';
import type { InstanceRecord } from '../../src/autoscaler/records.ts';
import type { Instance, LaunchSpec, Price, Provider } from '../../providers/provider.ts';
import { BIN, FAST_MASTER_FLAGS, operator, waitFor, waitForMasterReady } from './cluster.ts';
import { tempDir, testRedis } from './redis.ts';

export interface AutoscaledCluster {
  redis: RedisProcess;
  url: string;
  stateDir: string;
  /** Set when the master runs in this process. */
  master?: RunningMaster;
  /** Set when the master runs as a child process. */
  masterChild?: ChildProcess;
  owned: ChildProcess[];
  startMasterProcess(): Promise<void>;
  applyPolicy(yaml: string): Promise<void>;
  decisions(): Promise<StoredDecision[]>;
  instances(): Promise<InstanceRecord[]>;
  agents(): Promise<{ id: string; pool?: string; instance?: string; active: boolean; drainState?: string }[]>;
  stop(): Promise<void>;
}

export interface AutoscaledOptions {
  ownedAgents: number;
  ownedResources?: string;
  /** Run the master as a child process (for kill -9). */
  masterProcess?: boolean;
  autoscaler?: MasterAutoscalerOptions;
}

const env = () => ({ ...process.env, SPILLWAY_LOG_LEVEL: process.env.SPILLWAY_LOG_LEVEL ?? 'warn' });

export async function startAutoscaledCluster(o: AutoscaledOptions): Promise<AutoscaledCluster> {
  const redis = await testRedis();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const stateDir = tempDir('spillway-providers-');
  const children = new Set<ChildProcess>();
  const c: AutoscaledCluster = {
    redis, url, stateDir, owned: [],
    async startMasterProcess() {
      const child = spawn(process.execPath, [BIN, 'master', '--redis', redis.url, '--port', String(port), ...FAST_MASTER_FLAGS,
        '--autoscaler-interval', '1', '--autoscaler-job-lock', '2000', '--provider-state-dir', stateDir], { stdio: ['ignore', 'ignore', 'inherit'], env: env() });
      children.add(child);
      c.masterChild = child;
      await waitForMasterReady(url);
    },
    async applyPolicy(yaml) {
      const res = await fetch(`${url}/v1/policies?file=test.yaml`, { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: yaml });
      if (res.status !== 201) throw new Error(`policy apply: ${res.status} ${await res.text()}`);
    },
    async decisions() {
      const r = await fetch(`${url}/v1/decisions?limit=1000`);
      return ((await r.json()) as { decisions: StoredDecision[] }).decisions;
    },
    async instances() {
      const r = await fetch(`${url}/v1/autoscaler/instances`);
      return ((await r.json()) as { instances: InstanceRecord[] }).instances;
    },
    async agents() {
      const r = await operator(url, 'GET_AGENTS');
      return r.get_agents.agents.map((a: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        const attrs = Object.fromEntries((a.agent_info.attributes ?? []).map((x: any) => [x.name, x.text?.value])); // eslint-disable-line @typescript-eslint/no-explicit-any
        return { id: a.agent_info.id.value, pool: attrs.pool, instance: attrs.instance, active: a.active, drainState: a.drain_info?.state };
      });
    },
    async stop() {
      await c.master?.stop().catch(() => {});
      for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
      await Promise.all([...children].map((ch) => (ch.exitCode !== null || ch.signalCode !== null ? Promise.resolve() : new Promise((r) => ch.once('exit', r)))));
      killLocalInstances(stateDir);
      await redis.stop();
    },
  };
  if (o.masterProcess) await c.startMasterProcess();
  else {
    c.master = await runMaster({
      redisUrl: redis.url, host: '127.0.0.1', port, log: createLogger('master', process.env.SPILLWAY_LOG_LEVEL ?? 'warn'),
      config: { agentPingIntervalSeconds: 1, maxAgentPingTimeouts: 5, allocationIntervalMs: 100, heartbeatIntervalSeconds: 1 },
      autoscaler: { intervalSeconds: 1, stateDir, lockDurationMs: 2000, drainPollMs: 200, backoffMs: 200, ...o.autoscaler },
    });
  }
  for (let i = 0; i < o.ownedAgents; i++) {
    const agentPort = await freePort();
    const child = spawn(process.execPath, [BIN, 'agent', '--master', url, '--port', String(agentPort), '--work-dir', tempDir('spillway-owned-'),
      '--resources', o.ownedResources ?? `cpus:1;mem:512;disk:1000;ports:[${33000 + i * 100}-${33099 + i * 100}]`, '--attributes', `pool:owned;index:${i}`,
      '--kill-tasks-on-exit'], { stdio: ['ignore', 'ignore', 'inherit'], env: env() });
    children.add(child);
    c.owned.push(child);
  }
  await waitFor(async () => (await c.agents()).filter((a) => a.active).length >= o.ownedAgents, 30_000, `${o.ownedAgents} owned agents`);
  return c;
}

/** The local provider's agents are detached: stop every process whose command line names the state dir. */
export function killLocalInstances(stateDir: string): void {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(stateDir)) process.kill(Number(pid), 'SIGKILL');
    } catch { /* gone, or not ours to read */ }
  }
}

/** Waits for a decision matching `pred` and returns it. */
export async function waitForDecision(c: AutoscaledCluster, pred: (d: StoredDecision) => boolean, what: string, timeoutMs = 60_000): Promise<StoredDecision> {
  let found: StoredDecision | undefined;
  await waitFor(async () => {
    found = (await c.decisions()).find(pred);
    return found !== undefined;
  }, timeoutMs, what);
  return found!;
}

/**
 * A policy with one owned static machine, rack/node1 at 127.0.0.2, whose hooks start and stop a
 * real `spillway agent` (as an operator's would through IPMI or Wake-on-LAN), and a rented pool
 * `burst` of local agents. The hooks write `power-node1` in `dir`: "off" at each power-off, and
 * "on" at each power-on too with `markPowerOn`.
 */
export function staticRackPolicy(masterUrl: string, dir: string, o: { markPowerOn?: boolean } = {}): string {
  const powerOn = `${o.markPowerOn ? `echo on >> ${dir}/power-$SPILLWAY_MACHINE; ` : ''}nohup ${process.execPath} ${BIN} agent --master ${masterUrl} --hostname {address} --port 0 --work-dir ${dir}/m-$SPILLWAY_MACHINE `
    + `--kill-tasks-on-exit --resources "cpus:1;mem:512;disk:1000;ports:[34000-34099]" --attributes "pool:rack" >${dir}/agent-$SPILLWAY_MACHINE.log 2>&1 & echo $! > ${dir}/pid-$SPILLWAY_MACHINE`;
  const powerOff = `kill $(cat ${dir}/pid-$SPILLWAY_MACHINE) && echo off >> ${dir}/power-$SPILLWAY_MACHINE`;
  return `
pools:
  - name: rack
    provider: static
    ownership: owned
    max: 1
    costPerHour: 0.02
    bootTimeoutSeconds: 60
    static:
      powerOn: ${JSON.stringify(powerOn)}
      powerOff: ${JSON.stringify(powerOff)}
      machines:
        - { name: node1, address: 127.0.0.2, cpus: 1, mem: 512, disk: 1000 }
  - name: burst
    provider: local
    ownership: rented
    max: 2
    instanceTypes: [{ name: small, cpus: 1, mem: 512, disk: 1000, price: 0.1 }]
scaleUp: { batchWindowSeconds: 0, maxLaunchesPerMinute: 10 }
scaleDown: { utilisationThreshold: 0.5, unneededForSeconds: 2, drainGraceSeconds: 1, disruptionBudget: 3 }
budget: { perHour: 1 }
cooldowns: { scaleUpSeconds: 0, scaleDownSeconds: 0 }
`;
}

/** A policy with an owned pool (the test's agents) and a rented local pool. */
export function testPolicy(o: { owned: number; rentedMax?: number; budget?: number; price?: number; bootTimeout?: number; unneeded?: number; extra?: string } ): string {
  return `
pools:
  - name: owned
    provider: local
    ownership: owned
    min: 0
    max: ${o.owned}
    instanceTypes: [{ name: box, cpus: 1, mem: 512 }]
  - name: burst
    provider: local
    ownership: rented
    max: ${o.rentedMax ?? 3}
    bootTimeoutSeconds: ${o.bootTimeout ?? 60}
    instanceTypes: [{ name: small, cpus: 1, mem: 512, disk: 1000, price: ${o.price ?? 0.1} }]
scaleUp: { batchWindowSeconds: 0, maxLaunchesPerMinute: 10 }
scaleDown: { utilisationThreshold: 0.5, unneededForSeconds: ${o.unneeded ?? 2}, drainGraceSeconds: 1, disruptionBudget: 3 }
budget: { perHour: ${o.budget ?? 1} }
cooldowns: { scaleUpSeconds: 0, scaleDownSeconds: 0 }
${o.extra ?? ''}`;
}

/**
 * A provider whose machines never boot: launches are remembered (tokens in `tokens`), nothing
 * starts. `failLaunch` may refuse a launch by its token, as a cloud out of capacity would.
 */
export class NeverBootsProvider implements Provider {
  readonly kind = 'local';
  readonly launched = new Map<string, Instance>();
  readonly terminated: string[] = [];
  readonly tokens: string[] = [];
  constructor(private readonly failLaunch?: (token: string) => Error | undefined) {}
  async launch(pool: string, count: number, spec: LaunchSpec): Promise<Instance[]> {
    this.tokens.push(spec.token);
    const refused = this.failLaunch?.(spec.token);
    if (refused) throw refused;
    const out: Instance[] = [];
    for (let i = 0; i < count; i++) {
      const id = `dud-${spec.token}-${i}`;
      const inst = this.launched.get(id) ?? { id, pool, provider: 'local', instanceType: spec.instanceType, capacityType: 'on-demand' as const, zone: 'local', state: 'running' as const, launchedAt: Date.now() };
      this.launched.set(id, inst);
      out.push(inst);
    }
    return out;
  }
  async terminate(ids: readonly string[]): Promise<void> {
    for (const id of ids) { this.terminated.push(id); this.launched.delete(id); }
  }
  async list(pool: string): Promise<Instance[]> {
    return [...this.launched.values()].filter((i) => i.pool === pool);
  }
  async prices(): Promise<Price[]> {
    return [];
  }
}
