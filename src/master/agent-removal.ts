// Removes an agent from the cluster for good (MARK_AGENT_GONE, a machine brought DOWN): its offers
// are rescinded, its tasks get a terminal update from the master, it leaves the allocator and the
// `agents` hash, its stream is closed and every framework gets FAILURE (Mesos' agent removal).
import { isTerminal, type TaskState } from '../mesos/task-status.ts';
import type { WriteOp } from '../store/store.ts';
import type { Master } from './master.ts';
import { errorEvent } from './mesos-json.ts';
import { hasCapability, type AgentLive, type TaskRecord } from './records.ts';

/** Departed agents remembered for accounting (its backfill reaches 6 h back; ~a day of scale-downs). */
export const MAX_DEPARTED_AGENTS = 1000;

export interface Removal {
  /** Terminal state for the tasks of frameworks without / with PARTITION_AWARE. */
  state: TaskState;
  partitionAwareState: TaskState;
  reason: string;
  message: string;
  /** Send FAILURE to every framework (default); not when forgetting an agent long unreachable: it was sent then. */
  announce?: boolean;
}

/** Returns the write ops; the caller adds its own, persists them, then calls `notify`. */
export function removeAgent(m: Master, a: AgentLive, how: Removal): { ops: WriteOp[]; notify: () => void } {
  const id = a.record.id;
  m.log.warn({ agentId: id, hostname: a.record.hostname }, how.message);
  m.metrics.agentsRemoved.inc();
  for (const o of m.state.offersOfAgent(id)) m.rescind(o);
  // Accounting bills an agent up to when it left (and its provider's minimum): remembered as departed.
  const departed = { ...a.record, unreachableSince: a.record.unreachableSince ?? m.clock.now() };
  m.departedAgents = [departed, ...m.departedAgents].slice(0, MAX_DEPARTED_AGENTS);
  const ops: WriteOp[] = [
    { op: 'delete', hash: 'agents', id },
    { op: 'append', list: 'departed_agents', value: departed, max: MAX_DEPARTED_AGENTS },
  ];
  const touched: TaskRecord[] = [];
  for (const t of m.state.tasksOfAgent(id)) {
    if (isTerminal(t.state)) continue;
    const fw = m.state.frameworks.get(t.frameworkId);
    const state = fw && hasCapability(fw.record.info, 'PARTITION_AWARE') ? how.partitionAwareState : how.state;
    rechargeUnreachable(m, t);
    ops.push(...m.applyStatus(t, m.masterStatus(t, state, how.message, how.reason)));
    touched.push(t);
  }
  m.allocator.removeAgent(id);
  m.state.agents.delete(id);
  a.stream?.send(errorEvent(`removed: ${how.message}`));
  a.stream?.close();
  a.stream = undefined;
  const notify = (): void => {
    for (const t of touched) if (t.pending.length === 1) m.deliverHead(t);
    if (how.announce ?? true) for (const f of m.state.frameworks.values()) f.stream?.send({ type: 'FAILURE', failure: { agent_id: { value: id } } });
  };
  return { ops, notify };
}

/**
 * Before a terminal status for `t`: applyStatus hands a task's resources back when it stops
 * running, but an unreachable task's were handed back when it became unreachable, so they are
 * charged again first to keep the books even (DRF shares, quota, a role a framework is leaving).
 */
export function rechargeUnreachable(m: Master, t: TaskRecord): void {
  if (t.state === 'TASK_UNREACHABLE') m.allocator.allocate(t.frameworkId, t.role, t.agentId, t.resources);
}
