// The end of every fault test: compare what was launched, what Redis holds, what each agent's
// checkpoints say and what the framework received. Nothing may be lost (a launched task without a
// record, a durable status update the framework never got, an agent's real state the master
// disagrees with) or duplicated (two records of a task, an update recorded twice), and updates
// must have reached the framework in the order they were recorded.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isTerminal, type TaskState, type TaskStatus } from '../../src/mesos/task-status.ts';
import { newestCheckpoint } from '../../agents/recovery.ts';
import type { DurableState } from './ha-cluster.ts';
import type { LaunchingFramework } from './ha-framework.ts';

export interface AgentTask { state: TaskState; pgid?: number; workDir: string }

/** The agents' own view: each task's checkpointed state (tasks/<framework>/<task>.json). */
export function agentTruth(workDirs: string[], frameworkId: string): Map<string, AgentTask> {
  const out = new Map<string, AgentTask>();
  for (const dir of workDirs) {
    let files: string[] = [];
    try {
      files = readdirSync(join(dir, 'tasks', frameworkId));
    } catch {
      continue;
    }
    for (const f of files.filter((x) => x.endsWith('.json'))) {
      const path = join(dir, 'tasks', frameworkId, f);
      const found = newestCheckpoint([path, `${path}.1`].map((p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } }));
      if ('error' in found) throw new Error(`${path}: ${found.error.message}`);
      const cp = found.cp;
      if (out.has(cp.task.task_id.value)) throw new Error(`task ${cp.task.task_id.value} is checkpointed on two agents`);
      out.set(cp.task.task_id.value, { state: cp.state, pgid: cp.pgid, workDir: dir });
    }
  }
  return out;
}

interface TaskRecordLike { info: { task_id: { value: string } }; frameworkId: string; state: TaskState; statuses: TaskStatus[]; pending: TaskStatus[] }

export interface DurabilityReport {
  problems: string[];
  /** Final state per task, as Redis holds it. */
  states: Map<string, TaskState>;
  counts: Record<string, number>;
}

export function checkDurability(launched: readonly string[], fw: LaunchingFramework, state: DurableState, agentDirs: string[]): DurabilityReport {
  const fid = fw.frameworkId;
  const problems: string[] = [];
  const records = new Map<string, TaskRecordLike>();
  const add = (r: TaskRecordLike, where: string) => {
    const id = r.info.task_id.value;
    if (records.has(id)) problems.push(`task ${id}: a second record (${where})`);
    else records.set(id, r);
  };
  for (const [key, r] of Object.entries(state.tasks) as [string, TaskRecordLike][]) if (key.startsWith(`${fid}/`)) add(r, 'active');
  for (const r of state.completed as TaskRecordLike[]) if (r.frameworkId === fid) add(r, 'completed');
  const wanted = new Set(launched);
  for (const id of records.keys()) if (!wanted.has(id)) problems.push(`task ${id}: a record of a task never launched`);
  const truth = agentTruth(agentDirs, fid);
  const states = new Map<string, TaskState>();
  const counts: Record<string, number> = {};
  for (const id of launched) {
    const r = records.get(id);
    if (!r) {
      // An ACCEPT of offers the master no longer has (they died with the old leader's term) is
      // answered, as in Mesos, with an untracked TASK_LOST/TASK_DROPPED: no record, nothing ran.
      const refused = fw.received.some((s) => s.task_id.value === id && s.uuid === undefined && s.reason === 'REASON_INVALID_OFFERS');
      if (refused && !truth.has(id)) { counts.REFUSED_STALE_OFFER = (counts.REFUSED_STALE_OFFER ?? 0) + 1; continue; }
      problems.push(`task ${id}: launched, but Redis has no record of it`);
      continue;
    }
    states.set(id, r.state);
    counts[r.state] = (counts[r.state] ?? 0) + 1;
    const durable = r.statuses.filter((s) => s.uuid !== undefined).map((s) => s.uuid!);
    if (new Set(durable).size !== durable.length) problems.push(`task ${id}: an update recorded twice`);
    if (r.pending.length) problems.push(`task ${id}: ${r.pending.length} update(s) never acknowledged`);
    const got = fw.updatesOf(id).map((s) => s.uuid!);
    if (got.join() !== durable.join()) {
      problems.push(`task ${id}: the framework received ${fw.updatesOf(id).map((s) => s.state).join('→') || 'nothing'}, Redis recorded ${r.statuses.filter((s) => s.uuid).map((s) => s.state).join('→')}`);
    }
    const last = fw.lastState(id);
    if (last !== r.state) problems.push(`task ${id}: the framework's last state is ${last}, Redis says ${r.state}`);
    const onAgent = truth.get(id);
    if (onAgent) {
      if (onAgent.state !== r.state) problems.push(`task ${id}: the agent says ${onAgent.state}, Redis says ${r.state}`);
    } else if (!isTerminal(r.state) || !['TASK_LOST', 'TASK_DROPPED', 'TASK_ERROR', 'TASK_KILLED'].includes(r.state)) {
      problems.push(`task ${id}: no agent has it, yet Redis says ${r.state}`);
    }
  }
  return { problems, states, counts };
}

/** The durable records a fault must not touch: reservations, weights, quotas, policies, provisioning records. */
export function policyRecords(s: DurableState): object {
  const reservations = Object.fromEntries(Object.values(s.agents).map((a: { id: string; dynamicReservations?: unknown }) => [a.id, a.dynamicReservations ?? []]));
  return {
    reservations, weights: s.weights, quotas: s.quotas, policies: s.policies.map((p: { version: number; sha256: string }) => ({ version: p.version, sha256: p.sha256 })),
    provisioning: s.provisioning,
  };
}

interface Asserts { deepEqual(a: unknown, b: unknown, m?: string): void; is(a: unknown, b: unknown, m?: string): void; log(...v: unknown[]): void }

/**
 * The verdict of a fault test: Redis, the agents and the framework agree on every task ever
 * launched; no task whose launch was acknowledged (202) was lost; every one of `work` ended as
 * `expected` (through a relaunch if its first launch was lost before it was acknowledged).
 */
export function assertNothingLost(t: Asserts, fw: LaunchingFramework, state: DurableState, agentDirs: string[], work: readonly string[], expected: TaskState = 'TASK_FINISHED'): DurabilityReport {
  const report = checkDurability([...fw.launched], fw, state, agentDirs);
  t.deepEqual(report.problems, [], 'Redis, the agents and the framework agree on every task');
  const lostConfirmed = [...fw.confirmed].filter((id) => ['TASK_LOST', 'TASK_DROPPED'].includes(report.states.get(id) ?? ''));
  t.deepEqual(lostConfirmed, [], 'no task whose launch was acknowledged was lost');
  const ended = work.map((id) => report.states.get(fw.finalId(id)));
  t.is(ended.filter((s) => s === expected).length, work.length, `every task ended ${expected}: ${JSON.stringify(report.counts)}`);
  t.log(`final states of all ${fw.launched.size} launches: ${JSON.stringify(report.counts)}; relaunched after a loss before acknowledgement: ${fw.relaunchedAs.size}`);
  return report;
}
