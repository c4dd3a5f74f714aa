// Runs one TaskInfo command the way Mesos' command executor does, minus the separate executor
// process: the agent spawns the wrapper shell directly, in its own process group, and turns its
// life into status updates: STARTING → RUNNING → FINISHED | FAILED | KILLED. A task can also be
// *recovered* after an agent restart: then there is no child handle, only a pgid to poll, and the
// exit status comes from the sandbox's .exit_status file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TaskInfo } from '../../src/mesos/scheduler-call.ts';
import { isTerminal, type StatusSource, type TaskState } from '../../src/mesos/task-status.ts';
import { MemoryWatcher, type MemoryExceeded } from './memory-watcher.ts';
import { isGroupAlive, readProcStat, signalGroup } from './process-group.ts';
import { taskEnvironment, taskMemMb } from './task-environment.ts';
import { terminalUpdate } from './terminal-update.ts';
import { EXIT_STATUS_FILE, fromWrapperExit, readExitStatus, wrapperArgv, type ExitInfo } from './wrapper.ts';

/** What the agent keeps on disk per task (see recovery.ts). */
export interface TaskCheckpoint {
  framework_id: string;
  task: TaskInfo;
  sandbox: string;
  state: TaskState;
  pid?: number;
  pgid?: number;
  /** The group leader's /proc start time, to tell our process from a later one with the same pid. */
  start_time?: number;
}

export interface ExecutorUpdate {
  state: TaskState;
  source: StatusSource;
  message?: string;
  reason?: string;
}

export interface ExecutorDeps {
  frameworkId: string;
  task: TaskInfo;
  agentId: string;
  workDir: string;
  host: string;
  defaultGraceMs: number;
  logger: Logger;
  /** Journals the update; resolves once it is durable. */
  onUpdate(update: ExecutorUpdate): Promise<void>;
  onCheckpoint(cp: TaskCheckpoint): Promise<void>;
}

const RECOVERED_POLL_MS = 500;

export const sandboxPath = (workDir: string, frameworkId: string, taskId: string): string =>
  join(workDir, 'sandboxes', frameworkId, taskId);

export class CommandExecutor {
  private current: TaskState = 'TASK_STAGING';
  private pgid: number | undefined;
  private startTime: number | undefined;
  private child: ChildProcess | undefined;
  private killRequested = false;
  private pendingKillGraceMs: number | undefined;
  private preemption: string | undefined;
  private memoryExceeded: MemoryExceeded | undefined;
  private memoryWatcher: MemoryWatcher | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private detached = false;
  /** Updates and checkpoints go through one chain so they reach disk in the order they happened. */
  private chain: Promise<void> = Promise.resolve();
  private finished!: () => void;
  /** Resolves once the terminal update is journaled (or the executor was detached). */
  readonly done = new Promise<void>((resolve) => { this.finished = resolve; });
  readonly sandbox: string;

  constructor(private readonly deps: ExecutorDeps) {
    this.sandbox = sandboxPath(deps.workDir, deps.frameworkId, deps.task.task_id.value);
  }

  get state(): TaskState {
    return this.current;
  }

  get processGroup(): number | undefined {
    return this.pgid;
  }

  get task(): TaskInfo {
    return this.deps.task;
  }

  /** The group leader's start time in clock ticks since boot (orders tasks by when they started). */
  get startTicks(): number | undefined {
    return this.startTime;
  }

  /** Whether a kill (by the framework, the QoS controller or shutdown) is under way. */
  get killing(): boolean {
    return this.killRequested;
  }

