// Checkpoints that let a restarted agent pick up where it left off: `${workDir}/agent.json` holds
// the agent id (written to a temp name, fsynced and renamed), `${workDir}/tasks/<framework_id>/
// <task_id>.json` (and `.json.1`) each task's TaskInfo, process group and last state, in two slots
// written in turn (see saveTaskCheckpoint), so an agent crash leaves the old or the new version,
// never only a torn one. Task checkpoints are not fsynced (three per task would dominate a busy
// agent's disk time): after a power loss, when their tasks are gone anyway, a checkpoint lost or
// torn is skipped at recovery and the master, not finding the task on the re-registered agent,
// reports it TASK_LOST.
//
// Order of writes (see CommandExecutor.report): a status update is journaled before the checkpoint
// records the state it announces. A crash in between can make recovery report a terminal state a
// second time (new uuid) but can never lose one.
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { writeJsonDurably } from './durable-file.ts';
import { isTerminal } from '../src/mesos/task-status.ts';
import { dirname, join, resolve } from 'node:path';
import type { TaskCheckpoint } from './executor/command-executor.ts';

export async function loadAgentId(workDir: string): Promise<string | undefined> {
  try {
    const saved = JSON.parse(await readFile(join(workDir, 'agent.json'), 'utf8')) as { agent_id?: string };
    return typeof saved.agent_id === 'string' && saved.agent_id ? saved.agent_id : undefined;
  } catch {
    return undefined;
  }
}

export function saveAgentId(workDir: string, agentId: string): Promise<void> {
  return writeJsonDurably(join(workDir, 'agent.json'), { agent_id: agentId });
}

export const taskCheckpointPath = (workDir: string, frameworkId: string, taskId: string): string =>
  join(workDir, 'tasks', frameworkId, `${taskId}.json`);

/** The second slot of a task's checkpoint (see saveTaskCheckpoint): `<task>.json.1`. */
export const CHECKPOINT_SECOND_SLOT = '.1';

interface SlotState { next: 0 | 1; seq: number }
/** Per live task's checkpoint path: which slot the next write goes to and the last sequence number. */
const slots = new Map<string, SlotState>();

/**
 * Task checkpoints are written in place into two slots, `<task>.json` and `<task>.json.1`, in
 * turn, each stamped with a sequence number; recovery takes the valid one with the higher number.
 * A write torn by a crash spoils only the slot being written — the other still holds the previous
 * version — and no file is ever created and deleted per update: a temp file renamed over the old
 * one (the usual way) frees an inode at every update, and ext4's inode allocator then spends more
 * and more time skipping recently freed inodes on a busy agent (measured: 40 % of the machine's CPU
 * in bench:launch e2e). A slot is overwritten with trailing spaces up to its old length (JSON
 * allows them), so it is never truncated and never, even for a moment, empty.
 */
export async function saveTaskCheckpoint(workDir: string, cp: TaskCheckpoint): Promise<void> {
  try {
    await writeTaskCheckpoint(workDir, cp);
  } finally {
    // A failed write may have changed the slots too. Wall-clock time, as the slot's mtime is.
    const at = Date.now();
    for (const fn of checkpointWatchers.get(resolve(workDir)) ?? []) fn(cp.framework_id, cp.task.task_id.value, at);
  }
}

async function writeTaskCheckpoint(workDir: string, cp: TaskCheckpoint): Promise<void> {
  const path = taskCheckpointPath(workDir, cp.framework_id, cp.task.task_id.value);
  const st = slots.get(path) ?? await slotsOnDisk(path);
  // Sequence numbers from the clock, so a restarted agent still writes higher ones.
  st.seq = Math.max(st.seq + 1, Date.now() * 1000);
  const slot = st.next;
  const text = JSON.stringify({ ...cp, seq: st.seq });
  const file = slot === 0 ? path : path + CHECKPOINT_SECOND_SLOT;
  const fh = await openSlot(file, path);
  try {
    const old = (await fh.stat()).size;
    const bytes = Buffer.byteLength(text);
    await fh.write(bytes < old ? text + ' '.repeat(old - bytes) : text, 0, 'utf8');
  } finally {
    await fh.close();
  }
  st.next = slot === 0 ? 1 : 0;
  // An ended task is written no more (if it is, its slots are read again first).
  if (isTerminal(cp.state)) slots.delete(path);
  else slots.set(path, st);
}

/** `atMs`: the time (ms since the epoch) once the write was done, no earlier than the slot's new mtime. */
type CheckpointWatcher = (frameworkId: string, taskId: string, atMs: number) => void;
/**
 * Per work dir (resolved), who hears of each task checkpoint write: the garbage collector learns
 * from these when a task's files last changed, rather than statting every task at every pass.
 */
