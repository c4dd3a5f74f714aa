// The resource estimator of Mesos oversubscription (docs/oversubscription.md in Mesos): how much of
// what non-revocable tasks were allocated they leave unused, which the master may offer again as
// *revocable* resources to frameworks with the REVOCABLE_RESOURCES capability.
//
// For cpus and mem:
//   slack = Σ over running non-revocable tasks of (allocated − used)  −  safetyMargin × Σ allocated
// floored at 0, cpus rounded to 0.01, mem to whole MB. The margin keeps a share of every allocation
// as headroom for the owner's next burst; a task using more than it was allocated (CPU is not
// capped without cgroups) eats into the others' slack. A task whose CPU use is not known yet (it was
// seen for the first time: a rate needs two samples) counts as using all its cpus. Revocable tasks
// are not a source of slack: they run *on* it. The estimate is the total revocable amount of the
// agent, including what revocable tasks already hold (Mesos' `oversubscribed_resources`).
import type { TaskInfo } from '../../src/mesos/scheduler-call.ts';
import type { TaskUsage } from './usage-sampler.ts';

export interface CpuMem {
  cpus: number;
  /** MB */
  mem: number;
}

export type SlackEstimate = CpuMem;

export const DEFAULT_SAFETY_MARGIN = 0.1;

/** Mesos: if any resource of a task is revocable, the whole task is (and may be preempted). */
export const isRevocable = (task: TaskInfo): boolean => task.resources.some((r) => r.revocable !== undefined);

/** The task's cpus and mem, summed over roles; `revocableOnly` counts resources marked revocable. */
export function taskAllocation(task: TaskInfo, revocableOnly = false): CpuMem {
  const out = { cpus: 0, mem: 0 };
  for (const r of task.resources) {
    if (revocableOnly && r.revocable === undefined) continue;
    if ((r.name === 'cpus' || r.name === 'mem') && r.scalar && Number.isFinite(r.scalar.value)) out[r.name] += r.scalar.value;
  }
  return out;
}

export interface EstimatorInput {
  task: TaskInfo;
  /** Absent: not measured at all (counts as fully used). */
  usage?: TaskUsage;
}

export const roundCpus = (v: number): number => Math.round(v * 100) / 100;

/** The slack of the given tasks (revocable ones are skipped). */
export function estimateSlack(tasks: readonly EstimatorInput[], safetyMargin: number = DEFAULT_SAFETY_MARGIN): SlackEstimate {
  let allocCpus = 0;
  let allocMem = 0;
  let usedCpus = 0;
  let usedMem = 0;
  for (const { task, usage } of tasks) {
    if (isRevocable(task)) continue;
    const alloc = taskAllocation(task);
    allocCpus += alloc.cpus;
    allocMem += alloc.mem;
    usedCpus += usage?.cpus ?? alloc.cpus;
    usedMem += usage?.memMb ?? alloc.mem;
  }
  const cpus = allocCpus - usedCpus - safetyMargin * allocCpus;
  const mem = allocMem - usedMem - safetyMargin * allocMem;
  return { cpus: Math.max(0, roundCpus(cpus)), mem: Math.max(0, Math.round(mem)) };
}

export const sameEstimate = (a: SlackEstimate | undefined, b: SlackEstimate | undefined): boolean =>
  a !== undefined && b !== undefined && a.cpus === b.cpus && a.mem === b.mem;

/** Mesos Resource JSON for UPDATE_OVERSUBSCRIBED: every entry `revocable`, zero amounts left out. */
export function oversubscribedResources(e: SlackEstimate): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (e.cpus > 0) out.push({ name: 'cpus', type: 'SCALAR', scalar: { value: e.cpus }, revocable: {} });
  if (e.mem > 0) out.push({ name: 'mem', type: 'SCALAR', scalar: { value: e.mem }, revocable: {} });
  return out;
}
