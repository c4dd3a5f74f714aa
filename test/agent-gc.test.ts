// Garbage collection of finished tasks' sandboxes (Mesos' --gc_delay / --gc_disk_headroom): a real
// agent running real tasks against a fake master, its clock moved forward by hand; the bound on the
// ended tasks the agent remembers; and what a pass costs (the GC alone, its stats counted).
import test from 'ava';
import { existsSync, utimesSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskCheckpoint } from '../agents/executor/command-executor.ts';
import { FileAgeIndex, maxSandboxAgeMs, SandboxGc } from '../agents/sandbox-gc.ts';
import { saveTaskCheckpoint, taskCheckpointPath } from '../agents/recovery.ts';
import { ManualClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/common/logger.ts';
import { StatusJournal } from '../agents/status-journal.ts';
import { TaskManager } from '../agents/task-manager.ts';
import { FakeMaster } from './helpers/agent-fake-master.ts';
import { commandTask, eventually, FW, readCheckpoint, startTestAgent, tempWorkDir } from './helpers/agent-test-utils.ts';

const DAY = 24 * 3600 * 1000;
const WEEK = 7 * DAY;

test('the age allowed is gc_delay × max(0, 1 − headroom − disk usage), as in Mesos', (t) => {
  t.is(maxSandboxAgeMs(WEEK, 0.1, 0), 0.9 * WEEK);
  t.is(Math.round(maxSandboxAgeMs(WEEK, 0.1, 0.5)), Math.round(0.4 * WEEK));
  t.is(maxSandboxAgeMs(WEEK, 0.1, 0.95), 0); // nearly full: everything finished goes at once
  t.is(maxSandboxAgeMs(WEEK, 0, 1), 0);
});

async function setup(t: { teardown: (fn: () => Promise<void>) => void }, diskUsage: { value: number }) {
  const { dir, cleanup } = await tempWorkDir();
  const master = await FakeMaster.start();
  const clock = new ManualClock(Date.now());
  const agent = await startTestAgent(master.url, dir, {
    clock, gc: { gcDelayMs: WEEK, diskHeadroom: 0.1, intervalMs: 3_600_000, diskUsage: async () => diskUsage.value },
  });
  t.teardown(async () => {
    await agent.stop({ killTasks: true });
    await master.close();
    await cleanup();
  });
  await eventually(() => master.connected && agent.agentId(), 'subscription');
  const sandbox = (task: string) => join(dir, 'sandboxes', FW, task);
  const checkpoint = (task: string) => taskCheckpointPath(dir, FW, task);
  const finished = (task: string) => eventually(() => master.statesOf(task).includes('TASK_FINISHED'), `${task} finished`);
  return { master, agent, clock, sandbox, checkpoint, finished, dir };
}

test('a finished task\'s sandbox and checkpoint stay for gc_delay × (1 − headroom − usage), then go; a running task\'s stay', async (t) => {
  const usage = { value: 0.2 };
  const { master, agent, clock, sandbox, checkpoint, finished } = await setup(t, usage);
  master.launch(FW, commandTask('done', 'echo output'));
  master.launch(FW, commandTask('long', 'sleep 600'));
  await finished('done');
  await eventually(() => master.statesOf('long').includes('TASK_RUNNING'), 'long running');
  t.true(existsSync(join(sandbox('done'), 'stdout')));

  // 0.2 used, 0.1 headroom: 0.7 weeks (4.9 days) allowed. Four days in, the sandbox is still there.
  clock.advance(4 * DAY);
  let swept = await agent.collectGarbage();
  t.is(swept.removed, 0);
  t.is(Math.round(swept.maxAgeMs), Math.round(0.7 * WEEK));
  t.true(existsSync(join(sandbox('done'), 'stdout')));

  // A day later it is past 4.9 days: gone with its checkpoint; the running task's files stay.
  clock.advance(1 * DAY);
  swept = await agent.collectGarbage();
  t.is(swept.removed, 1);
  t.false(existsSync(sandbox('done')));
  t.false(existsSync(checkpoint('done')));
  t.true(existsSync(sandbox('long')));
  t.true(existsSync(checkpoint('long')));
  // The files API answers 404 for what was collected.
  t.is((await fetch(`${agent.url}/files/read?path=sandboxes/${FW}/done/stdout&offset=0`)).status, 404);
  // A KILL for the collected task now gets Mesos' answer for a task the agent does not know.
  master.kill(FW, 'done');
  await eventually(() => master.statesOf('done').includes('TASK_LOST'), 'TASK_LOST for the forgotten task');
});

test('a filling disk shortens the delay: at 90 % used with 10 % headroom a finished sandbox goes at the next pass', async (t) => {
  const usage = { value: 0.1 };
  const { master, agent, clock, sandbox, finished } = await setup(t, usage);
  master.launch(FW, commandTask('a', 'true'));
  await finished('a');
  clock.advance(60_000); // a minute old
  t.is((await agent.collectGarbage()).removed, 0);
  usage.value = 0.9;
  const swept = await agent.collectGarbage();
  t.is(swept.maxAgeMs, 0);
  t.is(swept.removed, 1);
  t.false(existsSync(sandbox('a')));
});

test('a task whose terminal update has not reached the master keeps its files until it has', async (t) => {
  const usage = { value: 0.95 }; // everything finished may go at once
  const { master, agent, clock, sandbox, checkpoint, dir } = await setup(t, usage);
  master.failNextUpdates(1_000_000);
  master.launch(FW, commandTask('unsent', 'echo x'));
  // Its end is journaled (the update refused by the master) and checkpointed.
  await eventually(() => readCheckpoint(dir, 'unsent').then((cp) => cp.state === 'TASK_FINISHED', () => false), 'the task ended');
  clock.advance(60_000);
  t.is((await agent.collectGarbage()).removed, 0);
  t.true(existsSync(sandbox('unsent')));
  t.true(existsSync(checkpoint('unsent')));
  master.failNextUpdates(0);
  await eventually(() => master.statesOf('unsent').includes('TASK_FINISHED'), 'the update accepted');
  await eventually(async () => (await agent.collectGarbage()).removed === 1, 'collected once delivered');
  t.false(existsSync(sandbox('unsent')));
  t.false(existsSync(checkpoint('unsent')));
});

test('an agent restarted on the same work dir collects what finished before it stopped', async (t) => {
  const usage = { value: 0.2 };
  const first = await setup(t, usage);
  first.master.launch(FW, commandTask('before', 'true'));
  await first.finished('before');
  await first.agent.stop();
  const clock = new ManualClock(Date.now() + WEEK);
  const again = await startTestAgent(first.master.url, first.dir, {
    clock, gc: { gcDelayMs: WEEK, diskHeadroom: 0.1, intervalMs: 3_600_000, diskUsage: async () => usage.value },
  });
  t.teardown(() => again.stop({ killTasks: true }));
  // The pass at start-up removes it without being asked.
  await eventually(() => !existsSync(first.sandbox('before')) && !existsSync(first.checkpoint('before')), 'collected at start-up');
  t.pass();
});

test('tasks that never had files (TASK_ERROR) are remembered up to a bound, the oldest forgotten first once the master has their updates', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const sent: { taskId: string; state: string }[] = [];
  const journal = await StatusJournal.open(dir, async (batch) => {
    for (const u of batch) sent.push({ taskId: u.status.task_id.value, state: u.status.state });
    return true;
  }, { logger: silentLogger, maxBackoffMs: 100 });
  t.teardown(() => journal.close());
  const tasks = new TaskManager({ workDir: dir, host: '127.0.0.1', defaultGraceMs: 1000, logger: silentLogger, journal, agentId: () => 'A1', maxEndedTasks: 5 });
  for (let i = 0; i < 8; i++) {
    tasks.launch(FW, { name: `bad${i}`, task_id: { value: `bad${i}` }, agent_id: { value: 'A1' }, command: { value: 'true' }, executor: { executor_id: { value: 'x' } } });
    await eventually(() => sent.some((s) => s.taskId === `bad${i}`), `bad${i}'s TASK_ERROR delivered`);
  }
  t.is(tasks.endedCount, 5);
  // A KILL of a forgotten one is answered TASK_LOST (the agent does not know it); of a remembered one, not at all.
  tasks.kill(FW, 'bad0');
  tasks.kill(FW, 'bad7');
  await eventually(() => sent.some((s) => s.taskId === 'bad0' && s.state === 'TASK_LOST'), 'TASK_LOST for bad0');
  await new Promise((r) => setTimeout(r, 200));
  t.false(sent.some((s) => s.taskId === 'bad7' && s.state === 'TASK_LOST'));
});

