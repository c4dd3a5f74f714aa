// Task checkpoints in two slots written in place: the newest valid one wins, a torn write loses
// only the version being written, a shorter version over a longer one still reads back, and no
// file is created per update.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTaskCheckpoints, saveTaskCheckpoint, taskCheckpointPath } from '../agents/recovery.ts';
import type { TaskCheckpoint } from '../agents/executor/command-executor.ts';
import type { TaskState } from '../src/mesos/task-status.ts';

const cp = (state: TaskState, extra: Partial<TaskCheckpoint> = {}): TaskCheckpoint => ({
  framework_id: 'fw-1', sandbox: '/tmp/sb', state,
  task: { name: 't', task_id: { value: 't1' }, agent_id: { value: 'a' }, resources: [], command: { value: 'sleep 9' } },
  ...extra,
});
const load = (dir: string, bad: string[] = []) => loadTaskCheckpoints(dir, (p, e) => bad.push(`${p}: ${e.message}`));

test('the latest checkpoint is read back; updates reuse the two slot files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-cp-'));
  await saveTaskCheckpoint(dir, cp('TASK_STAGING', { task: { ...cp('TASK_STAGING').task, command: { value: `sleep 9 # ${'x'.repeat(500)}` } } }));
  const path = taskCheckpointPath(dir, 'fw-1', 't1');
  const inode = statSync(path).ino;
  await saveTaskCheckpoint(dir, cp('TASK_STARTING'));
  await saveTaskCheckpoint(dir, cp('TASK_RUNNING', { pgid: 4242, pid: 4242 })); // shorter than the first, same slot
  t.deepEqual((await load(dir)).map((c) => [c.state, c.pgid]), [['TASK_RUNNING', 4242]]);
  t.deepEqual(readdirSync(join(dir, 'tasks', 'fw-1')).sort(), ['t1.json', 't1.json.1']);
  t.is(statSync(path).ino, inode, 'written in place: no new file per update');
  t.notThrows(() => JSON.parse(readFileSync(path, 'utf8')), 'a shorter version is padded, not left with the old tail');
});

test('a torn write spoils only its slot: recovery takes the previous version; later writes go on from it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-cp-'));
  await saveTaskCheckpoint(dir, cp('TASK_STARTING'));
  await saveTaskCheckpoint(dir, cp('TASK_RUNNING', { pgid: 77 }));
  await saveTaskCheckpoint(dir, cp('TASK_RUNNING', { pgid: 78 })); // slot 0 again
  const path = taskCheckpointPath(dir, 'fw-1', 't1');
  writeFileSync(path, readFileSync(path, 'utf8').slice(0, 40)); // the agent died mid-write
  const bad: string[] = [];
  t.deepEqual((await load(dir, bad)).map((c) => [c.state, c.pgid]), [['TASK_RUNNING', 77]]);
  t.deepEqual(bad, []);
  await saveTaskCheckpoint(dir, cp('TASK_FINISHED', { pgid: 77 })); // into the torn slot, not over the good one
  t.deepEqual((await load(dir)).map((c) => c.state), ['TASK_FINISHED']);
  writeFileSync(`${path}.1`, '{'); // both slots unreadable: reported, skipped
  writeFileSync(path, '');
  const bad2: string[] = [];
  t.deepEqual(await load(dir, bad2), []);
  t.is(bad2.length, 1);
});
