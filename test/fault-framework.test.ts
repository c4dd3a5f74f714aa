// Faults on the framework side, and Mesos' timeouts, with real processes (two master replicas, a
// real agent): a framework that disconnects and re-subscribes gets the updates it missed, in
// order, and RECONCILE answers from durable state after a leader failover; a framework that stays
// away past its failover_timeout is removed (tasks killed) — the timeout counting from its real
// disconnect across a failover; an agent that misses its pings (short, configurable settings) is
// removed and its task reported lost.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HaCluster } from './helpers/ha-cluster.ts';
import { LaunchingFramework } from './helpers/ha-framework.ts';
import { agentTruth, checkDurability } from './helpers/durability-check.ts';
import { waitFor } from './helpers/cluster.ts';
import { groupExists } from './helpers/agent-test-utils.ts';
import { rawPost } from './helpers/raw-framework.ts';
import { RecordIODecoder } from '../src/mesos/recordio.ts';
import { errorEvent } from '../src/master/mesos-json.ts';

let c: HaCluster;
test.before(async () => { c = await HaCluster.start({ masters: 2, agents: 1, masterFlags: ['--framework-recovery-timeout', '1'] }); });
test.after.always(async () => { await c?.stop(); });

const untilGo = 'while [ ! -f go ]; do sleep 0.05; done';

async function subscribeStatus(frameworkId: string): Promise<{ status: number; body: string }> {
  const leader = c.masterUrls[(await c.leaderIndex())!];
  return rawPost(leader, '/api/v1/scheduler', JSON.stringify({
    type: 'SUBSCRIBE', framework_id: { value: frameworkId },
    subscribe: { framework_info: { user: 'test', name: 'x', id: { value: frameworkId } } },
  }), { 'Content-Type': 'application/json', Connection: 'close' });
}