function finishedCheckpoint(dir: string, taskId: string): TaskCheckpoint {
  return {
    framework_id: FW, sandbox: join(dir, 'sandboxes', FW, taskId), state: 'TASK_FINISHED',
    task: { name: taskId, task_id: { value: taskId }, agent_id: { value: 'A1' }, resources: [], command: { value: 'true' } },
  };
}

/**
 * A SandboxGc on its own over a temp work dir, counting the stats its passes make. Tasks end by
 * their checkpoint write; `onDisk` ones ended 5 days before the GC started (files backdated).
 */
async function gcSetup(t: { teardown: (fn: () => Promise<void>) => void }, opts: { onDisk?: string[]; inUse?: (taskId: string) => boolean } = {}) {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const clock = new ManualClock(Date.now());
  const sandbox = (task: string) => join(dir, 'sandboxes', FW, task);
  const end = async (task: string) => {
    await mkdir(sandbox(task), { recursive: true });
    await saveTaskCheckpoint(dir, finishedCheckpoint(dir, task));
  };
  const backdate = (path: string, ms: number) => utimesSync(path, ms / 1000, ms / 1000);
  for (const task of opts.onDisk ?? []) {
    await end(task);
    const cp = taskCheckpointPath(dir, FW, task);
    for (const p of [sandbox(task), cp, `${cp}.1`]) if (existsSync(p)) backdate(p, clock.now() - 5 * DAY);
  }
  const statted: string[] = [];
  const gc = new SandboxGc({
    workDir: dir, gcDelayMs: WEEK, diskHeadroom: 0.1, intervalMs: 3_600_000, clock, logger: silentLogger,
    diskUsage: async () => 0, // 6.3 days allowed
    stat: (p) => { statted.push(p); return stat(p); },
    inUse: (_fw, taskId) => opts.inUse?.(taskId) ?? false, frameworkInUse: () => false, onCollected: () => undefined,
  });
  t.teardown(() => gc.stop());
  /** One pass, and the stats it made. */
  const pass = async () => {
    statted.length = 0;
    const swept = await gc.sweep();
    return { ...swept, statted: [...statted] };
  };
  return { clock, sandbox, end, backdate, pass, dir };
}

