// Garbage collection of finished tasks' sandboxes and checkpoints, as the Mesos agent does it
// (--gc_delay, --gc_disk_headroom, --disk_watch_interval): a finished task's sandbox
// (`sandboxes/<framework>/<task>`, its stdout and stderr) stays for inspection for at most
// `gcDelayMs`, and less as the disk fills — the age allowed is
//   gc_delay × max(0, 1 − gc_disk_headroom − disk usage)
// recomputed every `intervalMs` — so a long-lived agent running many short tasks never fills its
// disk with old sandboxes, nor its memory with the tasks it remembers.
//
// A task's files are kept while it runs and while one of its status updates has not reached the
// master (the agent may still need them to tell it how the task ended). Its age is the newest
// mtime of its sandbox folder and checkpoint slots: the checkpoint is written last, when the task
// ended.
//
// Cost: a pass does not look at every finished task. The tasks with files on disk are kept in an
// index ordered by when their files last changed (FileAgeIndex), filled once from the file system
// at the first pass (which is how an agent restarted on an old work dir finds its old sandboxes),
// then from each checkpoint write (recovery.ts, watchTaskCheckpoints). A pass takes out the oldest
// entries only, until one is young enough to keep, and stats just those (a sandbox touched since
// goes back in, younger): a statfs, a mkdir and a readdir of the trash, plus three stats per task
// looked at, however many finished tasks are kept. Old tasks still in use are looked at in memory.
// Not seen until the next start-up: a sandbox whose task never got a checkpoint written (every
// one of its status updates failed to be journaled).
import { readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { mkdir, rm, stat as fsStat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import TinyQueue from 'tinyqueue';
import type { Logger } from 'pino';
import type { Clock } from '../src/common/clock.ts';
import { Periodic } from '../src/common/periodic.ts';
import { sandboxPath } from './executor/command-executor.ts';
import { CHECKPOINT_SECOND_SLOT, checkpointedTasks, listDir, taskCheckpointPath, watchTaskCheckpoints } from './recovery.ts';

/** Mesos' defaults. */
export const DEFAULT_GC_DELAY_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_GC_DISK_HEADROOM = 0.1;
export const DEFAULT_DISK_WATCH_INTERVAL_MS = 60_000;

/** Sandboxes are moved here (one rename, atomic; same file system) before their contents are deleted. */
const TRASH = '.gc-trash';

/** How old a finished task's files may get before they are removed (Mesos' formula). */
export function maxSandboxAgeMs(gcDelayMs: number, diskHeadroom: number, diskUsage: number): number {
  return gcDelayMs * Math.max(0, 1 - diskHeadroom - diskUsage);
}

/** The used fraction (0–1) of the file system holding `dir`; blocks reserved for root count as used. */
export async function diskUsageOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.blocks > 0 ? 1 - s.bavail / s.blocks : 0;
}

export interface SandboxGcOptions {
  workDir: string;
  gcDelayMs: number;
  diskHeadroom: number;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  /** The task's files must stay: it runs, or an update of it has not reached the master yet. */
  inUse(frameworkId: string, taskId: string): boolean;
  /** A framework's tasks: while it has one its folders stay (a new task may be creating them). */
  frameworkInUse(frameworkId: string): boolean;
  /** The task's files are gone: forget it. */
  onCollected(frameworkId: string, taskId: string): void;
  /** Seam for tests; default: statfs of workDir. */
  diskUsage?: () => Promise<number>;
  /** Seam for tests (counting what a pass reads); default: fs.promises.stat. */
  stat?: (path: string) => Promise<{ mtimeMs: number }>;
}

export interface SweepResult {
  removed: number;
  /** Tasks whose files stay: young, running, or with an update waiting for the master. */
  kept: number;
  maxAgeMs: number;
  diskUsage: number;
}

interface AgeEntry { frameworkId: string; taskId: string; at: number }

/**
 * Tasks with files on disk by when their files last changed (ms), oldest first, in a priority queue
 * (tinyqueue's binary heap). A task noted again gets a new node; the one it supersedes is dropped
 * when it comes to the top, and the queue is rebuilt when superseded nodes outnumber the live ones
 * (a task is noted at each of its checkpoint writes).
 */
export class FileAgeIndex {
  private readonly latest = new Map<string, AgeEntry>();
  private queue = new TinyQueue<AgeEntry>([], byAge);

  get size(): number {
    return this.latest.size;
  }

  /** The task's files changed at `at`; an earlier time than the one known is ignored. */
  note(frameworkId: string, taskId: string, at: number): void {
    const k = `${frameworkId}/${taskId}`;
    if ((this.latest.get(k)?.at ?? -Infinity) >= at) return;
    const entry = { frameworkId, taskId, at };
    this.latest.set(k, entry);
    this.queue.push(entry);
    if (this.queue.length > 2 * this.latest.size + 64) this.queue = new TinyQueue([...this.latest.values()], byAge);
  }

  /** Takes out the oldest task if its files last changed at `cutoff` or before. */
  takeOldest(cutoff: number): AgeEntry | undefined {
    for (let top = this.queue.peek(); top; top = this.queue.peek()) {
      const k = `${top.frameworkId}/${top.taskId}`;
      const live = this.latest.get(k) === top;
      if (live && top.at > cutoff) return undefined;
      this.queue.pop();
      if (!live) continue;
      this.latest.delete(k);
      return top;
    }
    return undefined;
  }
}

const byAge = (a: AgeEntry, b: AgeEntry): number => a.at - b.at;

export class SandboxGc {
  private sweeping: Promise<SweepResult> | undefined;
  private readonly periodic: Periodic;
  private readonly index = new FileAgeIndex();
  /** Filled from the file system at the first pass (listDir and failed stats do not throw). */
  private indexed: Promise<void> | undefined;
  /** Frameworks whose folders may have become empty. */
  private readonly frameworksToTidy = new Set<string>();
  private readonly unwatch: () => void;

  constructor(private readonly opts: SandboxGcOptions) {
    this.periodic = new Periodic(() => this.sweep().catch((err: Error) => this.opts.logger.warn({ err }, 'sandbox garbage collection failed')), opts.intervalMs);
    // Before the first pass's scan: a checkpoint written meanwhile is noted by one or the other.
    this.unwatch = watchTaskCheckpoints(opts.workDir, (fw, task, at) => this.index.note(fw, task, at));
  }

  start(): void {
    this.periodic.start();
  }

  async stop(): Promise<void> {
    this.unwatch();
    await this.periodic.stop();
    await this.sweeping?.catch(() => undefined);
  }

  /** One pass (after the one in progress, if any). */
  sweep(): Promise<SweepResult> {
    const next = (this.sweeping ?? Promise.resolve()).catch(() => undefined).then(() => this.sweepOnce());
    this.sweeping = next;
    return next;
  }

  private async sweepOnce(): Promise<SweepResult> {
    const { workDir, logger } = this.opts;
    await (this.indexed ??= this.indexFromDisk());
    const usage = await (this.opts.diskUsage ?? (() => diskUsageOf(workDir)))();
    const maxAgeMs = maxSandboxAgeMs(this.opts.gcDelayMs, this.opts.diskHeadroom, usage);
    const cutoff = this.opts.clock.now() - maxAgeMs; // files last changed at or before it go
    let removed = 0;
    const trash = join(workDir, TRASH);
    await mkdir(trash, { recursive: true });
    // Old but in use (or not removable now): back into the index after the pass, as old as they were.
    const held: AgeEntry[] = [];
    for (let e = this.index.takeOldest(cutoff); e; e = this.index.takeOldest(cutoff)) {
      const { frameworkId, taskId } = e;
      if (this.opts.inUse(frameworkId, taskId)) {
        held.push(e);
        continue;
      }
      // The index only says when to look: the files say how old they are (touched since?).
      const changed = await this.lastChangeMs(frameworkId, taskId);
      if (changed > cutoff) this.index.note(frameworkId, taskId, changed);
      else if (this.collect(frameworkId, taskId, trash)) {
        removed++;
        this.frameworksToTidy.add(frameworkId);
      } else held.push(e);
    }
    for (const e of held) this.index.note(e.frameworkId, e.taskId, e.at);
    for (const fw of this.frameworksToTidy) this.removeFrameworkFolders(fw);
    this.frameworksToTidy.clear();
    await this.emptyTrash(trash);
    const result = { removed, kept: this.index.size, maxAgeMs, diskUsage: usage };
    if (removed > 0) logger.info(result, 'removed old sandboxes of finished tasks');
    return result;
  }

  /** Once: every task with a sandbox or a checkpoint on disk, as old as its files. */
  private async indexFromDisk(): Promise<void> {
    const tasks = new Map<string, { frameworkId: string; taskId: string }>();
    const sandboxes = join(this.opts.workDir, 'sandboxes');
    for (const frameworkId of await listDir(sandboxes)) {
      this.frameworksToTidy.add(frameworkId);
      for (const taskId of await listDir(join(sandboxes, frameworkId))) tasks.set(`${frameworkId}/${taskId}`, { frameworkId, taskId });
    }
    for (const t of await checkpointedTasks(this.opts.workDir)) tasks.set(`${t.frameworkId}/${t.taskId}`, t);
    for (const { frameworkId, taskId } of tasks.values()) {
      this.index.note(frameworkId, taskId, await this.lastChangeMs(frameworkId, taskId));
    }
  }

  /** The newest mtime of the task's sandbox folder and checkpoint slots (0: none left). */
  private async lastChangeMs(frameworkId: string, taskId: string): Promise<number> {
    const stat = this.opts.stat ?? fsStat;
    const cp = taskCheckpointPath(this.opts.workDir, frameworkId, taskId);
    const times = await Promise.all([sandboxPath(this.opts.workDir, frameworkId, taskId), cp, cp + CHECKPOINT_SECOND_SLOT]
      .map((p) => stat(p).then((s) => s.mtimeMs, () => 0)));
    return Math.max(...times);
  }

  /**
   * Removes a task's files. The in-use check and the moves are synchronous, in one turn of the
   * event loop: a LAUNCH of the same task id cannot come in between and have its new sandbox
   * or checkpoint taken away.
   */
  private collect(frameworkId: string, taskId: string, trash: string): boolean {
    if (this.opts.inUse(frameworkId, taskId)) return false;
    const sandbox = sandboxPath(this.opts.workDir, frameworkId, taskId);
    try {
      renameSync(sandbox, join(trash, `${encodeURIComponent(frameworkId)}.${encodeURIComponent(taskId)}.${this.opts.clock.now()}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.opts.logger.warn({ err, frameworkId, taskId }, 'cannot remove a sandbox');
        return false;
      }
    }
    const cp = taskCheckpointPath(this.opts.workDir, frameworkId, taskId);
    rmSync(cp, { force: true });
    rmSync(cp + CHECKPOINT_SECOND_SLOT, { force: true });
    this.opts.onCollected(frameworkId, taskId);
    return true;
  }

  /**
   * A framework's folders once empty, unless it has a task (which may be creating them now). Not
   * tried again later: whatever keeps them, a task's files or a task, is collected in its turn.
   */
  private removeFrameworkFolders(frameworkId: string): void {
    if (this.opts.frameworkInUse(frameworkId)) return;
    for (const dir of [join(this.opts.workDir, 'sandboxes', frameworkId), join(this.opts.workDir, 'tasks', frameworkId)]) {
      try {
        if (readdirSync(dir).length === 0) rmdirSync(dir);
      } catch {
        // gone already, or not empty after all: left for the next pass
      }
    }
  }

  private async emptyTrash(trash: string): Promise<void> {
    for (const entry of await listDir(trash)) await rm(join(trash, entry), { recursive: true, force: true });
  }
}
