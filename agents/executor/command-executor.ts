// Runs one TaskInfo command the way Mesos' command executor does, minus the separate executor
// process: the agent's launcher (launcher.ts) starts the command in its own process group, and
// the executor turns its life into status updates: STARTING → RUNNING → FINISHED | FAILED | KILLED.
// A task can also be *recovered* after an agent restart (or when the launcher died): then there is
// only a pgid to poll, and the exit status comes from the sandbox's .exit_status file.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TaskInfo } from '../../src/mesos/scheduler-call.ts';
import { isTerminal, type StatusSource, type TaskState } from '../../src/mesos/task-status.ts';
import { MemoryWatcher, type MemoryExceeded } from './memory-watcher.ts';
import { isGroupAlive, readProcStat, signalGroup } from './process-group.ts';
import { taskEnvironment, taskMemMb, taskVariables } from './task-environment.ts';
import { HealthChecker } from './health-checker.ts';
import { terminalUpdate } from './terminal-update.ts';
import { EXIT_STATUS_FILE, PID_FILE, commandArgv, fromShellStatus, hasExitStatus, readExitStatus, readPid, type ExitInfo } from './exit-status.ts';
import type { Clock } from '../../src/common/clock.ts';
import type { Launcher } from './launcher.ts';

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
  /** A KILL under way: SIGTERM was sent, SIGKILL is due at this time (ms, the agent's clock). */
  kill_deadline?: number;
}

export interface ExecutorUpdate {
  state: TaskState;
  source: StatusSource;
  message?: string;
  reason?: string;
  /** The task's health, once its health check has a result (TaskStatus.healthy). */
  healthy?: boolean;
}

export interface ExecutorDeps {
  frameworkId: string;
  task: TaskInfo;
  agentId: string;
  workDir: string;
  host: string;
  defaultGraceMs: number;
  logger: Logger;
  /** The agent's task launcher (a live one: the agent replaces a launcher that died). */
  launcher(): Launcher;
  /** Journals the update; resolves once it is durable. */
  onUpdate(update: ExecutorUpdate): Promise<void>;
  onCheckpoint(cp: TaskCheckpoint): Promise<void>;
  clock: Clock;
}

const RECOVERED_POLL_MS = 500;

export const sandboxPath = (workDir: string, frameworkId: string, taskId: string): string =>
  join(workDir, 'sandboxes', frameworkId, taskId);

