// End to end: real Redis, a master with the autoscaler, owned agents started by the test and
// rented agents the local provider starts on demand (real `spillway agent` processes).
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchedulerClient, taskResources } from '../src/sdk/scheduler-client.ts';
import { BatchJob } from '../src/sdk/batch-job.ts';
import { NeverBootsProvider, startAutoscaledCluster, testPolicy, waitForDecision } from './helpers/autoscale.ts';
import { waitFor } from './helpers/cluster.ts';

test.serial('a REQUEST beyond the owned pool launches rented agents that register and run its tasks; owned capacity goes first', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 1 });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 1 }));
  // 4 tasks of 0.5 cpus: the owned agent (1 cpu) holds 2, one rented 1-cpu instance the other 2.
  const job = new BatchJob({ master: c.url, name: 'burst', tasks: Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, command: 'sleep 15', cpus: 0.5, mem: 64 })) });
  const results = await job.run();
  t.true(results.every((r) => r.state === 'TASK_FINISHED'), JSON.stringify(results));
  const agents = await c.agents();
  const pools = new Map(agents.map((a) => [a.id, a.pool]));
  const onRented = results.filter((r) => pools.get(r.agentId!) === 'burst');
  const onOwned = results.filter((r) => pools.get(r.agentId!) === 'owned');
  t.is(onOwned.length, 2, 'the owned agent is filled first');
  t.is(onRented.length, 2, 'the rest run on the rented agent');
  const launch = await waitForDecision(c, (d) => d.kind === 'evaluation' && d.actions.some((a) => a.type === 'launch'), 'a launch decision');
  const step = launch.actions.find((a) => a.type === 'launch')!;
  t.is(step.pool, 'burst');
  t.is(step.count, 1, 'one instance is enough for the 2 units the owned agent cannot hold');
  const instances = await c.instances();
  t.is(instances.length, 1);
  t.is(instances[0].pool, 'burst');
  await waitFor(async () => (await c.instances())[0].state === 'running', 20_000, 'the record to show the agent registered');
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  t.regex(metrics, /spillway_autoscaler_launches_total\{pool="burst"\} 1/);
  t.regex(metrics, /spillway_autoscaler_evaluations_total\{outcome="changed"\} [1-9]/);
});

test.serial('the budget stops scale-up and the decision log says so', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 1 });
  t.teardown(() => c.stop());
  // One small instance costs 0.6/h; the budget is 1/h: one fits, the second does not.
  await c.applyPolicy(testPolicy({ owned: 1, price: 0.6, budget: 1 }));
  const client = new SchedulerClient({ master: c.url, framework: { user: 'test', name: 'big', roles: ['*'], capabilities: [{ type: 'MULTI_ROLE' }] } });
  t.teardown(() => client.close());
  await client.subscribe();
  // 3 units of 1 cpu: the owned agent holds 1 (if the framework took it), instances hold 1 each.
  await client.request([{ resources: taskResources(1, 64), count: 3 }]);
  const d = await waitForDecision(c, (x) => x.kind === 'evaluation' && x.actions.some((a) => a.type === 'launch'), 'a launch decision');
  t.is(d.actions.filter((a) => a.type === 'launch').reduce((n, a) => n + (a.count ?? 0), 0), 1, 'only one instance fits the budget');
  t.true(d.notes.some((n) => /budget of \$1\.00\/h reached/.test(n)), d.notes.join('\n'));
  // Later evaluations keep saying why nothing more is launched.
  const later = await waitForDecision(c, (x) => x.kind === 'evaluation' && x.id > d.id && x.actions.length === 0 && x.notes.some((n) => /unmet: budget/.test(n)), 'a decision that the budget blocks the rest');
  t.regex(later.summary, /unmet/);
  t.is((await c.instances()).length, 1);
});

test.serial('an instance that never registers is terminated at its boot timeout and its pool type backs off', async (t) => {
  const duds = new NeverBootsProvider();
  const c = await startAutoscaledCluster({ ownedAgents: 1, autoscaler: { providerFactory: () => ({ forPool: () => duds }) } });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 1, bootTimeout: 2 }));
  const client = new SchedulerClient({ master: c.url, framework: { user: 'test', name: 'big', roles: ['*'], capabilities: [{ type: 'MULTI_ROLE' }] } });
  t.teardown(() => client.close());
  await client.subscribe();
  await client.request([{ resources: taskResources(1, 64), count: 2 }]);
  const timeout = await waitForDecision(c, (x) => x.kind === 'boot-timeout', 'a boot timeout');
  t.regex(timeout.summary, /registered no agent within its boot timeout of 2 s/);
  t.true(timeout.notes.some((n) => /backs off until/.test(n)));
  t.true(duds.terminated.length >= 1, 'the instance was terminated');
  const inst = (await c.instances()).find((i) => i.instanceId === duds.terminated[0])!;
  t.is(inst.state, 'failed');
  // The next evaluations do not launch into the pool type while it backs off, and say why.
  const after = await waitForDecision(c, (x) => x.kind === 'evaluation' && x.id > timeout.id && x.notes.some((n) => /backing off until/.test(n)), 'a decision naming the backoff');
  t.false(after.actions.some((a) => a.type === 'launch'));
});

test.serial('a master killed -9 while a launch is in flight launches nothing twice after it restarts', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 0, masterProcess: true });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 0 }));
  const client = new SchedulerClient({ master: c.url, framework: { user: 'test', name: 'big', roles: ['*'], failover_timeout: 600, capabilities: [{ type: 'MULTI_ROLE' }] } });
  t.teardown(() => client.close());
  await client.subscribe();
  await client.request([{ resources: taskResources(1, 64), count: 2 }]);
  // Kill the master the moment the local provider has recorded the launch (before or while the
  // job writes its records and finishes).
  const stateFile = join(c.stateDir, 'local-instances.json');
  await waitFor(() => existsSync(stateFile), 30_000, 'the launch to start');
  const exited = new Promise((r) => c.masterChild!.once('exit', r));
  c.masterChild!.kill('SIGKILL');
  await exited;
  await c.startMasterProcess();
  // The same demand is still there after the restart (it is in Redis); wait until things settle.
  await waitFor(async () => (await c.agents()).filter((a) => a.pool === 'burst' && a.active).length >= 2, 60_000, 'two rented agents');
  await waitFor(async () => (await c.instances()).filter((i) => i.state === 'running').length === 2, 30_000, 'both records running')
    .catch(async (e) => { t.log(JSON.stringify(await c.instances()), JSON.stringify((await c.decisions()).map((d) => d.summary))); throw e; });
  await new Promise((r) => setTimeout(r, 3000)); // a few more evaluations: nothing new may start
  const local = JSON.parse(readFileSync(stateFile, 'utf8')) as { instances: { id: string; token: string }[] };
  t.is(local.instances.length, 2, `the provider started exactly 2 instances: ${JSON.stringify(local.instances)}`);
  // Bootstrapped launches run instance i under `<launch token>.<i>` (one join token each).
  t.is(new Set(local.instances.map((i) => i.token.replace(/\.\d+$/, ''))).size, 1, 'under one launch token');
  t.is(new Set(local.instances.map((i) => i.token)).size, 2, 'one per-instance token each');
  t.is((await c.instances()).length, 2);
  t.is((await c.agents()).filter((a) => a.pool === 'burst').length, 2);
});
