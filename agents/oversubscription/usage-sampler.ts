// What a task actually uses, for the resource estimator and the QoS controller. `UsageSampler` is
// the seam tests replace; `ProcUsageSampler` is the real one: each task runs in its own process group
// (see executor/process-group.ts), so a task's usage is its group's.
//
// CPU is a rate, so it needs two samples: the sum over the group's live members of
// utime + stime + cutime + cstime (the last two hold the time of children the member has reaped, so
// a short-lived child's CPU moves into its parent's total instead of vanishing), differenced
// between this sample and the previous one, over the wall time between them, in cores. A task seen
// for the first time has no CPU figure yet. Memory is the group's resident set size, as the memory
// watcher measures it.
import { clockTicksPerSecond, groupsMembers, systemPageSize } from '../executor/process-group.ts';

export interface SampledTask {
  /** Stable id of the task for the sampler's bookkeeping (`<framework_id>/<task_id>`). */
  key: string;
  frameworkId: string;
  taskId: string;
  pgid: number;
}

export interface TaskUsage {
  /** Cores used since the previous sample; undefined when there is no previous sample yet. */
  cpus?: number;
  /** Resident memory in MB. */
  memMb: number;
}

export interface UsageSampler {
  /** Usage of each task by `key`; a task missing from the result could not be measured. */
  sample(tasks: readonly SampledTask[]): ReadonlyMap<string, TaskUsage> | Promise<ReadonlyMap<string, TaskUsage>>;
}

const MB = 1024 * 1024;

export class ProcUsageSampler implements UsageSampler {
  private previous = new Map<string, { pgid: number; ticks: number; atNs: bigint }>();

  constructor(private readonly nowNs: () => bigint = () => process.hrtime.bigint()) {}

  sample(tasks: readonly SampledTask[]): ReadonlyMap<string, TaskUsage> {
    const groups = groupsMembers(new Set(tasks.map((t) => t.pgid)));
    const now = this.nowNs();
    const hz = clockTicksPerSecond();
    const page = systemPageSize();
    const out = new Map<string, TaskUsage>();
    const next = new Map<string, { pgid: number; ticks: number; atNs: bigint }>();
    for (const t of tasks) {
      const members = groups.get(t.pgid);
      if (!members?.length) continue;
      let ticks = 0;
      let pages = 0;
      for (const m of members) {
        ticks += m.utime + m.stime + m.cutime + m.cstime;
        pages += m.rssPages;
      }
      const prev = this.previous.get(t.key);
      const seconds = prev ? Number(now - prev.atNs) / 1e9 : 0;
      // Totals can drop (a member reaped by a process outside the group): count that as no usage.
      const cpus = prev && prev.pgid === t.pgid && seconds > 0 ? Math.max(0, ticks - prev.ticks) / hz / seconds : undefined;
      out.set(t.key, { ...(cpus !== undefined ? { cpus } : {}), memMb: (pages * page) / MB });
      next.set(t.key, { pgid: t.pgid, ticks, atNs: now });
    }
    this.previous = next; // tasks gone since the last sample are forgotten
    return out;
  }
}
