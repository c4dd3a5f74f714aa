// Agent restarts with the same work dir: same agent id, running tasks adopted, tasks that ended
// while the agent was down reported with their real exit status, unacknowledged updates re-sent.
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeMaster } from './helpers/agent-fake-master.ts';
import { commandTask, eventually, FW, groupExists, killGroup, readCheckpoint, startTestAgent, tempWorkDir } from './helpers/agent-test-utils.ts';

/** A task that runs until the test creates `go` in its sandbox, then exits with `status`. */
const waitForGo = (status: number): string => `while [ ! -f go ]; do sleep 0.05; done; exit ${status}`;

async function fixture(t: { teardown: (fn: () => Promise<void> | void) => void }) {
  const { dir, cleanup } = await tempWorkDir();
  const master = await FakeMaster.start();
  t.teardown(async () => {
    await master.close();
    await cleanup();
  });
  return { dir, master };
}

test('restart while a task runs: same agent id, task reported RUNNING, its real end reported later', async (t) => {
  const { dir, master } = await fixture(t);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  const agentId = first.agentId();
  master.launch(FW, commandTask('survivor', waitForGo(5)));
  await eventually(() => master.statesOf('survivor').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(dir, 'survivor');
  t.teardown(() => killGroup(pgid));
  await first.stop(); // tasks keep running
  t.true(groupExists(pgid!));
  t.is(JSON.parse(await readFile(join(dir, 'agent.json'), 'utf8')).agent_id, agentId);

  const subscribesBefore = master.subscribes.length;
  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  await eventually(() => master.subscribes.length > subscribesBefore && master.connected, 'second subscription');
  const sub = master.subscribes.at(-1)!;
  t.is(sub.agent_info.id?.value, agentId);
  t.deepEqual(sub.tasks, [{ framework_id: { value: FW }, task_id: { value: 'survivor' }, state: 'TASK_RUNNING' }]);
  t.is(second.agentId(), agentId);

  await writeFile(join(dir, 'sandboxes', FW, 'survivor', 'go'), '');
  const fin = await eventually(() => master.updatesFor('survivor').find((u) => u.status.state === 'TASK_FAILED'), 'terminal update');
  t.is(fin.status.message, 'Command exited with status 5');
  t.is(fin.status.agent_id?.value, agentId);
  t.deepEqual(master.statesOf('survivor'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
});

test('restart while a task runs: a KILL after recovery still kills the process group', async (t) => {
  const { dir, master } = await fixture(t);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  master.launch(FW, commandTask('adopted', 'sleep 60'));
  await eventually(() => master.statesOf('adopted').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(dir, 'adopted');
  t.teardown(() => killGroup(pgid));
  await first.stop();

  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  await eventually(() => master.subscribes.length === 2 && master.connected, 'second subscription');
  master.kill(FW, 'adopted');
  const fin = await eventually(() => master.updatesFor('adopted').find((u) => u.status.state === 'TASK_KILLED'), 'TASK_KILLED');
  t.is(fin.status.source, 'SOURCE_EXECUTOR');
  t.false(groupExists(pgid!));
});

test('a KILL under way when the agent restarts is carried on: SIGKILL when its grace ends, TASK_KILLED', async (t) => {
  const { dir, master } = await fixture(t);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  master.launch(FW, commandTask('stubborn', "trap 'touch got-term' TERM; while :; do sleep 0.1; done", { graceMs: 1500 }));
  await eventually(() => master.statesOf('stubborn').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(dir, 'stubborn');
  t.teardown(() => killGroup(pgid));
  master.kill(FW, 'stubborn');
  await eventually(async () => (await readFile(join(dir, 'sandboxes', FW, 'stubborn', 'got-term')).then(() => true, () => false)), 'the SIGTERM');
  await first.stop(); // restarted within the grace period; the task ignores SIGTERM

  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  const fin = await eventually(() => master.updatesFor('stubborn').find((u) => ['TASK_KILLED', 'TASK_FAILED'].includes(u.status.state)), 'its end', 10_000);
  t.is(fin.status.state, 'TASK_KILLED', fin.status.message);
  t.false(groupExists(pgid!), 'SIGKILLed when the grace ran out');
});

test('a recovered task whose command exited ends then, even while something it left behind still runs', async (t) => {
  const { dir, master } = await fixture(t);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  master.launch(FW, commandTask('leaver', `sleep 600 & ${waitForGo(0)}`));
  await eventually(() => master.statesOf('leaver').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(dir, 'leaver');
  t.teardown(() => killGroup(pgid));
  await first.stop();
  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  await eventually(() => master.subscribes.length === 2 && master.connected, 'second subscription');
  await writeFile(join(dir, 'sandboxes', FW, 'leaver', 'go'), '');
  const fin = await eventually(() => master.updatesFor('leaver').find((u) => u.status.state === 'TASK_FINISHED'), 'TASK_FINISHED', 10_000);
  t.is(fin.status.message, 'Command exited with status 0');
  await eventually(() => !groupExists(pgid!), 'the leftover sleep killed with the group');
});

test('a task that finished while the agent was down is reported with its real exit status', async (t) => {
  const { dir, master } = await fixture(t);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  master.launch(FW, commandTask('while-away', waitForGo(7)));
  master.launch(FW, commandTask('ok-while-away', waitForGo(0)));
  await eventually(() => master.statesOf('while-away').includes('TASK_RUNNING') && master.statesOf('ok-while-away').includes('TASK_RUNNING'), 'RUNNING');
  const a = await readCheckpoint(dir, 'while-away');
  const b = await readCheckpoint(dir, 'ok-while-away');
  t.teardown(() => { killGroup(a.pgid); killGroup(b.pgid); });
  await first.stop();

  for (const id of ['while-away', 'ok-while-away']) await writeFile(join(dir, 'sandboxes', FW, id, 'go'), '');
  await eventually(() => !groupExists(a.pgid!) && !groupExists(b.pgid!), 'tasks to end');

  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  const failed = await eventually(() => master.updatesFor('while-away').find((u) => u.status.state === 'TASK_FAILED'), 'TASK_FAILED');
  t.is(failed.status.message, 'Command exited with status 7');
  const finished = await eventually(() => master.updatesFor('ok-while-away').find((u) => u.status.state === 'TASK_FINISHED'), 'TASK_FINISHED');
  t.is(finished.status.message, 'Command exited with status 0');
  // The re-subscription listed them with their final state, since their updates were not yet taken.
  const sub = master.subscribes.at(-1)!;
  t.is(sub.agent_info.id?.value, first.agentId());
  t.deepEqual(sub.tasks.map((x) => `${x.task_id.value}:${x.state}`).sort(), ['ok-while-away:TASK_FINISHED', 'while-away:TASK_FAILED']);
});

test('a task SIGKILLed while the agent was away is reported with how it died', async (t) => {
  const { dir, master } = await fixture(t);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  master.launch(FW, commandTask('killed-away', 'sleep 60'));
  await eventually(() => master.statesOf('killed-away').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(dir, 'killed-away');
  await first.stop();
  killGroup(pgid); // the launcher's waiter, outside the task's group, records the signal
  await eventually(() => !groupExists(pgid!), 'group to die');

  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  const fin = await eventually(() => master.updatesFor('killed-away').find((u) => u.status.state === 'TASK_FAILED'), 'TASK_FAILED');
  t.is(fin.status.message, 'Command terminated by signal SIGKILL');
});

test('a task whose group vanished without an exit status is TASK_FAILED, exit status unknown', async (t) => {
  const { dir, master } = await fixture(t);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  master.launch(FW, commandTask('vanished', 'sleep 60'));
  await eventually(() => master.statesOf('vanished').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(dir, 'vanished');
  await first.stop();
  // The waiting launcher subshell (the task's parent) goes first, as in a host that lost both.
  const waiter = Number((await readFile(`/proc/${pgid}/stat`, 'utf8')).split(') ')[1].split(' ')[1]);
  process.kill(waiter, 'SIGKILL');
  killGroup(pgid);
  await eventually(() => !groupExists(pgid!), 'group to die');

  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  const fin = await eventually(() => master.updatesFor('vanished').find((u) => u.status.state === 'TASK_FAILED'), 'TASK_FAILED');
  t.regex(fin.status.message ?? '', /exit status unknown/);
  t.is(fin.status.source, 'SOURCE_AGENT');
});

test('updates the master never accepted are re-sent by the restarted agent, once and in order', async (t) => {
  const { dir, master } = await fixture(t);
  master.failNextUpdates(1_000_000);
  const first = await startTestAgent(master.url, dir);
  await eventually(() => first.agentId(), 'first subscription');
  master.launch(FW, commandTask('unheard', 'echo hi'));
  await eventually(async () => (await readCheckpoint(dir, 'unheard').catch(() => undefined))?.state === 'TASK_FINISHED', 'task to finish');
  await first.stop();
  t.deepEqual(master.updates, []);
  const journaled = (await readFile(join(dir, 'status-journal.jsonl'), 'utf8')).trim().split('\n')
    .map((l) => JSON.parse(l)).filter((l) => l.type === 'update').map((l) => l.status.uuid);

  master.failNextUpdates(0);
  const second = await startTestAgent(master.url, dir);
  t.teardown(() => second.stop({ killTasks: true }));
  await eventually(() => master.statesOf('unheard').length === 3, 'three updates');
  t.deepEqual(master.statesOf('unheard'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  // The very updates the first agent journaled (same uuids), so the master can drop duplicates.
  t.deepEqual(master.updates.map((u) => u.status.uuid), journaled);
  t.is(master.updateAttempts[0].status.uuid, journaled[0]);
});