const checkpointWatchers = new Map<string, Set<CheckpointWatcher>>();

/** Calls `fn` after every write (or failed write) of a task checkpoint under `workDir`; returns the unsubscribe. */
export function watchTaskCheckpoints(workDir: string, fn: CheckpointWatcher): () => void {
  const dir = resolve(workDir);
  const set = checkpointWatchers.get(dir) ?? new Set<CheckpointWatcher>();
  checkpointWatchers.set(dir, set.add(fn));
  return () => {
    set.delete(fn);
    if (set.size === 0 && checkpointWatchers.get(dir) === set) checkpointWatchers.delete(dir);
  };
}

/** Opens a slot for writing in place (read-write, created if missing, never truncated). */
async function openSlot(file: string, path: string): Promise<FileHandle> {
  const flags = constants.O_RDWR | constants.O_CREAT;
  try {
    return await open(file, flags, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // The first checkpoint of a framework creates its directory (cheaper than a mkdir every time).
  await mkdir(dirname(path), { recursive: true });
  return open(file, flags, 0o644);
}

/** What the slots on disk say: write next into the one not holding the newest valid version. */
async function slotsOnDisk(path: string): Promise<SlotState> {
  const texts = await Promise.all([path, path + CHECKPOINT_SECOND_SLOT].map((p) => readFile(p, 'utf8').catch(() => undefined)));
  const found = newestCheckpoint(texts);
  return 'error' in found ? { next: 0, seq: 0 } : { next: found.slot === 0 ? 1 : 0, seq: found.cp.seq ?? 0 };
}

/** The newer of a checkpoint's two slots (their texts; undefined = missing), or an error. */
export function newestCheckpoint(texts: readonly (string | undefined)[]): { cp: TaskCheckpoint & { seq?: number }; slot: number } | { error: Error } {
  let best: { cp: TaskCheckpoint & { seq?: number }; slot: number } | undefined;
  let error: Error | undefined;
  for (const [slot, text] of texts.entries()) {
    if (text === undefined) continue;
    try {
      const cp = JSON.parse(text) as TaskCheckpoint & { seq?: number };
      if (!cp.task?.task_id?.value || !cp.framework_id || !cp.state) throw new Error('incomplete checkpoint');
      if (!best || (cp.seq ?? 0) > (best.cp.seq ?? 0)) best = { cp, slot };
    } catch (err) {
      error = err as Error;
    }
  }
  return best ?? { error: error ?? new Error('no checkpoint') };
}

/** Every task with a checkpoint on disk (either slot): its framework, id and first slot's path. */
export async function checkpointedTasks(workDir: string): Promise<{ frameworkId: string; taskId: string; path: string }[]> {
  const root = join(workDir, 'tasks');
  const out = new Map<string, { frameworkId: string; taskId: string; path: string }>();
  for (const frameworkId of await listDir(root)) {
    for (const file of await listDir(join(root, frameworkId))) {
      const slot = file.endsWith('.json') ? '.json' : file.endsWith(`.json${CHECKPOINT_SECOND_SLOT}`) ? `.json${CHECKPOINT_SECOND_SLOT}` : undefined;
      if (!slot) continue;
      const taskId = file.slice(0, -slot.length);
      out.set(`${frameworkId}/${taskId}`, { frameworkId, taskId, path: taskCheckpointPath(workDir, frameworkId, taskId) });
    }
  }
  return [...out.values()];
}

/** Every readable task checkpoint; unreadable ones are reported through `onBad` and skipped. */
export async function loadTaskCheckpoints(workDir: string, onBad: (path: string, err: Error) => void): Promise<TaskCheckpoint[]> {
  const out: TaskCheckpoint[] = [];
  for (const { path } of await checkpointedTasks(workDir)) {
    const texts = await Promise.all([path, path + CHECKPOINT_SECOND_SLOT].map((p) => readFile(p, 'utf8').catch(() => undefined)));
    const found = newestCheckpoint(texts);
    if ('error' in found) {
      onBad(path, found.error);
      continue;
    }
    // Go on writing into the other slot, with higher sequence numbers.
    if (!isTerminal(found.cp.state)) slots.set(path, { next: found.slot === 0 ? 1 : 0, seq: found.cp.seq ?? 0 });
    const { seq: _seq, ...cp } = found.cp;
    out.push(cp);
  }
  return out;
}

/** A folder's entries; none when it does not exist (or cannot be read). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
