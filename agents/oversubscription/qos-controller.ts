// The QoS controller of Mesos oversubscription: revocable tasks run on slack that non-revocable
// tasks may want back at any moment, so when the host shows interference the agent kills revocable
// tasks, newest first, until the reason is gone. Non-revocable tasks are never touched. Reasons,
// checked in this order each interval:
//
// 1. Slack shrank: the latest estimate is below what running revocable tasks hold (their resources
//    marked revocable), for cpus or mem. Kill until the holdings fit the estimate; a task that holds
//    none of the short resource is skipped. (The master does the same when it receives the smaller
//    estimate; whichever KILL comes second finds the task already ending.)
// 2. Host load: the 1-minute load average per cpu is above `loadThreshold`. Each kill is assumed to
//    take the task's measured CPU use off the load, so only as many tasks go as the excess needs.
//    The load average lags (it is a 1-minute exponential average), so the CPU use of tasks killed in
//    recent intervals is discounted from the load the same way it decays: cores × e^(−elapsed/60 s).
//    Without this, one overloaded minute would take every revocable task with it.
// 3. Memory: non-revocable tasks use more memory than they were allocated (only tasks that asked
//    for mem count). Each kill frees the task's resident memory; tasks already being killed count
//    as freeing theirs.
//
// Tasks already being killed (by the framework, by an earlier correction, by shutdown) are neither
// candidates nor counted as holding slack. A preempted task ends TASK_KILLED, SOURCE_AGENT,
// REASON_EXECUTOR_PREEMPTED, with a message naming the reason.
import type { TaskInfo } from '../../src/mesos/scheduler-call.ts';
import type { HostLoad } from './load-probe.ts';
import { isRevocable, roundCpus, taskAllocation, type CpuMem, type SlackEstimate } from './slack-estimator.ts';
import type { TaskUsage } from './usage-sampler.ts';

export const DEFAULT_LOAD_THRESHOLD = 0.9;
/** Time constant of Linux's 1-minute load average. */
const LOAD_AVERAGE_TAU_MS = 60_000;

export interface QosTask {
  frameworkId: string;
  taskId: string;
  task: TaskInfo;
  startTicks?: number;
  seq: number;
  killing: boolean;
  usage?: TaskUsage;
}

export interface QosInput {
  tasks: readonly QosTask[];
  /** The estimate made this interval; undefined skips the slack check. */
  estimate?: SlackEstimate;
  /** undefined when the probe could not read the load: no load check. */
  load?: HostLoad;
}

export interface Correction {
  frameworkId: string;
  taskId: string;
  message: string;
}

export interface QosOptions {
  loadThreshold?: number;
  now?: () => number;
}

/** Newest first: by the group leader's start time, then by the order the agent tracked them. */
function newestFirst(a: QosTask, b: QosTask): number {
  const byStart = (b.startTicks ?? 0) - (a.startTicks ?? 0);
  return byStart !== 0 ? byStart : b.seq - a.seq;
}

export const formatCpus = (v: number): string => {
  const r = roundCpus(v);
  return Number.isInteger(r * 10) ? r.toFixed(1) : r.toFixed(2);
};
const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export class QosController {
  readonly loadThreshold: number;
  private readonly now: () => number;
  /** CPU use of tasks this controller killed, to discount from the lagging load average. */
  private recentKills: { at: number; cores: number }[] = [];

  constructor(opts: QosOptions = {}) {
    this.loadThreshold = opts.loadThreshold ?? DEFAULT_LOAD_THRESHOLD;
    this.now = opts.now ?? Date.now;
  }

  corrections(input: QosInput): Correction[] {
    const now = this.now();
    this.recentKills = this.recentKills.filter((k) => now - k.at < 5 * LOAD_AVERAGE_TAU_MS);
    const revocable = input.tasks.filter((t) => isRevocable(t.task));
    const candidates = revocable.filter((t) => !t.killing).sort(newestFirst);
    if (candidates.length === 0) return [];
    const out: Correction[] = [];
    const kill = (t: QosTask, message: string): void => {
      out.push({ frameworkId: t.frameworkId, taskId: t.taskId, message });
      this.recentKills.push({ at: now, cores: t.usage?.cpus ?? 0 });
      candidates.splice(candidates.indexOf(t), 1);
    };

    // 1. Slack shrank below the revocable holdings.
    if (input.estimate) {
      const est = input.estimate;
      const held: CpuMem = { cpus: 0, mem: 0 };
      for (const t of candidates) {
        const a = taskAllocation(t.task, true);
        held.cpus += a.cpus;
        held.mem += a.mem;
      }
      const short = (h: CpuMem): (keyof CpuMem)[] =>
        (['cpus', 'mem'] as const).filter((r) => round3(h[r]) > est[r]);
      const initially = short(held);
      if (initially.length > 0) {
        const describe = (v: CpuMem): string => initially.map((r) => (r === 'cpus' ? `cpus ${formatCpus(v.cpus)}` : `mem ${Math.round(v.mem)} MB`)).join(' and ');
        const message = `Revocable task preempted: slack shrank to ${describe(est)}, revocable tasks hold ${describe(held)}`;
        for (const t of [...candidates]) {
          const missing = short(held);
          if (missing.length === 0) break;
          const a = taskAllocation(t.task, true);
          if (!missing.some((r) => a[r] > 0)) continue; // gives back nothing that is short
          kill(t, message);
          held.cpus -= a.cpus;
          held.mem -= a.mem;
        }
      }
    }

    // 2. Host load above the threshold.
    if (input.load && input.load.cpus > 0 && candidates.length > 0) {
      const { load1, cpus } = input.load;
      const fading = this.recentKills.reduce((sum, k) => sum + k.cores * Math.exp(-(now - k.at) / LOAD_AVERAGE_TAU_MS), 0);
      let projected = load1 - fading;
      if (projected / cpus > this.loadThreshold) {
        const message = `Revocable task preempted: host load ${(load1 / cpus).toFixed(2)} per cpu is above ${this.loadThreshold.toFixed(2)}`;
        for (const t of [...candidates]) {
          if (projected / cpus <= this.loadThreshold) break;
          kill(t, message);
          projected -= t.usage?.cpus ?? 0;
        }
      }
    }

    // 3. Non-revocable tasks over their memory allocation.
    if (candidates.length > 0) {
      let used = 0;
      let allocated = 0;
      for (const t of input.tasks) {
        if (isRevocable(t.task) || t.usage === undefined) continue;
        const mem = taskAllocation(t.task).mem;
        if (mem > 0 && t.usage.memMb > mem) {
          used += t.usage.memMb;
          allocated += mem;
        }
      }
      let freed = revocable.filter((t) => t.killing || !candidates.includes(t)).reduce((sum, t) => sum + (t.usage?.memMb ?? 0), 0);
      if (used - allocated > freed) {
        const message = `Revocable task preempted: non-revocable tasks use ${Math.round(used)} MB of memory, above their allocation of ${Math.round(allocated)} MB`;
        for (const t of [...candidates]) {
          if (used - allocated <= freed) break;
          kill(t, message);
          freed += t.usage?.memMb ?? 0;
        }
      }
    }
    return out;
  }
}
