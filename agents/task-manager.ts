// The agent's tasks: turns LAUNCH and KILL events into command executors, builds and journals the
// status updates they produce, and recovers checkpointed tasks after a restart.
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../src/common/clock.ts';
import { describeZodError, TaskInfoSchema, type TaskInfo } from '../src/mesos/scheduler-call.ts';
import { isTerminal, newStatusUuid, type TaskState, type TaskStatus } from '../src/mesos/task-status.ts';
import { CommandExecutor, type ExecutorUpdate, type TaskCheckpoint } from './executor/command-executor.ts';
import { Launcher } from './executor/launcher.ts';
import { inheritedEnvironment } from './executor/task-environment.ts';
import { loadTaskCheckpoints, saveTaskCheckpoint } from './recovery.ts';
import type { StatusJournal } from './status-journal.ts';

export interface TaskManagerOptions {
  workDir: string;
  host: string;
  defaultGraceMs: number;
  logger: Logger;
  journal: StatusJournal;
  agentId(): string | undefined;
  /** Ended tasks remembered at most (default MAX_ENDED_TASKS). */
  maxEndedTasks?: number;
  /** Kill deadlines (default: the system clock). */
  clock?: Clock;
}

/** A task whose command runs now (for the oversubscription monitor). */
export interface RunningTask {
  frameworkId: string;
  taskId: string;
  task: TaskInfo;
  pgid: number;
  /** The group leader's start time in clock ticks since boot, when /proc told us. */
  startTicks?: number;
  /** Grows with every task the manager tracks: breaks ties between equal start times. */
  seq: number;
  /** A kill is already under way (by the framework, the QoS controller or shutdown). */
  killing: boolean;
}

export interface SubscribeTask {
  framework_id: { value: string };
  task_id: { value: string };
  state: TaskState;
}

const key = (frameworkId: string, taskId: string): string => `${frameworkId}/${taskId}`;
/** Ended tasks remembered at most (Mesos keeps a bounded number of completed executors too). */
export const MAX_ENDED_TASKS = 10_000;
/** Ids become path components: refuse anything that could climb out of the sandbox tree. */
const safeId = (id: string): boolean => id !== '.' && id !== '..' && !/[/\\\0]/.test(id) && id.length <= 255;

export class TaskManager {
  private readonly running = new Map<string, { frameworkId: string; taskId: string; executor: CommandExecutor; seq: number }>();
  private nextSeq = 0;
  /**
   * Tasks that reached a terminal state, so a late KILL is ignored rather than answered TASK_LOST;
   * oldest first. Entries go when their files are garbage collected, and beyond MAX_ENDED_TASKS
   * the oldest whose updates the master has taken go (tasks that never had files, e.g. TASK_ERROR).
   */
  private readonly ended = new Map<string, { frameworkId: string; taskId: string; state: TaskState }>();
  private currentLauncher: Launcher | undefined;

  constructor(private readonly opts: TaskManagerOptions) {}

  /** Re-attaches to checkpointed tasks whose process group lives; reports the others' real end. */
  async recover(): Promise<void> {
    const checkpoints = await loadTaskCheckpoints(this.opts.workDir, (path, err) =>
      this.opts.logger.warn({ path, err: err.message }, 'skipping unreadable task checkpoint'));
    for (const cp of checkpoints) {
      const taskId = cp.task.task_id.value;
      if (isTerminal(cp.state)) {
        this.remember(cp.framework_id, taskId, cp.state);
        continue;
      }
      const executor = this.track(cp.framework_id, cp.task);
      await executor.recover(cp);
      this.opts.logger.info({ taskId, frameworkId: cp.framework_id, state: executor.state }, 'recovered task');
    }
  }