test.serial('a framework disconnects; its task ends and the leader fails over meanwhile; on re-subscribing it gets what it missed, in order, and RECONCILE answers from durable state', async (t) => {
  const first = new LaunchingFramework({ masters: c.masterUrls, name: 'away', failoverTimeout: 600, command: (id) => (id === 'keep' ? 'sleep 600' : untilGo) });
  await first.start(['keep', 'done']);
  await waitFor(() => first.lastState('keep') === 'TASK_RUNNING' && first.lastState('done') === 'TASK_RUNNING', 60_000, 'both tasks to run');
  const id = first.frameworkId;
  first.close();
  await writeFile(join(c.agents[0].workDir, 'sandboxes', id, 'done', 'go'), '');
  await waitFor(async () => (await c.redisState()).tasks[`${id}/done`]?.state === 'TASK_FINISHED', 60_000, 'the agent to report the end');
  const leader = (await c.leaderIndex())!;
  await c.signal(c.masters[leader], 'SIGKILL');
  await c.waitForLeader(leader);
  await c.startMaster(leader); // back as a standby

  const again = new LaunchingFramework({ masters: c.masterUrls, name: 'away', failoverTimeout: 600, frameworkId: id, command: () => 'true' });
  t.teardown(() => again.close());
  // What `first` acknowledged is not sent again; what it missed arrives now.
  for (const s of first.received) again.received.push(s);
  await again.start();
  t.is(again.frameworkId, id);
  await waitFor(() => again.lastState('done') === 'TASK_FINISHED', 30_000, 'the missed update');
  t.deepEqual(again.updatesOf('done').map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  await again.client.reconcile([{ taskId: 'keep' }, { taskId: 'never-was' }]);
  await waitFor(() => again.received.filter((s) => s.reason === 'REASON_RECONCILIATION').length >= 2, 30_000, 'reconciliation answers');
  const answers = again.received.filter((s) => s.reason === 'REASON_RECONCILIATION');
  t.is(answers.find((s) => s.task_id.value === 'keep')?.state, 'TASK_RUNNING');
  t.is(answers.find((s) => s.task_id.value === 'never-was')?.state, 'TASK_LOST');
  t.regex(answers.find((s) => s.task_id.value === 'never-was')?.message ?? '', /unknown/);
  await again.client.kill('keep');
  await waitFor(() => again.lastState('keep') === 'TASK_KILLED', 60_000, 'keep killed');
  await waitFor(async () => Object.values((await c.redisState()).tasks).every((x: { frameworkId: string; pending: unknown[] }) => x.frameworkId !== id || x.pending.length === 0), 30_000, 'acks');
  for (const tid of ['keep', 'done']) again.launched.add(tid);
  const report = checkDurability(['keep', 'done'], again, await c.redisState(), [c.agents[0].workDir]);
  t.deepEqual(report.problems, []);
});

test.serial('failover_timeout is honoured: a framework away longer is removed and its tasks killed — counted from its disconnect, across a leader failover', async (t) => {
  const fw = new LaunchingFramework({ masters: c.masterUrls, name: 'brief', failoverTimeout: 4, command: () => 'sleep 600' });
  await fw.start(['short-lived']);
  await waitFor(() => fw.lastState('short-lived') === 'TASK_RUNNING', 60_000, 'the task to run');
  const id = fw.frameworkId;
  const pgid = agentTruth([c.agents[0].workDir], id).get('short-lived')!.pgid!;
  fw.close();
  // The leader fails over while the framework is away; the new one still removes it on time
  // (its recovery grace, --framework-recovery-timeout 1, is shorter than the failover_timeout).
  const leader = (await c.leaderIndex())!;
  await c.signal(c.masters[leader], 'SIGKILL');
  await c.waitForLeader(leader);
  await c.startMaster(leader);
  await waitFor(async () => (await c.redisState()).frameworks[id] === undefined, 60_000, 'the framework to be removed');
  await waitFor(() => !groupExists(pgid), 30_000, 'its task\'s processes to be killed');
  const state = await c.redisState();
  const done = state.completed.filter((r: { frameworkId: string }) => r.frameworkId === id);
  t.is(done.length, 1);
  t.is(done[0].state, 'TASK_KILLED');
  // As Mesos: the SUBSCRIBE is answered with a stream that carries one ERROR event and ends.
  const refused = await subscribeStatus(id);
  t.is(refused.status, 200);
  t.deepEqual(new RecordIODecoder().push(Buffer.from(refused.body)), [errorEvent('Framework has been removed')]);
});

test('an agent that misses its pings is removed after --agent-ping-timeout × --max-agent-ping-timeouts; back, it is told to kill what was lost', async (t) => {
  const own = await HaCluster.start({ masters: 1, agents: 1, masterFlags: ['--agent-ping-timeout', '0.5', '--max-agent-ping-timeouts', '3'] });
  t.teardown(() => own.stop());
  const fw = new LaunchingFramework({ masters: own.masterUrls, name: 'pings', command: () => 'sleep 600' });
  t.teardown(() => fw.close());
  await fw.start(['on-frozen-agent']);
  await waitFor(() => fw.lastState('on-frozen-agent') === 'TASK_RUNNING', 60_000, 'the task to run');
  const pgid = agentTruth([own.agents[0].workDir], fw.frameworkId).get('on-frozen-agent')!.pgid!;
  await own.signal(own.agents[0].child, 'SIGSTOP');
  await waitFor(() => fw.lastState('on-frozen-agent') === 'TASK_LOST', 30_000, 'TASK_LOST');
  const lost = fw.updatesOf('on-frozen-agent').at(-1)!;
  t.is(lost.reason, 'REASON_AGENT_REMOVED');
  t.regex(lost.message ?? '', /missed 3 pings/);
  t.true(groupExists(pgid), 'the agent only stopped answering: its task still runs');
  await own.signal(own.agents[0].child, 'SIGCONT');
  await waitFor(() => !groupExists(pgid), 30_000, 'the re-registered agent to kill the task the master gave up');
  await own.waitForAgents(1);
});
