// Fault: kill -9 the leading master in the middle of a burst of 1,000 task launches, with three
// replicas, three real agents and an SDK framework. A standby takes over; agents and the
// framework follow it; tasks started before keep running; and in the end every task, status
// update, reservation and policy is in Redis exactly once, and the framework got every update
// in order.
import test from 'ava';
import { HaCluster } from './helpers/ha-cluster.ts';
import { LaunchingFramework } from './helpers/ha-framework.ts';
import { agentTruth, assertNothingLost, policyRecords } from './helpers/durability-check.ts';
import { seedPolicyRecords } from './helpers/fault-setup.ts';
import { waitFor } from './helpers/cluster.ts';
import { groupExists } from './helpers/agent-test-utils.ts';

const BURST = 1000;

test('kill -9 the leader during a burst of 1,000 launches: a standby leads, nothing is lost or duplicated', async (t) => {
  const c = await HaCluster.start({
    masters: 3, agents: 3,
    agentResources: (i) => `cpus:40;mem:65536;disk:1000;ports:[${34000 + i * 100}-${34099 + i * 100}]`,
  });
  t.teardown(() => c.stop());
  t.log(`logs in ${c.logDir}`);
  const client = c.client();
  await seedPolicyRecords(client, c.checkerClient());
  const before = policyRecords(await c.redisState());

  const fw = new LaunchingFramework({ masters: c.masterUrls, command: (id) => (id.startsWith('keeper') ? 'sleep 600' : 'true'), perAccept: 20 });
  t.teardown(() => fw.close());
  const keepers = ['keeper-0', 'keeper-1', 'keeper-2'];
  await fw.start(keepers);
  await waitFor(() => keepers.every((id) => fw.lastState(id) === 'TASK_RUNNING'), 60_000, 'the long-running tasks to run');
  const pgids = keepers.map((id) => agentTruth(c.agents.map((a) => a.workDir), fw.frameworkId).get(id)!.pgid!);

  const first = (await c.leaderIndex())!;
  let killed: Promise<void> | undefined;
  fw.onAccepted = (n) => { if (n === 15 && !killed) killed = c.signal(c.masters[first], 'SIGKILL'); };
  const burst = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
  fw.launch(burst);
  await waitFor(() => killed !== undefined, 120_000, '15 ACCEPTs');
  await killed;
  const second = await c.waitForLeader(first);
  t.not(second, first);

  await waitFor(async () => {
    if (fw.uncertain.size) await fw.reconcileUncertain();
    return fw.allSettled(burst);
  }, 280_000, 'every task of the burst to end');
  t.true(fw.subscriptions >= 2, 'the framework re-subscribed to the new leader');

  // Tasks started before the failover kept running through it, and the new leader can stop them.
  for (const [i, id] of keepers.entries()) {
    t.is(fw.lastState(id), 'TASK_RUNNING', id);
    t.true(groupExists(pgids[i]), `${id}'s processes are the ones started before the failover`);
    await fw.client.kill(id);
  }
  await waitFor(() => keepers.every((id) => fw.lastState(id) === 'TASK_KILLED'), 60_000, 'the long-running tasks to be killed');
  await waitFor(async () => {
    const s = await c.redisState();
    return Object.values(s.tasks).every((r: { pending: unknown[] }) => r.pending.length === 0);
  }, 60_000, 'every update to be acknowledged');

  const state = await c.redisState();
  assertNothingLost(t, fw, state, c.agents.map((a) => a.workDir), burst);
  t.deepEqual(policyRecords(state), before, 'reservations, weights, quota and policies are as they were');
});