  launch(frameworkId: string, rawTask: unknown): void {
    const parsed = TaskInfoSchema.safeParse(rawTask);
    const taskId = (rawTask as { task_id?: { value?: unknown } } | undefined)?.task_id?.value;
    if (!parsed.success || !safeId(frameworkId)) {
      this.opts.logger.warn({ frameworkId, taskId }, 'invalid LAUNCH');
      if (typeof taskId === 'string') this.agentUpdate(frameworkId, taskId, 'TASK_ERROR', parsed.success ? 'Invalid framework id' : describeZodError('Invalid TaskInfo', parsed.error));
      return;
    }
    const task = parsed.data;
    const id = task.task_id.value;
    const problem = !safeId(id) ? `Task id '${id}' cannot be used as a directory name`
      : task.executor ? 'Custom executors are not supported; use command tasks'
      : !task.command?.value ? 'Task has no command'
      : undefined;
    if (problem) return this.agentUpdate(frameworkId, id, 'TASK_ERROR', problem);
    if (this.running.has(key(frameworkId, id))) {
      this.opts.logger.info({ frameworkId, taskId: id }, 'ignoring duplicate LAUNCH');
      return;
    }
    this.ended.delete(key(frameworkId, id));
    this.opts.logger.info({ frameworkId, taskId: id }, 'launching task');
    void this.track(frameworkId, task).launch();
  }

  kill(frameworkId: string, taskId: string, graceMs?: number): void {
    const entry = this.running.get(key(frameworkId, taskId));
    if (entry) return entry.executor.kill(graceMs);
    if (this.ended.has(key(frameworkId, taskId))) return; // already terminal: nothing to say
    this.agentUpdate(frameworkId, taskId, 'TASK_LOST', 'Task unknown to the agent');
  }

  /** The task's sandbox and checkpoint must stay: it runs, or the master has not taken all its updates. */
  filesInUse(frameworkId: string, taskId: string): boolean {
    return this.running.has(key(frameworkId, taskId)) || this.opts.journal.hasUnacknowledged(frameworkId, taskId);
  }

  /** Whether any task of the framework runs (and may be creating its folders). */
  frameworkInUse(frameworkId: string): boolean {
    for (const e of this.running.values()) if (e.frameworkId === frameworkId) return true;
    return false;
  }

  /** A finished task's files were garbage collected: a late KILL of it is now answered TASK_LOST. */
  forget(frameworkId: string, taskId: string): void {
    if (!this.running.has(key(frameworkId, taskId))) this.ended.delete(key(frameworkId, taskId));
  }

  /** Tasks in TASK_RUNNING with a known process group. */
  runningTasks(): RunningTask[] {
    const out: RunningTask[] = [];
    for (const { frameworkId, taskId, executor, seq } of this.running.values()) {
      const pgid = executor.processGroup;
      if (executor.state !== 'TASK_RUNNING' || pgid === undefined) continue;
      out.push({
        frameworkId, taskId, task: executor.task, pgid, seq, killing: executor.killing,
        ...(executor.startTicks !== undefined ? { startTicks: executor.startTicks } : {}),
      });
    }
    return out;
  }

  /** QoS kill of a (revocable) task; false when it is not running or already being killed. */
  preempt(frameworkId: string, taskId: string, message: string): boolean {
    const entry = this.running.get(key(frameworkId, taskId));
    if (!entry) return false;
    this.opts.logger.warn({ frameworkId, taskId, reason: message }, 'preempting revocable task');
    return entry.executor.preempt(message);
  }

  /** For SUBSCRIBE: live tasks, plus ended ones whose terminal update the master has not taken yet. */
  subscribeTasks(): SubscribeTask[] {
    const out: SubscribeTask[] = [];
    for (const { frameworkId, taskId, executor } of this.running.values()) {
      out.push({ framework_id: { value: frameworkId }, task_id: { value: taskId }, state: executor.state });
    }
    const unacked = new Set(this.opts.journal.unacknowledged().map((u) => key(u.framework_id, u.status.task_id.value)));
    for (const [k, t] of this.ended) {
      if (unacked.has(k)) out.push({ framework_id: { value: t.frameworkId }, task_id: { value: t.taskId }, state: t.state });
    }
    return out;
  }

