// How a task's end becomes its terminal status, in order of precedence: the agent could not start
// it; the memory watcher killed it; the QoS controller preempted it (a revocable task); its health
// check failed too often; a KILL was requested (whatever the exit looked like); then the command's
// own exit. Messages follow Mesos' command executor.
import type { ExecutorUpdate } from './command-executor.ts';
import type { MemoryExceeded } from './memory-watcher.ts';
import { describeExit, type ExitInfo } from './exit-status.ts';

export interface EndContext {
  launchError?: string;
  memoryExceeded?: MemoryExceeded;
  /** Set when the agent's QoS controller killed the task: the message says why. */
  preempted?: string;
  /** Set when the task's health check failed too often and had it killed: why. */
  unhealthy?: string;
  killRequested: boolean;
}

export function terminalUpdate(exit: ExitInfo, ctx: EndContext): ExecutorUpdate {
  if (ctx.launchError) return { state: 'TASK_FAILED', source: 'SOURCE_AGENT', message: ctx.launchError };
  if (ctx.memoryExceeded) {
    const { limitMb, usedMb } = ctx.memoryExceeded;
    return {
      state: 'TASK_FAILED', source: 'SOURCE_AGENT', reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      message: `Memory limit exceeded: requested ${limitMb} MB, used ${usedMb} MB`,
    };
  }
  if (ctx.preempted !== undefined) {
    return { state: 'TASK_KILLED', source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_PREEMPTED', message: ctx.preempted };
  }
  if (ctx.unhealthy !== undefined) return { state: 'TASK_KILLED', source: 'SOURCE_EXECUTOR', healthy: false, message: `Task killed after ${ctx.unhealthy}` };
  if (ctx.killRequested) return { state: 'TASK_KILLED', source: 'SOURCE_EXECUTOR', message: describeExit(exit) };
  if (exit.kind === 'exited' && exit.status === 0) return { state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR', message: describeExit(exit) };
  // No status on disk and no child handle: the group vanished (SIGKILLed, OOM-killed) while we were away.
  if (exit.kind === 'unknown') return { state: 'TASK_FAILED', source: 'SOURCE_AGENT', message: 'Task process is gone; exit status unknown' };
  return { state: 'TASK_FAILED', source: 'SOURCE_EXECUTOR', message: describeExit(exit) };
}
