// Owned static machines powered on again: which agent is the machine's (the master still lists the
// one from before the power-off), and whose deactivation the autoscaler may lift — only its own
// drain's, never an operator's DEACTIVATE_AGENT (such a machine is not powered on at all).
import test from 'ava';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate, poolStates, type AgentView, type EvaluationInputs } from '../src/autoscaler/evaluate.ts';
import { parsePolicy } from '../src/autoscaler/policy-schema.ts';
import { PolicyProviders } from '../src/autoscaler/providers.ts';
import { AutoscalerQueues, bootCheckJobId } from '../src/autoscaler/queues.ts';
import { AutoscalerRecords, type InstanceRecord } from '../src/autoscaler/records.ts';
import type { HeldAgent } from '../src/autoscaler/reconcile.ts';
import { WorkerPool } from '../src/autoscaler/workers.ts';
import { silentLogger } from '../src/common/logger.ts';
import { systemClock } from '../src/common/clock.ts';
import { BatchJob } from '../src/sdk/batch-job.ts';
import type { Provider } from '../providers/provider.ts';
import { startAutoscaledCluster, staticRackPolicy, waitForDecision } from './helpers/autoscale.ts';
import { BIN, waitFor } from './helpers/cluster.ts';
import { inProcessMaster } from './helpers/in-process.ts';
import { tempDir, testRedis } from './helpers/redis.ts';

const RACK = `
pools:
  - name: rack
    provider: static
    ownership: owned
    max: 2
    static: { powerOn: "true", powerOff: "true", machines: [{ name: node1, address: 10.0.0.1, cpus: 1, mem: 512 }, { name: node2, address: 10.0.0.2, cpus: 1, mem: 512 }] }
budget: { perHour: 1 }
scaleUp: { batchWindowSeconds: 0 }
cooldowns: { scaleUpSeconds: 0, scaleDownSeconds: 0 }
`;

// ---- evaluation (pure) --------------------------------------------------------------------------------

const { policy: rack } = parsePolicy(RACK, 'rack.yaml');
const q = (cpus: number, mem: number) => ({ cpus, mem, disk: 0, gpus: 0 });
const NOW = 1_000_000;
const agent = (id: string, o: Partial<AgentView> = {}): AgentView => ({
  id, hostname: '10.0.0.1', pool: 'rack', attributes: { pool: 'rack' }, total: q(1, 512), used: q(0, 0), free: q(1, 512),
  reserved: false, doNotDisrupt: [], draining: true, active: true, ...o,
});
const record = (machine: string, o: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instanceId: `rack/${machine}`, pool: 'rack', instanceType: machine, ownership: 'owned', capacityType: 'owned', unitPrice: 0, jobId: `launch_rack_${machine}_g0`,
  state: 'released', launchedAt: 5, updatedAt: 5, kind: 'power-on', ...o,
});
const held = (id: string, o: Partial<HeldAgent> = {}): HeldAgent => ({ id, hostname: '10.0.0.1', pool: 'rack', active: false, deactivated: false, ...o });
const listed = (machine: string, address: string) => ({
  id: `rack/${machine}`, pool: 'rack', provider: 'static', instanceType: machine, capacityType: 'owned' as const, zone: 'on-prem', state: 'running' as const, launchedAt: 5, privateAddress: address,
});
const inputs = (o: Partial<EvaluationInputs>): EvaluationInputs => ({
  now: NOW, policy: rack, policyVersion: 1, demands: [], agents: [], records: [], launches: [], inventory: { rack: [] }, inventoryErrors: {}, prices: {},
  backoff: [], launchesInLastMinute: 0, lastScaleUpAt: {}, unneeded: {}, generations: {}, notices: [], heldAgents: [], ...o,
});
const demand = (count: number) => ({ id: 'F#0', frameworkId: 'F', role: '*', shape: { cpus: 1, mem: 64 }, count, since: 0 });