export class CommandExecutor {
  private current: TaskState = 'TASK_STAGING';
  private pgid: number | undefined;
  private startTime: number | undefined;
  private killRequested = false;
  private pendingKillGraceMs: number | undefined;
  private preemption: string | undefined;
  private memoryExceeded: MemoryExceeded | undefined;
  private memoryWatcher: MemoryWatcher | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private killDeadline: number | undefined;
  private health: HealthChecker | undefined;
  /** Why the health check had the task killed. */
  private unhealthy: string | undefined;
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
      const created = await mkdir(this.sandbox, { recursive: true });
      // A sandbox that existed holds an earlier run's status and pid: they are not this run's.
      if (created === undefined) await Promise.all([EXIT_STATUS_FILE, PID_FILE].map((f) => rm(join(this.sandbox, f), { force: true })));
    } catch (err) {
      this.report({ state: 'TASK_FAILED', source: 'SOURCE_AGENT', message: `Failed to create sandbox: ${(err as Error).message}` });
      return;
    }
    this.report({ state: 'TASK_STARTING', source: 'SOURCE_EXECUTOR' });
    if (this.killRequested) {
      this.report({ state: 'TASK_KILLED', source: 'SOURCE_EXECUTOR', message: 'Task killed before it started' });
      return;
    }
    const ended = new Promise<{ exit: ExitInfo; error?: string }>((resolve) => {
      this.deps.launcher().launch({
        sandbox: this.sandbox,
        variables: taskVariables({ ...this.deps, sandbox: this.sandbox }),
        argv: commandArgv(this.deps.task.command ?? {}),
      }, {
        onStarted: (pid) => {
          this.attach(pid, readProcStat(pid)?.startTime);
          this.checkpoint();
          this.report({ state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
          if (this.killRequested) this.signalKill(undefined); // a KILL that came while it was starting
          else this.startHealthCheck(this.deps.clock.now());
        },
        onExited: (status) => resolve({ exit: fromShellStatus(status) }),
        onFailed: (reason) => resolve({ exit: { kind: 'unknown' }, error: `Failed to launch: ${reason}` }),
        onLauncherGone: () => void this.watchWithoutLauncher().then(resolve),
      });
    });
    const { exit, error } = await ended;
    await this.finish(exit, error);
  }

  /** The launcher died while the task ran (or was starting): learn its end from /proc and the sandbox. */
  private async watchWithoutLauncher(): Promise<{ exit: ExitInfo; error?: string }> {
    if (this.detached) return { exit: { kind: 'unknown' } };
    if (this.pgid === undefined) {
      const pid = await readPid(this.sandbox);
      if (pid === undefined) return { exit: await readExitStatus(this.sandbox), error: 'The task launcher died before the task started' };
      this.attach(pid, readProcStat(pid)?.startTime);
      this.checkpoint();
      this.report({ state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR' });
    }
    await this.untilGroupGone(this.pgid!, this.startTime);
    return { exit: await readExitStatus(this.sandbox) };
  }

  /**
   * Until the task ended, without the launcher that started it: its group is gone, or the command
   * exited (the old launcher's waiter wrote .exit_status) while something it left behind lives on —
   * which finish() then kills, as it does after a normal exit.
   */
  private untilGroupGone(pgid: number, startTime: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.detached || !isGroupAlive(pgid, startTime) || hasExitStatus(this.sandbox)) {
          clearInterval(this.pollTimer);
          resolve();
        }
      };
      this.pollTimer = setInterval(check, RECOVERED_POLL_MS);
      this.pollTimer.unref();
      check();
    });
  }

  /** Takes over a task checkpointed by an earlier agent process. */
  async recover(cp: TaskCheckpoint): Promise<void> {
    this.current = cp.state;
    let pgid = cp.pgid;
    let startTime = cp.start_time;
    if (pgid === undefined) {
      // Checkpointed as STARTING: the launcher may have started it just before the agent died.
      const pid = await readPid(this.sandbox);
      const info = pid !== undefined ? readProcStat(pid) : undefined;
      if (info && info.pgrp === pid) {
        pgid = pid;
        startTime = info.startTime;
      }
    }
    if (cp.kill_deadline !== undefined) this.killRequested = true; // its end is a kill's end
    if (pgid === undefined || !isGroupAlive(pgid, startTime)) {
      await this.finish(await readExitStatus(this.sandbox));
      return;
    }
    // Alive means it was started: a checkpoint may still say STARTING if the agent died right after.
    this.current = 'TASK_RUNNING';
    this.attach(pgid, startTime);
    if (cp.kill_deadline !== undefined) {
      // A KILL was under way when the last agent stopped: it still ends TASK_KILLED, and the
      // SIGKILL comes when the grace it was given runs out.
      this.killRequested = true;
      this.killDeadline = cp.kill_deadline;
      this.escalateAt(cp.kill_deadline);
    } else {
      this.startHealthCheck(0); // started long enough ago: no grace period again
    }
    if (cp.pgid === undefined) this.checkpoint();
    void this.untilGroupGone(pgid, startTime).then(async () => {
      if (!this.detached) await this.finish(await readExitStatus(this.sandbox));
    });
  }

  /** SIGTERM to the group, SIGKILL after the grace period (KILL event > kill_policy > agent default). */
  kill(graceMs?: number): void {
    if (isTerminal(this.current) || this.killRequested) return;
    this.killRequested = true;
    this.health?.stop();
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
    // Checkpointed: an agent restarted within the grace period carries the kill on (recover).
    this.killDeadline = this.deps.clock.now() + grace;
    this.checkpoint();
    this.escalateAt(this.killDeadline);
  }

  /** SIGKILL to the group at `deadline` (now, if it passed). */
  private escalateAt(deadline: number): void {
    clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => { if (this.pgid !== undefined) signalGroup(this.pgid, 'SIGKILL'); }, Math.max(0, deadline - this.deps.clock.now()));
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
    this.finished();
  }

  /** Runs the task's health check, if it has one, reporting its health with TASK_RUNNING updates. */
  private startHealthCheck(startedAt: number): void {
    const check = this.deps.task.health_check;
    if (!check) return;
    this.health = new HealthChecker({
      check, clock: this.deps.clock, startedAt, cwd: this.sandbox, logger: this.deps.logger,
      env: taskEnvironment({ ...this.deps, sandbox: this.sandbox }),
      onHealth: (healthy, detail) => {
        if (isTerminal(this.current) || this.killRequested) return;
        this.deps.logger.info({ taskId: this.deps.task.task_id.value, healthy, detail }, 'task health changed');
        this.report({ state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', healthy, reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED', ...(healthy ? {} : { message: detail }) });
      },
      onFailedTooOften: (detail) => {
        if (isTerminal(this.current) || this.killRequested) return;
        this.unhealthy = detail;
        this.kill();
      },
    });
    this.health.start();
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
    this.report(terminalUpdate(exit, { launchError, memoryExceeded: this.memoryExceeded, preempted: this.preemption, unhealthy: this.unhealthy, killRequested: this.killRequested }));
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
      ...(this.killDeadline !== undefined ? { kill_deadline: this.killDeadline } : {}),
    };
  }

  private stopTimers(): void {
    this.memoryWatcher?.stop();
    this.health?.stop();
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
  }
}
