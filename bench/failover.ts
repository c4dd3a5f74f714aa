// `npm run bench:failover` — leader failover under load: a private redis-server (AOF,
// appendfsync always), two `bin/spillway master` replicas, 100 SimulatedAgents (in this process,
// following the leader through the replicas) and an SDK framework with 10,000 running tasks. The
// leader is killed with SIGKILL; measured:
//
//   failover_ms   kill → the surviving replica answers an operator call itself (200, not 307/503):
//                 a new leader that accepts calls. Bounded below by what is left of the lease.
//   recovered_ms  kill → every agent re-registered and the framework re-subscribed (each also
//                 on its own: agents_back_ms, framework_back_ms).
//   tasks_lost    tasks not TASK_RUNNING on the new leader once recovered (target 0), plus any
//                 TASK_LOST/TASK_DROPPED/TASK_UNREACHABLE the framework received.
//
// One JSON line on stdout (agents, tasks, failover_ms, tasks_lost, recovered_ms, …, lease_ms,
// machine, commit, date); progress on stderr. Flags: --agents (100), --tasks (10000), --lease
// <seconds> (3, the default of `spillway master`), --timeout <s> (300), --keep (leave the temp dir
// with the logs), --check (exit 1 when the target — failover ≤ 5 s, nothing lost — is missed).
// Everything listens on 127.0.0.1 and everything started is stopped at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { resources } from '../src/resources/resources.ts';
import { SchedulerClient, taskResources, type Offer } from '../src/sdk/scheduler-client.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { freePort, startRedis } from '../src/up/redis-process.ts';
import { installSignalHandlers, onCleanup, runCleanups } from './lib/cleanup.ts';
import { boundFetchConnections } from './lib/fetch-pool.ts';
import { exited, spawnLogged, stopChild, waitUntil } from './lib/processes.ts';
import { referenceMs, runInfo } from './lib/run-info.ts';
import { numberFlag, printHeaderHelp, RUN_FLAGS } from './lib/flags.ts';

const TARGET = { failover_ms: 5000, tasks_lost: 0 };
const TASK_CPUS = 0.01;
const TASK_MEM = 1;

const log = (s: string): void => { process.stderr.write(`[bench:failover] ${s}\n`); };

function parse() {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '100' },
      tasks: { type: 'string', default: '10000' },
      lease: { type: 'string', default: '3' },
      ...RUN_FLAGS,
    },
    strict: true,
  });
  if (values.help) printHeaderHelp(import.meta.url);
  const num = (flag: string, v: string, min: number): number => numberFlag(flag, v, min)!;
  return {
    agents: Math.round(num('agents', values.agents, 1)), tasks: Math.round(num('tasks', values.tasks, 1)),
    leaseS: num('lease', values.lease, 0.1), timeoutMs: num('timeout', values.timeout, 1) * 1000, keep: values.keep, check: values.check,
  };
}

async function leaderOf(urls: string[]): Promise<number | undefined> {
  for (const [i, u] of urls.entries()) {
    const info = await fetch(`${u}/v1/leader`, { signal: AbortSignal.timeout(2000) }).then((r) => r.json() as Promise<{ self: { state: string } }>, () => undefined);
    if (info?.self.state === 'leader') return i;
  }
  return undefined;
}

/** Answers the operator call itself: the replica leads and accepts calls. */
async function accepts(url: string): Promise<boolean> {
  const r = await fetch(`${url}/api/v1`, {
    method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_HEALTH"}', signal: AbortSignal.timeout(2000),
  }).catch(() => undefined);
  return r?.status === 200;
}