test('a pass stats only the finished tasks old enough to go, not the many young ones kept', async (t) => {
  const old = ['old0', 'old1', 'old2', 'old3', 'old4'];
  const { clock, sandbox, end, pass, dir } = await gcSetup(t, { onDisk: old });
  // The first pass learns what is on disk: three stats (sandbox, two checkpoint slots) a task, once.
  let swept = await pass();
  t.is(swept.removed, 0);
  t.is(swept.statted.length, 15);
  // From here on the index learns from checkpoint writes.
  for (let i = 0; i < 300; i++) await end(`young${i}`);
  t.is((await pass()).statted.length, 0);

  clock.advance(2 * DAY); // the old ones are 7 days old, the young ones 2: 6.3 days allowed
  swept = await pass();
  t.is(swept.removed, 5);
  t.is(swept.kept, 300);
  // Only the old ones are looked at, to check their age before they go.
  t.is(swept.statted.length, 15);
  t.true(swept.statted.every((p) => p.includes('old')));
  for (const task of old) t.false(existsSync(sandbox(task)));
  t.true(existsSync(sandbox('young0')) && existsSync(sandbox('young299')));

  clock.advance(5 * DAY);
  swept = await pass();
  t.is(swept.removed, 300);
  t.is(swept.statted.length, 900);
  // The framework has no task left: its folders go too.
  t.false(existsSync(join(dir, 'sandboxes', FW)));
  t.false(existsSync(join(dir, 'tasks', FW)));
});

test('a sandbox touched after its task ended stays until it is old again; a task in use is kept without a stat', async (t) => {
  const busy = { value: true };
  const { clock, sandbox, end, backdate, pass } = await gcSetup(t, { inUse: (task) => task === 'busy' && busy.value });
  await pass(); // the start-up scan (of an empty work dir)
  await end('touched');
  await end('busy');
  clock.advance(5 * DAY);
  backdate(sandbox('touched'), clock.now()); // touched 5 days after the task ended
  clock.advance(2 * DAY); // 7 days since both ended; 2 since the touch

  let swept = await pass();
  t.is(swept.removed, 0);
  t.true(existsSync(sandbox('touched')));
  t.true(existsSync(sandbox('busy')));
  t.deepEqual(swept.statted.filter((p) => p.includes('busy')), []); // in use: no need to look at its files
  t.is(swept.statted.length, 3); // the touched one's, found younger than the index said
  // Now the index knows the touch: it is not looked at again until old.
  t.deepEqual((await pass()).statted, []);

  busy.value = false;
  clock.advance(5 * DAY); // 7 days since the touch
  swept = await pass();
  t.is(swept.removed, 2);
  t.false(existsSync(sandbox('touched')));
  t.false(existsSync(sandbox('busy')));
});
test('the age index gives the oldest task first, by the newest time noted for it', (t) => {
  const index = new FileAgeIndex();
  index.note(FW, 'a', 5);
  index.note(FW, 'b', 1);
  index.note(FW, 'c', 3);
  index.note(FW, 'a', 0); // older than known: ignored
  index.note(FW, 'b', 10); // changed later: now the youngest
  for (let i = 0; i < 500; i++) index.note(FW, 'd', 20 + i); // superseded nodes, rebuilt away
  t.is(index.size, 4);
  t.is(index.takeOldest(4)?.taskId, 'c');
  t.is(index.takeOldest(4), undefined);
  t.deepEqual([index.takeOldest(1000), index.takeOldest(1000), index.takeOldest(1000)].map((e) => `${e?.taskId}@${e?.at}`), ['a@5', 'b@10', 'd@519']);
  t.is(index.takeOldest(Infinity), undefined);
  t.is(index.size, 0);
});