test('a re-powered machine\'s agent is reactivated only when the autoscaler drained it, and never against an operator\'s DEACTIVATE_AGENT', (t) => {
  const booting = record('node1', { state: 'booting', drainedAgentId: 'A1' });
  const base = { records: [booting], inventory: { rack: [listed('node1', '10.0.0.1')] } };
  const registered = (e: ReturnType<typeof evaluate>) => [e.registered, e.decision.actions.find((a) => a.type === 'registered')?.reason];

  const operator = evaluate(inputs({ ...base, agents: [agent('A1')], heldAgents: [held('A1', { active: true, deactivated: true })] }));
  t.deepEqual(registered(operator), [[{ instanceId: 'rack/node1', agentId: 'A1', reactivate: false }], 'instance rack/node1\'s agent A1 registered; left deactivated: deactivated by an operator (DEACTIVATE_AGENT)']);

  const own = evaluate(inputs({ ...base, agents: [agent('A1')], heldAgents: [held('A1', { active: true })] }));
  t.deepEqual(registered(own), [[{ instanceId: 'rack/node1', agentId: 'A1', reactivate: true }], 'instance rack/node1\'s agent A1 registered; reactivated (the autoscaler drained it when the machine was last released)']);

  // A drain the autoscaler did not make (another agent id than the one it drained, or none).
  const other = evaluate(inputs({ ...base, records: [{ ...booting, drainedAgentId: undefined }], agents: [agent('A1')], heldAgents: [held('A1', { active: true })] }));
  t.deepEqual(registered(other), [[{ instanceId: 'rack/node1', agentId: 'A1', reactivate: false }], 'instance rack/node1\'s agent A1 registered; left deactivated: drained or deactivated, not by the autoscaler']);

  // Powered on with no record of the last lifetime: only DEACTIVATE_AGENT holds.
  const unknown = { ...base, records: [{ ...booting, drainedAgentId: undefined, priorUnknown: true as const }], agents: [agent('A1')] };
  t.deepEqual(registered(evaluate(inputs({ ...unknown, heldAgents: [held('A1', { active: true })] })))[0], [{ instanceId: 'rack/node1', agentId: 'A1', reactivate: true }]);
  t.deepEqual(registered(evaluate(inputs({ ...unknown, heldAgents: [held('A1', { active: true, deactivated: true })] })))[0], [{ instanceId: 'rack/node1', agentId: 'A1', reactivate: false }]);

  const fresh = evaluate(inputs({ ...base, agents: [agent('A1', { draining: false })] }));
  t.deepEqual(registered(fresh), [[{ instanceId: 'rack/node1', agentId: 'A1', reactivate: false }], 'instance rack/node1\'s agent A1 registered']);
});

test('an off machine whose agent an operator holds deactivated is not powered on, and the decision says why; the autoscaler\'s own drain does not hold it', (t) => {
  // node1 was released by the autoscaler after draining A1; A1 is unreachable now (not in `agents`).
  const released = record('node1', { agentId: 'A1', drainStartedAt: 3 });
  const own = evaluate(inputs({ records: [released], heldAgents: [held('A1')], demands: [demand(1)] }));
  t.deepEqual(poolStates(inputs({ records: [released], heldAgents: [held('A1')] }), rack.pools)[0].offMachines, ['node1', 'node2']);
  t.deepEqual(own.launches.map((l) => l.instanceType), ['node1'], 'its own drain: node1 is powered on');

  const deactivated = inputs({ records: [released], heldAgents: [held('A1', { deactivated: true })], demands: [demand(1)] });
  t.deepEqual(poolStates(deactivated, rack.pools)[0].offMachines, ['node2']);
  const e = evaluate(deactivated);
  t.deepEqual(e.launches.map((l) => l.instanceType), ['node2'], 'the other machine is powered on instead');
  t.true(e.decision.notes.includes('machine node1 of pool rack is not powered on: its agent A1 is deactivated by an operator (DEACTIVATE_AGENT); `spillway reactivate A1` lets the autoscaler use it again'), JSON.stringify(e.decision.notes));

  // No record of node2's last lifetime (never powered on by the autoscaler, or its record pruned
  // before static records were kept): a drain of its agent cannot be told from the autoscaler's, so
  // it does not hold the machine (as before); an operator's DEACTIVATE_AGENT still does.
  const drained = evaluate(inputs({ heldAgents: [held('B2', { hostname: '10.0.0.2' })], demands: [demand(2)] }));
  t.deepEqual(drained.launches.map((l) => l.instanceType).sort(), ['node1', 'node2']);
  const off = evaluate(inputs({ heldAgents: [held('B2', { hostname: '10.0.0.2', deactivated: true })], demands: [demand(2)] }));
  t.deepEqual(off.launches.map((l) => l.instanceType), ['node1']);
  t.true(off.decision.notes.some((n) => n.startsWith('machine node2 of pool rack is not powered on: its agent B2 is deactivated by an operator (DEACTIVATE_AGENT)')));
});

