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
import { readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { mkdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../src/common/clock.ts';
import { Periodic } from '../src/common/periodic.ts';
import { sandboxPath } from './executor/command-executor.ts';
import { CHECKPOINT_SECOND_SLOT, checkpointedTasks, listDir, taskCheckpointPath } from './recovery.ts';

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
}

export interface SweepResult {
  removed: number;
  kept: number;
  maxAgeMs: number;
  diskUsage: number;
}

export class SandboxGc {
  private sweeping: Promise<SweepResult> | undefined;
  private readonly periodic: Periodic;

  constructor(private readonly opts: SandboxGcOptions) {
    this.periodic = new Periodic(() => this.sweep().catch((err: Error) => this.opts.logger.warn({ err }, 'sandbox garbage collection failed')), opts.intervalMs);
  }

  start(): void {
    this.periodic.start();
  }

  async stop(): Promise<void> {
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
    const usage = await (this.opts.diskUsage ?? (() => diskUsageOf(workDir)))();
    const maxAgeMs = maxSandboxAgeMs(this.opts.gcDelayMs, this.opts.diskHeadroom, usage);
    const now = this.opts.clock.now();
    let removed = 0;
    let kept = 0;
    const trash = join(workDir, TRASH);
    await mkdir(trash, { recursive: true });
    for (const [frameworkId, taskIds] of await this.finishedTasks()) {
      for (const taskId of taskIds) {
        if (this.opts.inUse(frameworkId, taskId)) continue;
        const age = now - (await this.lastChangeMs(frameworkId, taskId));
        if (age < maxAgeMs) {
          kept++;
          continue;
        }
        if (this.collect(frameworkId, taskId, trash)) removed++;
      }
      this.removeFrameworkFolders(frameworkId);
    }
    await this.emptyTrash(trash);
    const result = { removed, kept, maxAgeMs, diskUsage: usage };
    if (removed > 0) logger.info(result, 'removed old sandboxes of finished tasks');
    return result;
  }

  /** Every task with a sandbox or a checkpoint on disk, by framework. */
  private async finishedTasks(): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const add = (fw: string, task: string): void => {
      let s = out.get(fw);
      if (!s) out.set(fw, (s = new Set()));
      s.add(task);
    };
    const sandboxes = join(this.opts.workDir, 'sandboxes');
    for (const fw of await listDir(sandboxes)) {
      for (const task of await listDir(join(sandboxes, fw))) add(fw, task);
    }
    for (const t of await checkpointedTasks(this.opts.workDir)) add(t.frameworkId, t.taskId);
    return out;
  }

  private async lastChangeMs(frameworkId: string, taskId: string): Promise<number> {
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

  /** A framework's folders once empty, unless it has a task (which may be creating them now). */
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
