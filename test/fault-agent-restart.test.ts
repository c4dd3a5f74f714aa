// Fault: kill -9 an agent (real processes: two master replicas, one agent, an SDK framework) and
// start it again on the same work dir. Its running tasks keep running and are adopted; tasks that
// ended while it was down are reported with their true end (exit status); nothing is reported
// twice — and the same holds when the leader fails over while the agent is down.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentTruth, assertNothingLost, policyRecords } from './helpers/durability-check.ts';
import { startFaultScene } from './helpers/fault-setup.ts';
import { waitFor } from './helpers/cluster.ts';
import { groupExists } from './helpers/agent-test-utils.ts';

/** Runs until the test creates `go` in its sandbox, then exits with `status`. */
const untilGo = (status: number) => `while [ ! -f go ]; do sleep 0.05; done; exit ${status}`;
const COMMANDS: Record<string, string> = {
  'runs-0': 'sleep 600', 'runs-1': 'sleep 600', 'fails-3': untilGo(3), 'succeeds': untilGo(0),
};

test('kill -9 an agent and restart it on its work dir: running tasks are adopted, ended ones report their real exit, across a leader failover too', async (t) => {
  const { c, fw, before } = await startFaultScene(t, { masters: 2, agents: 1 }, { command: (id) => COMMANDS[id], perAccept: 10 });
  const ids = Object.keys(COMMANDS);
  await fw.start(ids);
  await waitFor(() => ids.every((id) => fw.lastState(id) === 'TASK_RUNNING'), 60_000, 'every task to run');
  const dir = c.agents[0].workDir;
  const before9 = agentTruth([dir], fw.frameworkId);
  const agentId = Object.values((await c.redisState()).agents)[0].id as string;

  await c.signal(c.agents[0].child, 'SIGKILL');
  // While the agent is down: two tasks end on their own, and the leader fails over.
  for (const id of ['fails-3', 'succeeds']) await writeFile(join(dir, 'sandboxes', fw.frameworkId, id, 'go'), '');
  await waitFor(() => !groupExists(before9.get('fails-3')!.pgid!) && !groupExists(before9.get('succeeds')!.pgid!), 30_000, 'the two tasks to end');
  const leader = (await c.leaderIndex())!;
  await c.signal(c.masters[leader], 'SIGKILL');
  await c.waitForLeader(leader);
  t.deepEqual(ids.map((id) => fw.lastState(id)), ids.map(() => 'TASK_RUNNING'), 'nobody reported anything while the agent was down');

  await c.startAgent(0); // same work dir, same port
  await waitFor(() => fw.lastState('fails-3') === 'TASK_FAILED' && fw.lastState('succeeds') === 'TASK_FINISHED', 60_000, 'the real ends of the two tasks');
  const failed = fw.updatesOf('fails-3').at(-1)!;
  t.is(failed.message, 'Command exited with status 3');
  t.is(failed.agent_id?.value, agentId, 'the restarted agent kept its id');
  t.is(fw.updatesOf('succeeds').at(-1)!.message, 'Command exited with status 0');
  for (const id of ['runs-0', 'runs-1']) {
    t.is(fw.lastState(id), 'TASK_RUNNING', id);
    t.true(groupExists(before9.get(id)!.pgid!), `${id} is the process started before the agent died`);
  }
  // The adopted tasks are still under control: KILL reaches them through the new leader.
  for (const id of ['runs-0', 'runs-1']) await waitFor(async () => fw.client.kill(id).then(() => true, () => false), 60_000, `KILL ${id}`);
  await waitFor(() => fw.lastState('runs-0') === 'TASK_KILLED' && fw.lastState('runs-1') === 'TASK_KILLED', 60_000, 'the adopted tasks to be killed');
  t.false(groupExists(before9.get('runs-0')!.pgid!));
  await waitFor(async () => Object.values((await c.redisState()).tasks).every((x: { pending: unknown[] }) => x.pending.length === 0), 60_000, 'all updates acknowledged');

  const state = await c.redisState();
  const report = assertNothingLost(t, fw, state, [dir], ['fails-3'], 'TASK_FAILED');
  t.is(report.states.get('succeeds'), 'TASK_FINISHED');
  for (const id of ids) t.deepEqual(fw.updatesOf(id).map((s) => s.state).slice(0, 2), ['TASK_STARTING', 'TASK_RUNNING'], `${id}: in order, once each`);
  t.deepEqual(policyRecords(state), before);
});
