// End to end: real Redis, a master with the autoscaler, owned agents started by the test and
// rented agents the local provider starts on demand (real `spillway agent` processes).
import test from 'ava';
import { BatchJob } from '../src/sdk/batch-job.ts';
import { startAutoscaledCluster, testPolicy, waitForDecision } from './helpers/autoscale.ts';
import { waitFor } from './helpers/cluster.ts';

test('a REQUEST beyond the owned pool launches rented agents that register and run its tasks; owned capacity goes first', async (t) => {
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
});