test('of two agents at a booting machine\'s address, the connected one is its agent, not the listing from before the power-off', (t) => {
  const booting = record('node1', { state: 'booting' });
  const stale = agent('A-old', { active: false, draining: false });
  const e = evaluate(inputs({ records: [booting], inventory: { rack: [listed('node1', '10.0.0.1')] }, agents: [stale, agent('B-new', { draining: false })] }));
  t.deepEqual(e.registered, [{ instanceId: 'rack/node1', agentId: 'B-new', reactivate: false }]);
});

// ---- the boot check (workers, against a real master and agent) ---------------------------------------------

test.serial('the boot check finds a static machine\'s agent by its address, and is not fooled by the listing of its agent from before the power-off', async (t) => {
  // Pings far apart: the agent of a powered-off machine stays listed (disconnected).
  const m = await inProcessMaster({ agentPingIntervalSeconds: 60 });
  const redis = new Redis(m.redis.url, { maxRetriesPerRequest: null });
  const dir = tempDir('spillway-bootcheck-');
  const cluster = m.master.config.cluster;
  const terminated: string[] = [];
  const provider = { terminate: async (ids: readonly string[]) => { terminated.push(...ids); } } as unknown as Provider;
  const queues = new AutoscalerQueues(redis, cluster);
  const workers = new WorkerPool({
    redis, cluster, clock: systemClock, leaderUrl: () => m.url, providers: new PolicyProviders(redis, cluster, () => ({ forPool: () => provider })),
    log: silentLogger, metrics: new Registry(), queues, lockDurationMs: 2000,
  });
  let agentProcess: ReturnType<typeof spawn> | undefined;
  t.teardown(async () => {
    agentProcess?.kill('SIGKILL');
    await workers.stop();
    await queues.close();
    redis.disconnect();
    await m.shutdown();
  });
  const applied = await fetch(`${m.url}/v1/policies`, { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: RACK.replaceAll('10.0.0.', '127.0.0.') });
  t.is(applied.status, 201, await applied.clone().text());
  workers.start();
  const records = new AutoscalerRecords(redis, cluster);
  const op = (type: string, body: object = {}) => fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type, ...body }) });
  type Listed = { agent_info: { id: { value: string }; hostname: string }; active: boolean; drain_info?: { state: string } };
  const listed = async () => ((await (await op('GET_AGENTS')).json()) as { get_agents: { agents: Listed[] } }).get_agents.agents.find((a) => a.agent_info.hostname === '127.0.0.2');
  // The machine's agent, as an owned machine's agent config has it: its pool, not Spillway's instance id.
  const powerOn = async () => {
    agentProcess = spawn(process.execPath, [BIN, 'agent', '--master', m.url, '--hostname', '127.0.0.2', '--port', '0', '--work-dir', join(dir, 'node1'),
      '--resources', 'cpus:1;mem:512', '--attributes', 'pool:rack'], { stdio: 'ignore' });
    await waitFor(async () => (await listed())?.active === true, 30_000, 'the agent registered');
  };
  const powerOff = async () => {
    const p = agentProcess!;
    p.kill('SIGKILL');
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(undefined) : p.once('exit', r)));
    await waitFor(async () => (await listed())?.active === false, 10_000, 'the master to see it disconnected');
  };
  let lifetime = Date.now();
  /** One lifetime of rack/node1: a booting record and its boot check, run at once; resolves with the record after it. */
  const bootCheck = async (): Promise<{ record: InstanceRecord; result: string }> => {
    const r = record('node1', { state: 'booting', launchedAt: ++lifetime, updatedAt: lifetime, privateAddress: '127.0.0.2' });
    await records.putInstances([r]);
    await queues.addBootCheck(r, 0);
    let result: string | undefined;
    await waitFor(async () => {
      const job = await queues.provision.getJob(bootCheckJobId(r.instanceId, r.launchedAt));
      result = job?.finishedOn ? String(job.returnvalue) : undefined;
      return result !== undefined;
    }, 30_000, 'the boot check');
    return { record: (await records.instance(r.instanceId))!, result: result! };
  };

  await powerOn();
  const agentId = (await listed())!.agent_info.id.value;
  const up = await bootCheck();
  t.like(up.record, { state: 'running', agentId });
  t.deepEqual(terminated, []);

  // Powered off without a drain: the disconnected listing is no agent: a boot timeout.
  await powerOff();
  const down = await bootCheck();
  t.like(down.record, { state: 'failed' });
  t.deepEqual(terminated, ['rack/node1']);

  // Drained (as the autoscaler releases it), then off: the listing is deactivated, and GET_AGENTS
  // does not say whether it is connected — left to the reconciler, which sees connections.
  await powerOn();
  t.is((await op('DRAIN_AGENT', { drain_agent: { agent_id: { value: agentId } } })).status, 200);
  await waitFor(async () => (await listed())?.drain_info?.state === 'DRAINED', 10_000, 'DRAINED');
  await powerOff();
  const drained = await bootCheck();
  t.like(drained.record, { state: 'booting' });
  t.is(drained.record.agentId, undefined);
  t.regex(drained.result, /deactivated: left to the reconciler/);
  t.deepEqual(terminated, ['rack/node1'], 'not terminated either');
});

