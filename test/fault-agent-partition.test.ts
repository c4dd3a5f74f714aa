// Fault: cut an agent off the network and heal it. The agent runs in its own network namespace
// (providers/local/netns.ts; root only) and reaches two master replicas on the host's bridge
// address; `linkDown` pulls its cable. A short cut changes nothing. A cut longer than the ping
// window makes the master declare the agent unreachable: TASK_UNREACHABLE for a PARTITION_AWARE
// framework's task (which goes back to TASK_RUNNING when the link heals — the same process),
// TASK_LOST for another framework's task (whose process the master has killed once the agent is back).
import test from 'ava';
import { HaCluster } from './helpers/ha-cluster.ts';
import { LaunchingFramework } from './helpers/ha-framework.ts';
import { agentTruth, checkDurability } from './helpers/durability-check.ts';
import { waitFor } from './helpers/cluster.ts';
import { groupExists } from './helpers/agent-test-utils.ts';
import { isRoot, testNetwork, type NetnsNetwork } from './helpers/netns.ts';

const PING_WINDOW_S = 4;

test('an agent cut off the network and healed: a short cut changes nothing; a long one makes tasks unreachable, then running again', async (t) => {
  if (!isRoot()) {
    t.log('network namespaces need root: this fault test runs as root only');
    t.pass();
    return;
  }
  const net: NetnsNetwork = await testNetwork();
  t.teardown(() => net.destroy({ graceMs: 0 }));
  const ns = await net.addNamespace({ tag: 'agent-0' });
  const c = await HaCluster.start({
    masters: 2, agents: 1, masterHost: net.hostAddress,
    // The agent joins from its namespace's address, not loopback: let it in without a join token.
    masterFlags: ['--max-agent-ping-timeouts', String(PING_WINDOW_S), '--agent-auth', 'optional'],
    agentHost: () => ns.address,
    spawnAgent: (_i, argv, opts) => ns.spawn(process.execPath, argv, opts),
  });
  t.teardown(() => c.stop());
  t.log(`logs in ${c.logDir}`);
  const aware = new LaunchingFramework({ masters: c.masterUrls, name: 'aware', capabilities: [{ type: 'PARTITION_AWARE' }], command: () => 'sleep 600' });
  const plain = new LaunchingFramework({ masters: c.masterUrls, name: 'plain', command: () => 'sleep 600' });
  t.teardown(() => { aware.close(); plain.close(); });
  await aware.start(['pa']);
  await plain.start(['np']);
  await waitFor(() => aware.lastState('pa') === 'TASK_RUNNING' && plain.lastState('np') === 'TASK_RUNNING', 60_000, 'both tasks to run');
  const dir = c.agents[0].workDir;
  const paPgid = agentTruth([dir], aware.frameworkId).get('pa')!.pgid!;
  const npPgid = agentTruth([dir], plain.frameworkId).get('np')!.pgid!;
  const updatesBefore = aware.received.length + plain.received.length;

  // A short cut, well inside the ping window: the agent re-subscribes, nobody notices.
  await ns.linkDown();
  await new Promise((r) => setTimeout(r, 1500));
  await ns.linkUp();
  await c.waitForAgents(1);
  t.is(aware.received.length + plain.received.length, updatesBefore, 'no update after a short cut');

  // A long cut: the agent is declared unreachable.
  await ns.linkDown();
  await waitFor(() => aware.lastState('pa') === 'TASK_UNREACHABLE' && plain.lastState('np') === 'TASK_LOST', 60_000, 'the master to give the agent up');
  t.is(plain.updatesOf('np').at(-1)!.reason, 'REASON_AGENT_REMOVED');
  t.true(groupExists(paPgid) && groupExists(npPgid), 'the tasks run on, cut off');
  await ns.linkUp();
  await waitFor(() => aware.lastState('pa') === 'TASK_RUNNING', 60_000, 'the partition-aware task to be running again');
  t.is(aware.updatesOf('pa').at(-1)!.reason, 'REASON_AGENT_REREGISTERED');
  t.true(groupExists(paPgid), 'the very process started before the cut');
  await waitFor(() => !groupExists(npPgid), 30_000, 'the lost task\'s process to be killed: its framework was told it is gone');

  await waitFor(async () => aware.client.kill('pa').then(() => true, () => false), 60_000, 'KILL pa');
  await waitFor(() => aware.lastState('pa') === 'TASK_KILLED', 60_000, 'pa killed');
  await waitFor(async () => Object.values((await c.redisState()).tasks).every((x: { pending: unknown[] }) => x.pending.length === 0), 60_000, 'all updates acknowledged');
  const state = await c.redisState();
  const report = checkDurability(['pa'], aware, state, [dir]);
  t.deepEqual(report.problems, []);
  t.deepEqual(aware.updatesOf('pa').map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_UNREACHABLE', 'TASK_RUNNING', 'TASK_KILLED']);
  // The other framework's task: one record, TASK_LOST, delivered once; the agent killed it after healing.
  const np = state.completed.filter((r: { info: { task_id: { value: string } } }) => r.info.task_id.value === 'np');
  t.is(np.length, 1);
  t.is(np[0].state, 'TASK_LOST');
  t.deepEqual(plain.updatesOf('np').map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_LOST']);
});