  /** Kills every task (SIGKILL, terminal updates journaled) or leaves them running for a later agent. */
  async stop(killTasks: boolean): Promise<void> {
    const executors = [...this.running.values()].map((e) => e.executor);
    if (killTasks) await Promise.race([Promise.all(executors.map((e) => e.destroy())), delay(5000)]);
    for (const e of executors) e.detach();
    await Promise.all(executors.map((e) => e.flushed()));
    await this.currentLauncher?.close();
  }

  /** The launcher new tasks start through; a new one if the last died (its tasks are watched via /proc). */
  private launcher(): Launcher {
    if (!this.currentLauncher?.alive) this.currentLauncher = new Launcher(inheritedEnvironment(), this.opts.logger);
    return this.currentLauncher;
  }

  private track(frameworkId: string, task: TaskInfo): CommandExecutor {
    const taskId = task.task_id.value;
    const k = key(frameworkId, taskId);
    const executor: CommandExecutor = new CommandExecutor({
      frameworkId, task, workDir: this.opts.workDir, host: this.opts.host, defaultGraceMs: this.opts.defaultGraceMs,
      agentId: this.opts.agentId() ?? '', logger: this.opts.logger.child({ taskId, frameworkId }), launcher: () => this.launcher(),
      onUpdate: (u) => this.record(frameworkId, taskId, u),
      onCheckpoint: (cp: TaskCheckpoint) => saveTaskCheckpoint(this.opts.workDir, cp),
      clock: this.opts.clock ?? systemClock,
    });
    this.running.set(k, { frameworkId, taskId, executor, seq: this.nextSeq++ });
    void executor.done.then(() => {
      if (!isTerminal(executor.state) || this.running.get(k)?.executor !== executor) return;
      this.running.delete(k);
      this.remember(frameworkId, taskId, executor.state);
    });
    return executor;
  }

  private record(frameworkId: string, taskId: string, u: ExecutorUpdate): Promise<void> {
    const agentId = this.opts.agentId();
    const status: TaskStatus = {
      task_id: { value: taskId },
      state: u.state,
      source: u.source,
      ...(u.message !== undefined ? { message: u.message } : {}),
      ...(u.reason !== undefined ? { reason: u.reason } : {}),
      ...(u.healthy !== undefined ? { healthy: u.healthy } : {}),
      ...(agentId ? { agent_id: { value: agentId } } : {}),
      executor_id: { value: taskId },
      timestamp: Date.now() / 1000,
      uuid: newStatusUuid(),
    };
    this.opts.logger.info({ frameworkId, taskId, state: u.state, message: u.message }, 'task status');
    return this.opts.journal.record({ framework_id: frameworkId, status });
  }

  private remember(frameworkId: string, taskId: string, state: TaskState): void {
    const k = key(frameworkId, taskId);
    this.ended.delete(k); // re-inserted as the newest
    this.ended.set(k, { frameworkId, taskId, state });
    const max = this.opts.maxEndedTasks ?? MAX_ENDED_TASKS;
    if (this.ended.size <= max) return;
    for (const [old, t] of this.ended) {
      if (this.ended.size <= max) break;
      if (!this.opts.journal.hasUnacknowledged(t.frameworkId, t.taskId)) this.ended.delete(old);
    }
  }

  /** How many ended tasks are remembered (for tests). */
  get endedCount(): number {
    return this.ended.size;
  }

  /** An update the agent makes about a task it does not run (no executor involved). */
  private agentUpdate(frameworkId: string, taskId: string, state: TaskState, message: string): void {
    if (isTerminal(state) && safeId(frameworkId) && safeId(taskId) && state !== 'TASK_LOST') {
      this.remember(frameworkId, taskId, state);
    }
    this.record(frameworkId, taskId, { state, source: 'SOURCE_AGENT', message })
      .catch((err: Error) => this.opts.logger.error({ err }, 'failed to journal status update'));
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