// ---- end to end: an operator's DEACTIVATE_AGENT of a machine that is off --------------------------------------

test.serial('an owned machine whose agent an operator deactivated while it was off is not powered on again: the demand is rented, the agent stays deactivated', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 0 });
  const dir = tempDir('spillway-rack-held-');
  t.teardown(async () => {
    if (existsSync(join(dir, 'pid-node1'))) try { process.kill(Number(readFileSync(join(dir, 'pid-node1'), 'utf8')), 'SIGKILL'); } catch { /* already off */ }
    await c.stop();
  });
  await c.applyPolicy(staticRackPolicy(c.url, dir, { markPowerOn: true }));
  const tasks = (prefix: string) => Array.from({ length: 2 }, (_, i) => ({ id: `${prefix}${i}`, command: 'sleep 1', cpus: 0.5, mem: 64 }));
  const first = await new BatchJob({ master: c.url, name: 'on-prem', tasks: tasks('t') }).run();
  const rackAgent = (await c.agents()).find((a) => a.pool === 'rack')!;
  t.true(first.every((r) => r.state === 'TASK_FINISHED' && r.agentId === rackAgent.id), JSON.stringify(first));
  await waitFor(async () => (await c.instances()).find((i) => i.instanceId === 'rack/node1')?.state === 'released', 60_000, 'node1 drained and released');
  await waitFor(() => readFileSync(join(dir, 'power-node1'), 'utf8') === 'on\noff\n', 10_000, 'node1 powered off');

  // The operator takes the machine out while it is off.
  const res = await fetch(`${c.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'DEACTIVATE_AGENT', deactivate_agent: { agent_id: { value: rackAgent.id } } }) });
  t.is(res.status, 200, await res.text());
  const deactivatedAt = Date.now();

  const second = await new BatchJob({ master: c.url, name: 'rented', tasks: tasks('u') }).run();
  t.true(second.every((r) => r.state === 'TASK_FINISHED'), JSON.stringify(second));
  const burst = new Set((await c.agents()).filter((a) => a.pool === 'burst').map((a) => a.id));
  t.true(second.every((r) => burst.has(r.agentId!)), 'the demand went to rented capacity');
  const held = await waitForDecision(c, (d) => d.kind === 'evaluation' && d.at >= deactivatedAt && d.notes.some((n) => n.includes('machine node1 of pool rack is not powered on')), 'the note on node1');
  t.true(held.notes.includes(`machine node1 of pool rack is not powered on: its agent ${rackAgent.id} is deactivated by an operator (DEACTIVATE_AGENT); \`spillway reactivate ${rackAgent.id}\` lets the autoscaler use it again`), JSON.stringify(held.notes));
  t.is(readFileSync(join(dir, 'power-node1'), 'utf8'), 'on\noff\n', 'never powered on again');
  t.false((await c.decisions()).some((d) => d.at >= deactivatedAt && d.actions.some((a) => a.type === 'power-on')));
  t.true(c.master!.master.maintenance.drains.deactivated.has(rackAgent.id), 'still deactivated');
});

test('pruning forgets old rented records but keeps every owned machine\'s, from before power-on records were marked too', async (t) => {
  const redis = await testRedis();
  const client = new Redis(redis.url);
  t.teardown(async () => { client.disconnect(); await redis.stop(); });
  const records = new AutoscalerRecords(client, 'prune');
  const rented: InstanceRecord = { ...record('x'), instanceId: 'i-123', pool: 'burst', ownership: 'rented', capacityType: 'on-demand', kind: undefined };
  const oldOwned: InstanceRecord = { ...record('node1', { agentId: 'A1', drainStartedAt: 3 }), kind: undefined }; // written before `kind` existed
  await records.putInstances([rented, oldOwned, record('node2')]);
  await records.pruneInstances(NOW);
  t.deepEqual((await records.instances()).map((r) => r.instanceId).sort(), ['rack/node1', 'rack/node2']);
});
