// `spillway up`: the embedded default — Redis, a master and N local agents in one command.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createLogger, redactUrl } from '../../common/logger.ts';
import { runMaster, type RunningMaster } from '../../master/run-master.ts';
import { canListen, freePort, redisServerAvailable, startRedis, type RedisProcess } from '../../up/redis-process.ts';
import { MasterClient } from '../../client/master-client.ts';
import { fail, step } from '../output.ts';
import { parseResourceFlag } from '../../resources/mesos-resources.ts';
import { DEFAULT_RENTED_MAX, defaultPolicyYaml } from '../../autoscaler/default-policy.ts';
import { addMasterFlags, masterConfigFromFlags, masterProcessOptionsFromFlags, type MasterFlags } from './master-flags.ts';

const BIN = fileURLToPath(new URL('../../../bin/spillway', import.meta.url));

interface UpFlags extends MasterFlags { agents: string; port: string; dataDir: string; agentResources?: string }

export function registerUpCommand(program: Command): void {
  addMasterFlags(
    program.command('up')
      .description('start Redis (or use $REDIS_URL), a master and N local agents; Ctrl-C stops everything')
      .option('--agents <n>', 'number of local agents', '2')
      .option('--port <port>', 'master port', '5050')
      .option('--data-dir <dir>', 'where Redis data and agent work dirs live', '.spillway')
      .option('--agent-resources <spec>', 'resources of each agent (default: this machine split evenly)'),
  ).action(async (o: UpFlags) => {
    const agents = Number(o.agents);
    const port = Number(o.port);
    if (!Number.isInteger(agents) || agents < 0 || agents > 64) fail(`--agents: '${o.agents}' must be a whole number from 0 to 64`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: '${o.port}' is not a port number`);
    const config = masterConfigFromFlags(o);
    const limits = masterProcessOptionsFromFlags(o);
    const dataDir = resolve(o.dataDir);
    const children: ChildProcess[] = [];
    let redis: RedisProcess | undefined;
    let master: RunningMaster | undefined;

    let shuttingDown = false;
    const shutdown = async (code: number): Promise<never> => {
      if (shuttingDown) return new Promise<never>(() => {});
      shuttingDown = true;
      process.stderr.write('\n• stopping agents, master and Redis …\n');
      await Promise.all(children.map((c) => stopChild(c)));
      await stopRentedAgents(master).catch(() => {});
      await master?.stop().catch(() => {});
      await redis?.stop().catch(() => {});
      process.stderr.write('• stopped\n');
      process.exit(code);
    };
    // SIGHUP: the terminal closed (or the SSH session dropped) — the same clean stop, or the agents
    // (in this process group) would die on it without stopping their tasks, and Redis ignores it.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => void shutdown(0));

    try {
      let redisUrl = process.env.REDIS_URL;
      if (redisUrl) {
        process.stderr.write(`• using Redis at ${redactUrl(redisUrl)} (REDIS_URL)\n`);
      } else {
        if (!redisServerAvailable()) {
          fail('no Redis: set REDIS_URL=redis://host:port, or install redis-server (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis)');
        }
        const done = step(`starting redis-server (AOF on, data in ${join(dataDir, 'redis')})`);
        redis = await startRedis({ dataDir: join(dataDir, 'redis') });
        redisUrl = redis.url;
        done();
      }
      const doneMaster = step(`starting the master on 127.0.0.1:${port}`);
      const autoscaler = limits.autoscaler === false ? false : { ...limits.autoscaler, stateDir: limits.autoscaler?.stateDir ?? join(dataDir, 'providers') };
      master = await runMaster({ redisUrl, host: '127.0.0.1', port, config, ...limits, autoscaler, bodyLimit: o.bodyLimit, log: createLogger('master', process.env.SPILLWAY_LOG_LEVEL ?? 'warn') });
      doneMaster();
      const share = o.agentResources ?? defaultAgentShare(agents);
      for (let i = 0; i < agents; i++) {
        const ports = `[${31000 + i * 1000}-${31999 + i * 1000}]`;
        // The ports after the master's (5051, 5052, …), or a free one when another program has it.
        const agentPort = (await canListen(port + 1 + i, '127.0.0.1')) ? port + 1 + i : await freePort();
        const args = [BIN, 'agent', '--master', master.url, '--port', String(agentPort), '--work-dir', join(dataDir, 'agents', `agent-${i}`),
          '--resources', `${share};ports:${ports}`, '--attributes', `pool:local-owned;index:${i}`, '--kill-tasks-on-exit', '--exit-with-parent'];
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SPILLWAY_LOG_LEVEL: process.env.SPILLWAY_LOG_LEVEL ?? 'warn' } });
        children.push(child);
      }
      if (agents > 0) {
        const doneAgents = step(`starting ${agents} local agent(s)`);
        await waitForAgents(new MasterClient(master.url), agents, children);
        doneAgents();
      }
      const url = master.url;
      if (autoscaler !== false) await applyDefaultPolicy(url, agents, share);
      process.stdout.write([
        '',
        `Spillway is up: master ${url} with ${agents} agent(s).`,
        `  scheduler API   POST ${url}/api/v1/scheduler   (Mesos v1, JSON)`,
        `  operator API    POST ${url}/api/v1`,
        `  state           ${url}/master/state`,
        `  metrics         ${url}/metrics`,
        '',
        'Try, in another terminal:',
        `  ./bin/spillway agents --master ${url}`,
        `  ./bin/spillway run --master ${url} --count 4 -- 'echo hello from $MESOS_TASK_ID'`,
        `  ./bin/spillway tasks --all --master ${url}`,
        `  ./bin/spillway run --master ${url} --count 20 -- sleep 5     # more than the owned agents hold: local-rented agents start`,
        `  ./bin/spillway scaling decisions --follow --master ${url}   # what the autoscaler does, and why`,
        '',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'));
    } catch (e) {
      process.stderr.write(`\nspillway up: ${(e as Error).message}\n`);
      await shutdown(1);
    }
  });
}

