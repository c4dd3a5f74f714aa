// Agent draining and deactivation as in Mesos ≥ 1.9 (docs/maintenance.md, "Automatic Node
// Draining"): DEACTIVATE_AGENT stops offers for an agent; DRAIN_AGENT deactivates it and kills its
// tasks at once, each with its kill-policy grace capped by `max_grace_period`; once every task is
// terminal and acknowledged the agent is DRAINED and, with `mark_gone`, marked gone.
// REACTIVATE_AGENT resumes offers (not while DRAINING). Everything is written through the master's
// fenced `persist` before it takes effect, and recovered after a restart.
import { isTerminal, DEFAULT_KILL_GRACE_MS, type TaskStatus } from '../mesos/task-status.ts';
import type { WriteOp } from '../store/store.ts';
import { removeAgent } from './agent-removal.ts';
import type { Master } from './master.ts';
import { nanos } from './mesos-json.ts';
import type { TaskRecord } from './records.ts';

export type DrainState = 'DRAINING' | 'DRAINED';

/** Time a task's SIGKILL needs after its grace: drains for an interruption end this long before it. */
export const INTERRUPTION_KILL_MARGIN_MS = 5000;

/** The grace a drain for an interruption at `deadlineMs` can give tasks (at most `maxMs`). */
export function graceBeforeDeadlineMs(deadlineMs: number, now: number, maxMs = Infinity): number {
  return Math.max(0, Math.min(maxMs, deadlineMs - now - INTERRUPTION_KILL_MARGIN_MS));
}

/** Mesos' DrainConfig, as it appears in `drain_info.config`. */
export interface DrainConfig {
  max_grace_period?: { nanoseconds: number };
  mark_gone: boolean;
}

/** One record of the `agent_drains` hash. */
export interface DrainRecord {
  state: DrainState;
  config: DrainConfig;
  /** When draining began (GET_AGENTS `estimated_drain_start_time`). */
  startedAt: number;
}

/** One record of the `gone_agents` hash: such an agent may never register again. */
export interface GoneRecord {
  hostname: string;
  goneAt: number;
}

export class AgentDrains {
  readonly drains = new Map<string, DrainRecord>();
  /** Deactivated by DEACTIVATE_AGENT (draining agents are deactivated too, see `isDeactivated`). */
  readonly deactivated = new Map<string, { since: number }>();
  readonly gone = new Map<string, GoneRecord>();

  constructor(private readonly m: Master) {}

  async recover(): Promise<void> {
    const [drains, deactivated, gone] = await Promise.all([
      this.m.store.readHash('agent_drains'), this.m.store.readHash('deactivated_agents'), this.m.store.readHash('gone_agents'),
    ]);
    for (const [id, v] of drains) this.drains.set(id, v as DrainRecord);
    for (const [id, v] of deactivated) this.deactivated.set(id, v as { since: number });
    for (const [id, v] of gone) this.gone.set(id, v as GoneRecord);
    for (const id of new Set([...this.drains.keys(), ...this.deactivated.keys()])) this.m.allocator.setAgentDeactivated(id, true);
  }

  isDeactivated(agentId: string): boolean {
    return this.deactivated.has(agentId) || this.drains.has(agentId);
  }

  /** A registered, recovered or unreachable agent (what Mesos accepts for DRAIN/DEACTIVATE). */
  isKnown(agentId: string): boolean {
    return this.m.state.agents.has(agentId);
  }

  async deactivate(agentId: string): Promise<void> {
    const since = this.deactivated.get(agentId)?.since ?? this.m.clock.now();
    await this.m.persist([{ op: 'put', hash: 'deactivated_agents', id: agentId, value: { since } }]);
    this.deactivated.set(agentId, { since });
    this.stopOffers(agentId);
    this.m.log.info({ agentId }, 'agent deactivated');
  }

  async drain(agentId: string, config: DrainConfig): Promise<void> {
    const record: DrainRecord = { state: 'DRAINING', config, startedAt: this.m.clock.now() };
    await this.m.persist([{ op: 'put', hash: 'agent_drains', id: agentId, value: record }]);
    this.drains.set(agentId, record);
    this.stopOffers(agentId);
    const killed = this.killTasks(agentId);
    this.m.log.info({ agentId, config, killed }, 'agent draining');
    await this.checkDrained(agentId);
  }

  /** REACTIVATE_AGENT: the caller has checked that the agent is deactivated and not DRAINING. */
  async reactivate(agentId: string): Promise<void> {
    await this.m.persist([
      { op: 'delete', hash: 'agent_drains', id: agentId },
      { op: 'delete', hash: 'deactivated_agents', id: agentId },
    ]);
    this.drains.delete(agentId);
    this.deactivated.delete(agentId);
    this.m.allocator.setAgentDeactivated(agentId, false);
    this.m.log.info({ agentId }, 'agent reactivated');
    this.m.scheduleAllocation();
  }