  /** Starts a fresh run of the task. */
  async launch(): Promise<void> {
    try {
      await mkdir(this.sandbox, { recursive: true });
      await rm(join(this.sandbox, EXIT_STATUS_FILE), { force: true }); // a stale status from an earlier run
    } catch (err) {
      this.report({ state: 'TASK_FAILED', source: 'SOURCE_AGENT', message: `Failed to create sandbox: ${(err as Error).message}` });
      return;
    }
    this.report({ state: 'TASK_STARTING', source: 'SOURCE_EXECUTOR' });
    if (this.killRequested) {
      this.report({ state: 'TASK_KILLED', source: 'SOURCE_EXECUTOR', message: 'Task killed before it started' });
      return;
    }
    let child: ChildProcess;
    let exited: Promise<{ exit: ExitInfo; error?: string }>;
    let startTime: number | undefined;
    try {
      const stdout = await open(join(this.sandbox, 'stdout'), 'w');
      const stderr = await open(join(this.sandbox, 'stderr'), 'w').catch(async (err: unknown) => { await stdout.close(); throw err; });
      try {
        // detached: setsid() — the wrapper leads a new process group (pgid = its pid) and session,
        // so signals to the group reach every process of the task and none of the agent's.
        child = spawn('/bin/sh', wrapperArgv(this.deps.task.command ?? {}, this.sandbox), {
          cwd: this.sandbox,
          env: taskEnvironment({ ...this.deps, sandbox: this.sandbox }),
          detached: true,
          stdio: ['ignore', stdout.fd, stderr.fd],
        });
        // Listen before any await: a quick command may be gone by the time the files are closed.
        exited = new Promise((resolve) => {
          child.once('error', (err) => resolve({ exit: { kind: 'unknown' }, error: `Failed to launch: ${err.message}` }));
          child.once('exit', (code, signal) => resolve({ exit: fromWrapperExit(code, signal) }));
        });
        if (child.pid !== undefined) startTime = readProcStat(child.pid)?.startTime;
      } finally {
        await Promise.all([stdout.close(), stderr.close()]);
      }
    } catch (err) {
      await this.finish({ kind: 'unknown' }, `Failed to launch: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    if (child.pid !== undefined) {
      this.attach(child.pid, startTime);
      this.checkpoint();
      this.report({ state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
      if (this.killRequested) this.signalKill(undefined); // a KILL that came while we were spawning
    }
    const { exit, error } = await exited;
    await this.finish(exit, error);
  }

  /** Takes over a task checkpointed by an earlier agent process. */
  async recover(cp: TaskCheckpoint): Promise<void> {
    this.current = cp.state;
    if (cp.pgid === undefined || !isGroupAlive(cp.pgid, cp.start_time)) {
      await this.finish(await readExitStatus(this.sandbox));
      return;
    }
    // Alive means it was spawned: a checkpoint may still say STARTING if the agent died right after.
    this.current = 'TASK_RUNNING';
    this.attach(cp.pgid, cp.start_time);
    this.pollTimer = setInterval(() => {
      if (isGroupAlive(cp.pgid!, cp.start_time)) return;
      clearInterval(this.pollTimer);
      void readExitStatus(this.sandbox).then((exit) => this.finish(exit));
    }, RECOVERED_POLL_MS);
    this.pollTimer.unref();
  }

  /** SIGTERM to the group, SIGKILL after the grace period (KILL event > kill_policy > agent default). */
  kill(graceMs?: number): void {
    if (isTerminal(this.current) || this.killRequested) return;
    this.killRequested = true;
    if (this.pgid === undefined) {
      this.pendingKillGraceMs = graceMs; // not spawned yet: launch() sees the flag
      return;
    }
    this.signalKill(graceMs);
  }

  private signalKill(graceMs: number | undefined): void {
    if (this.pgid === undefined) return;
    graceMs ??= this.pendingKillGraceMs;
    const policyNs = this.deps.task.kill_policy?.grace_period?.nanoseconds;
    const grace = graceMs ?? (policyNs !== undefined ? policyNs / 1e6 : this.deps.defaultGraceMs);
    this.deps.logger.info({ taskId: this.deps.task.task_id.value, graceMs: grace }, 'killing task');
    signalGroup(this.pgid, 'SIGTERM');
    this.killTimer = setTimeout(() => { if (this.pgid !== undefined) signalGroup(this.pgid, 'SIGKILL'); }, grace);
    this.killTimer.unref();
  }

  /**
   * Kill by the QoS controller (a revocable task giving way): like `kill`, but the terminal update is
   * TASK_KILLED from SOURCE_AGENT with REASON_EXECUTOR_PREEMPTED and `message`. False when the task
   * is already ending (or being killed for another reason).
   */
  preempt(message: string): boolean {
    if (isTerminal(this.current) || this.killRequested) return false;
    this.preemption = message;
    this.kill();
    return true;
  }

  /** Immediate SIGKILL of the whole group (agent shutdown with killTasks); resolves when journaled. */
  destroy(): Promise<void> {
    if (isTerminal(this.current)) return this.done;
    this.killRequested = true;
    this.pendingKillGraceMs = 0; // in case it is still being spawned
    if (this.pgid !== undefined) signalGroup(this.pgid, 'SIGKILL');
    return this.done;
  }

  /** Resolves when every update and checkpoint issued so far is on disk. */
  flushed(): Promise<void> {
    return this.chain;
  }

  /** Stops watching without touching the processes: the task outlives this agent. */
  detach(): void {
    this.detached = true;
    this.stopTimers();
    this.child?.on('error', () => {});
    this.child?.unref();
    this.finished();
  }

  private attach(pgid: number, startTime: number | undefined): void {
    this.pgid = pgid;
    this.startTime = startTime;
    const limitMb = taskMemMb(this.deps.task);
    if (limitMb !== undefined) {
      this.memoryWatcher = new MemoryWatcher(pgid, limitMb, (e) => this.onMemoryExceeded(e));
      this.memoryWatcher.start();
    }
  }

  private onMemoryExceeded(e: MemoryExceeded): void {
    if (isTerminal(this.current) || this.pgid === undefined) return;
    this.deps.logger.warn({ taskId: this.deps.task.task_id.value, ...e }, 'task exceeded its memory limit');
    this.memoryExceeded = e;
    signalGroup(this.pgid, 'SIGKILL');
  }

  private finish(exit: ExitInfo, launchError?: string): Promise<void> {
    if (isTerminal(this.current) || this.detached) return this.chain;
    this.stopTimers();
    // The command is done; anything it left behind in its group goes with it, as when Mesos
    // destroys a finished container.
    if (this.pgid !== undefined) signalGroup(this.pgid, 'SIGKILL');
    this.report(terminalUpdate(exit, { launchError, memoryExceeded: this.memoryExceeded, preempted: this.preemption, killRequested: this.killRequested }));
    return this.chain;
  }

  /** Journals an update, then checkpoints the new state (in that order: see recovery.ts). */
  private report(update: ExecutorUpdate): void {
    this.current = update.state;
    const snapshot = this.snapshot();
    this.chain = this.chain
      .then(() => this.deps.onUpdate(update))
      .then(() => this.deps.onCheckpoint(snapshot))
      .catch((err: Error) => this.deps.logger.error({ err, taskId: this.deps.task.task_id.value }, 'failed to persist task state'));
    if (isTerminal(update.state)) void this.chain.then(() => this.finished());
  }

  private checkpoint(): void {
    const snapshot = this.snapshot();
    this.chain = this.chain.then(() => this.deps.onCheckpoint(snapshot))
      .catch((err: Error) => this.deps.logger.error({ err }, 'failed to checkpoint task'));
  }

  private snapshot(): TaskCheckpoint {
    return {
      framework_id: this.deps.frameworkId, task: this.deps.task, sandbox: this.sandbox, state: this.current,
      ...(this.pgid !== undefined ? { pid: this.pgid, pgid: this.pgid } : {}),
      ...(this.startTime !== undefined ? { start_time: this.startTime } : {}),
    };
  }

  private stopTimers(): void {
    this.memoryWatcher?.stop();
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
  }
}