/**
 * Each agent's share of this machine. Cpus are capped at 0.5 per agent so that the quick start's
 * `spillway run --count 20 -- sleep 5` (20 × 0.1 cpus) is more than the owned agents hold on any
 * machine, and the autoscaler visibly starts local-rented agents; `--agent-resources` overrides.
 */
function defaultAgentShare(n: number): string {
  const count = Math.max(1, n);
  const cpus = Math.min(0.5, Math.max(0.1, Math.floor((availableParallelism() / count) * 10) / 10));
  const mem = Math.max(256, Math.floor((totalmem() / 1048576 - 1024) / count));
  return `cpus:${cpus};mem:${mem};disk:${4096}`;
}

async function waitForAgents(client: MasterClient, n: number, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const dead = children.find((c) => c.exitCode !== null);
    if (dead) throw new Error(`a local agent exited with status ${dead.exitCode} while starting`);
    const r = await client.call<{ get_agents: { agents: unknown[] } }>('GET_AGENTS').catch(() => undefined);
    if (r && r.get_agents.agents.length >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${r?.get_agents.agents.length ?? 0} of ${n} agents registered within 30 s`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Applies the default policy (local-owned + local-rented) unless the master already has one. */
async function applyDefaultPolicy(url: string, agents: number, share: string): Promise<void> {
  const current = await fetch(`${url}/v1/policies/current`, { headers: { Accept: 'application/json' } });
  if (current.ok) {
    const v = (await current.json()) as { version: number };
    process.stderr.write(`• autoscaling policy version ${v.version} is in force (spillway policy show)\n`);
    return;
  }
  const parsed = parseResourceFlag(share);
  const done = step(`applying the default autoscaling policy (local-owned: ${agents} agent(s), local-rented: up to ${DEFAULT_RENTED_MAX})`);
  const yaml = defaultPolicyYaml({ ownedAgents: agents, ownedShape: parsed.ok ? parsed.value : { scalars: { cpus: 1, mem: 1024 }, ports: [] } });
  const res = await fetch(`${url}/v1/policies?file=spillway-up-default.yaml`, { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: yaml });
  if (res.status !== 201) throw new Error(`the default policy was refused: ${res.status} ${await res.text()}`);
  done();
}

/** Ctrl-C: the local-rented agents the autoscaler started go too (they are detached processes). */
async function stopRentedAgents(master: RunningMaster | undefined): Promise<void> {
  const cur = await master?.autoscaler.autoscaler?.providers.current();
  if (!cur) return;
  for (const pool of cur.policy.policy.pools.filter((p) => p.provider === 'local')) {
    const provider = cur.providers.forPool(pool.name);
    const ids = (await provider.list(pool.name)).map((i) => i.id);
    if (ids.length) await provider.terminate(ids);
  }
}

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => { clearTimeout(timer); res(); });
    c.kill('SIGTERM');
  });
}