  /**
   * MARK_AGENT_GONE: the agent is removed for good; its tasks become TASK_GONE_BY_OPERATOR and it
   * may never register again. Idempotent for an agent already gone.
   */
  async markGone(agentId: string): Promise<void> {
    if (this.gone.has(agentId)) return;
    const a = this.m.state.agents.get(agentId);
    if (!a) return;
    const record: GoneRecord = { hostname: a.record.hostname, goneAt: this.m.clock.now() };
    const { ops, notify } = removeAgent(this.m, a, {
      state: 'TASK_GONE_BY_OPERATOR', partitionAwareState: 'TASK_GONE_BY_OPERATOR',
      reason: 'REASON_SLAVE_REMOVED_BY_OPERATOR', message: `Agent ${agentId} (${a.record.hostname}) was marked gone by the operator`,
    });
    ops.push(
      { op: 'put', hash: 'gone_agents', id: agentId, value: record },
      { op: 'delete', hash: 'agent_drains', id: agentId },
      { op: 'delete', hash: 'deactivated_agents', id: agentId },
    );
    this.gone.set(agentId, record);
    this.drains.delete(agentId);
    this.deactivated.delete(agentId);
    this.m.allocator.setAgentDeactivated(agentId, false);
    await this.m.persist(ops);
    notify();
  }

  /** DRAINING → DRAINED once no task is left on the agent (all terminal and acknowledged). */
  async checkDrained(agentId: string): Promise<void> {
    const d = this.drains.get(agentId);
    if (!d || d.state !== 'DRAINING' || this.m.state.tasksOfAgent(agentId).length > 0) return;
    const drained: DrainRecord = { ...d, state: 'DRAINED' };
    await this.m.persist([{ op: 'put', hash: 'agent_drains', id: agentId, value: drained }]);
    // Another call may have changed the drain while the write was in flight.
    if (this.drains.get(agentId) !== d) return;
    this.drains.set(agentId, drained);
    this.m.log.info({ agentId, markGone: d.config.mark_gone }, 'agent drained');
    if (d.config.mark_gone) await this.markGone(agentId);
  }

  /** Polled by the maintenance timer: draining agents whose last task just completed. */
  async tick(): Promise<void> {
    for (const [id, d] of [...this.drains]) if (d.state === 'DRAINING') await this.checkDrained(id);
  }

  /** The agent (re)subscribed: a draining agent's tasks that were not killed yet are killed now. */
  agentSubscribed(agentId: string): void {
    if (this.drains.get(agentId)?.state === 'DRAINING') this.killTasks(agentId);
  }

  /**
   * Updates from a draining agent, as a Mesos agent rewrites them: TASK_KILLED becomes
   * TASK_GONE_BY_OPERATOR when the agent will be marked gone, and kill updates carry
   * REASON_SLAVE_DRAINING.
   */
  rewriteStatus(agentId: string, status: TaskStatus): TaskStatus {
    const d = this.drains.get(agentId);
    if (!d) return status;
    if (status.state === 'TASK_KILLED' && d.config.mark_gone) status = { ...status, state: 'TASK_GONE_BY_OPERATOR' };
    if (status.state === 'TASK_KILLING' || status.state === 'TASK_KILLED' || status.state === 'TASK_GONE_BY_OPERATOR') {
      status = { ...status, reason: 'REASON_SLAVE_DRAINING' };
    }
    return status;
  }

  /** GET_AGENTS fields: `deactivated`, `drain_info`, `estimated_drain_start_time`. */
  agentView(agentId: string): object {
    const d = this.drains.get(agentId);
    return {
      deactivated: this.isDeactivated(agentId),
      ...(d ? { drain_info: { state: d.state, config: d.config }, estimated_drain_start_time: nanos(d.startedAt) } : {}),
    };
  }

  /** Ops that forget every trace of an agent (it was removed for another reason). */
  forgetOps(agentId: string): WriteOp[] {
    this.drains.delete(agentId);
    this.deactivated.delete(agentId);
    this.m.allocator.setAgentDeactivated(agentId, false);
    return [
      { op: 'delete', hash: 'agent_drains', id: agentId },
      { op: 'delete', hash: 'deactivated_agents', id: agentId },
    ];
  }

  private stopOffers(agentId: string): void {
    this.m.allocator.setAgentDeactivated(agentId, true);
    for (const o of this.m.state.offersOfAgent(agentId)) this.m.rescind(o);
  }

  /** KILL for every live task on a connected agent; returns how many were sent. */
  private killTasks(agentId: string): number {
    const a = this.m.state.agents.get(agentId);
    if (!a?.stream) return 0;
    const max = this.drains.get(agentId)?.config.max_grace_period;
    let n = 0;
    for (const t of this.m.state.tasksOfAgent(agentId)) {
      if (isTerminal(t.state) || t.state === 'TASK_UNREACHABLE') continue;
      this.m.killOnAgent(t, drainGraceSeconds(t, max));
      n++;
    }
    return n;
  }
}

/**
 * The kill grace for a draining task: its kill policy's grace (or the agent's default) capped by
 * `max_grace_period`; undefined leaves the choice to the agent (no cap applies).
 */
export function drainGraceSeconds(t: TaskRecord, max: { nanoseconds: number } | undefined): number | undefined {
  const own = t.info.kill_policy?.grace_period?.nanoseconds;
  if (max === undefined) return own !== undefined ? own / 1e9 : undefined;
  const capped = Math.min(own ?? DEFAULT_KILL_GRACE_MS * 1e6, max.nanoseconds);
  return capped / 1e9;
}