async function main(): Promise<void> {
  const o = parse();
  installSignalHandlers(log);
  referenceMs(); // on the idle machine, before anything starts
  const dir = mkdtempSync(join(os.tmpdir(), 'spillway-bench-failover-'));
  if (!o.keep) onCleanup('temp dir', () => rmSync(dir, { recursive: true, force: true }));
  try {
    const redis = await startRedis({ dataDir: join(dir, 'redis'), appendfsync: 'always' });
    onCleanup('redis-server', () => redis.stop());
    const ports = [await freePort(), await freePort()];
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const masters: ChildProcess[] = [];
    for (const [i, port] of ports.entries()) {
      const logFile = join(dir, `master-${i}.log`);
      const child = spawnLogged(['master', '--redis', redis.url, '--port', String(port), '--leader-lease', String(o.leaseS), '--body-limit', '64mb', '--allocation-interval', '50'], logFile);
      masters.push(child);
      onCleanup(`master ${i}`, () => stopChild(child, 'SIGKILL'));
      await waitUntil(`master ${i} to listen`, 60_000, async () => (await fetch(`${urls[i]}/health`).then((r) => r.ok, () => false)), () => exited(child, `master ${i}`, logFile));
    }
    let leader: number | undefined;
    await waitUntil('a leader', 30_000, async () => (leader = await leaderOf(urls)) !== undefined);
    log(`masters ${urls.join(', ')}; leader ${urls[leader!]} (lease ${o.leaseS} s)`);

    // One SUBSCRIBE stream per agent, room for a second one while re-subscribing, plus a pool for
    // their calls (see bench/lib/fetch-pool.ts).
    await fetch(`${urls[leader!]}/health`);
    const restore = boundFetchConnections(o.agents * 2 + 16);
    if (restore) onCleanup('fetch connection pool', restore);
    const perAgent = Math.ceil(o.tasks / o.agents);
    const agents = Array.from({ length: o.agents }, (_, i) => new SimulatedAgent({
      master: urls[leader!], replicas: urls, behaviour: 'run', hostname: `10.1.${Math.floor(i / 250)}.${i % 250}`,
      resources: resources({ cpus: Math.round(perAgent * TASK_CPUS * 100 + 1) / 100, mem: perAgent * TASK_MEM + 64, disk: 1000 }),
    }));
    for (const [i, a] of agents.entries()) {
      await a.start();
      onCleanup(`simulated agent ${i}`, () => a.stop());
    }
    log(`${o.agents} agents registered`);

    const running = new Set<string>();
    const lostAfterKill: string[] = [];
    let killedAt: number | undefined;
    let next = 0;
    const fw = new SchedulerClient({ master: urls, framework: { user: 'bench', name: 'bench-failover', failover_timeout: 3600 }, maxBackoffMs: 500 });
    onCleanup('framework', () => fw.close());
    let subscriptions = 0;
    fw.on('subscribed', () => { subscriptions++; });
    fw.on('update', (s) => {
      if (s.state === 'TASK_RUNNING') running.add(s.task_id.value);
      else if (killedAt !== undefined && /LOST|DROPPED|UNREACHABLE/.test(s.state)) lostAfterKill.push(s.task_id.value);
    });
    fw.on('offers', (offers: Offer[]) => {
      for (const offer of offers) {
        const cpus = offer.resources.filter((r) => r.name === 'cpus').reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0);
        const n = Math.min(o.tasks - next, Math.floor((cpus + 1e-9) / TASK_CPUS));
        if (n <= 0) { void fw.decline([offer.id.value], 3600).catch(() => {}); continue; }
        const tasks = Array.from({ length: n }, () => {
          const id = `t-${next++}`;
          return { name: id, task_id: { value: id }, agent_id: offer.agent_id, resources: taskResources(TASK_CPUS, TASK_MEM), command: { value: 'true' } };
        });
        void fw.launch(offer.id.value, tasks, 3600).catch((e: Error) => log(`ACCEPT failed: ${e.message}`));
      }
    });
    const launchStart = performance.now();
    await fw.subscribe();
    await waitUntil(`${o.tasks} tasks to run`, o.timeoutMs, () => running.size >= o.tasks, () => exited(masters[leader!], 'the leader', join(dir, `master-${leader}.log`)));
    log(`${o.tasks} tasks running after ${Math.round(performance.now() - launchStart)} ms; killing the leader (pid ${masters[leader!].pid})`);

    const survivor = urls[1 - leader!];
    const subscriptionsBefore = agents.map((a) => a.subscriptions);
    killedAt = performance.now();
    await stopChild(masters[leader!], 'SIGKILL');
    await waitUntil('the survivor to accept calls', o.timeoutMs, () => accepts(survivor));
    const failoverMs = performance.now() - killedAt;
    log(`new leader ${survivor} accepts calls after ${Math.round(failoverMs)} ms`);
    let agentsBackMs: number | undefined;
    let frameworkBackMs: number | undefined;
    await waitUntil('agents and framework to come back', o.timeoutMs, () => {
      if (frameworkBackMs === undefined && subscriptions > 1) frameworkBackMs = performance.now() - killedAt!;
      if (agentsBackMs === undefined && agents.every((a, i) => a.subscriptions > subscriptionsBefore[i])) agentsBackMs = performance.now() - killedAt!;
      return agentsBackMs !== undefined && frameworkBackMs !== undefined;
    });
    const recoveredMs = performance.now() - killedAt;
    const r = await fetch(`${survivor}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_TASKS"}' });
    const tasks = ((await r.json()) as { get_tasks: { tasks: { state: string }[] } }).get_tasks.tasks;
    const stillRunning = tasks.filter((t) => t.state === 'TASK_RUNNING').length;
    const tasksLost = Math.max(o.tasks - stillRunning, new Set(lostAfterKill).size);
    log(`recovered after ${Math.round(recoveredMs)} ms: ${stillRunning}/${o.tasks} tasks running on the new leader`);
    const out = {
      agents: o.agents, tasks: o.tasks, failover_ms: Math.round(failoverMs), tasks_lost: tasksLost, recovered_ms: Math.round(recoveredMs),
      agents_back_ms: Math.round(agentsBackMs!), framework_back_ms: Math.round(frameworkBackMs!),
      lease_ms: o.leaseS * 1000, target: TARGET, target_met: failoverMs <= TARGET.failover_ms && tasksLost === TARGET.tasks_lost, ...runInfo(),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    if (o.keep) log(`logs in ${dir}`);
    if (o.check && !out.target_met) process.exitCode = 1;
  } finally {
    await runCleanups(log);
  }
}

main().catch(async (e: unknown) => {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  await runCleanups(log);
  process.exit(1);
});
