// The Spillway master: owns the in-memory mirror, the allocator and the subscriber streams, and
// writes every change through the Store before acknowledging it. Scheduler and agent calls live in
// scheduler-calls.ts and agent-calls.ts; this file holds lifecycle, recovery, timers and the
// operations both sides share (status updates, offers, removal of agents and frameworks).
import { randomUUID } from 'node:crypto';
import { Allocator } from '../allocator/allocator.ts';
import { systemClock, type Clock } from '../common/clock.ts';
import { silentLogger, type Logger } from '../common/logger.ts';
import { FencedError, WriteRefusedError, type Store, type WriteOp } from '../store/store.ts';
import { isTerminal, newStatusUuid, type TaskState, type TaskStatus } from '../mesos/task-status.ts';
import { addSets, containsSet, filterSet, flatten, NO_RESOURCES, type ResourceSet } from '../resources/resource-set.ts';
import type { QuotaConfig } from '../allocator/role-tree.ts';
import { satisfy, type DemandUnit } from './demand.ts';
import { DEFAULT_MIN_ALLOCATABLE, type MinAllocatable } from '../../policies/allocation/min-allocatable.ts';
import { MasterState } from './master-state.ts';
import { Maintenance } from './maintenance.ts';
import { MasterMetrics } from './metrics.ts';
import { errorEvent, offerJson, taskJson } from './mesos-json.ts';
import { MAX_DEPARTED_AGENTS, removeAgent } from './agent-removal.ts';
import { decodeTaskRecord, encodeTaskRecord, frozenJson } from './task-json.ts';
import {
  frameworkRoles, hasCapability, taskKey,
  type AgentLive, type AgentRecord, type EventSink, type FrameworkLive, type FrameworkRecord, type Offer, type TaskRecord,
} from './records.ts';

/** A removed framework as the operator views list it (Mesos' completed frameworks). */
export interface CompletedFramework {
  id: string;
  info: FrameworkRecord['info'];
  /** Absent in records written before 2026-12-03. */
  registeredAt?: number;
  removedAt: number;
}

/** Completed frameworks shown, as Mesos' --max_completed_frameworks (default 50). */
export const MAX_COMPLETED_FRAMEWORKS = 50;

export interface MasterConfig {
  /** Cluster name; namespaces the Redis keys. */
  cluster: string;
  heartbeatIntervalSeconds: number;
  agentPingIntervalSeconds: number;
  maxAgentPingTimeouts: number;
  /** After a master (re)start or failover, agents get this long to re-register (Mesos' agent_reregister_timeout). */
  agentReregisterSeconds: number;
  allocationIntervalMs: number;
  /** Offers outstanding longer than this are rescinded; 0 = never (Mesos' default). */
  offerTimeoutSeconds: number;
  statusUpdateRetrySeconds: number;
  /** After a master restart, recovered frameworks get at least this long to re-subscribe. */
  frameworkRecoverySeconds: number;
  defaultRefuseSeconds: number;
  maxCompletedTasks: number;
  fairnessExcluded: string[];
  /** Optimistic offers: each free agent is offered to up to this many frameworks at once (0 = off). */
  optimisticOffers: number;
  minAllocatable: MinAllocatable;
  /** Unreachable agents are forgotten after this long (Mesos' registry_max_agent_age)… */
  maxAgentAgeSeconds: number;
  /** …or, oldest first, beyond this many (Mesos' registry_max_agent_count). */
  maxUnreachableAgents: number;
}

export const DEFAULT_MASTER_CONFIG: MasterConfig = {
  cluster: 'default',
  heartbeatIntervalSeconds: 15,
  agentPingIntervalSeconds: 15,
  maxAgentPingTimeouts: 5,
  agentReregisterSeconds: 600,
  allocationIntervalMs: 1000,
  offerTimeoutSeconds: 0,
  statusUpdateRetrySeconds: 10,
  frameworkRecoverySeconds: 120,
  defaultRefuseSeconds: 5,
  maxCompletedTasks: 10_000,
  fairnessExcluded: [],
  optimisticOffers: 0,
  maxAgentAgeSeconds: 14 * 86_400,
  maxUnreachableAgents: 102_400,
  minAllocatable: DEFAULT_MIN_ALLOCATABLE,
};

export interface MasterDeps {
  store: Store;
  clock?: Clock;
  log?: Logger;
  config?: Partial<MasterConfig>;
  /** Called when the master can no longer act as leader (fenced, Redis lost for good). */
  onFatal?: (e: Error) => void;
}

const MAX_STATUSES_KEPT = 20;

export class Master {
  readonly state = new MasterState();
  readonly allocator: Allocator;
  readonly config: MasterConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly store: Store;
  readonly metrics = new MasterMetrics();
  readonly id = randomUUID();
  readonly removedFrameworks = new Set<string>();
  /** The latest removed frameworks, newest first (GET_FRAMEWORKS / state.json completed_frameworks). */
  completedFrameworks: CompletedFramework[] = [];
  /** Unmet demand per framework from REQUEST calls (see demand.ts). */
  readonly demands = new Map<string, DemandUnit[]>();
  /** Quota per role as configured (UPDATE_QUOTA); the allocator holds the same. */
  readonly quotas = new Map<string, QuotaConfig>();
  /** Draining, deactivation, maintenance schedules and inverse offers (maintenance.ts). */
  readonly maintenance: Maintenance;
  /** Master-wide cap on task launches per second (--max-task-launches-per-second), if set. */
  launchGate: { take(n: number): Promise<void> } | undefined;
  /** Told when launches satisfy REQUEST demand (accounting records how long it waited). */
  demandSatisfied: ((before: DemandUnit[], after: DemandUnit[], at: number) => void) | undefined;
  /**
   * Set while the autoscaler runs here: takes an agent's interruption notice when the agent is on
   * an instance it provisioned (it drains it, plans a replacement, releases the instance); false
   * when the machine is not one of its own.
   */
  interruptionHandoff: ((agentId: string, deadlineMs: number, reason: string) => Promise<boolean>) | undefined;
  startedAt = 0;
  private epoch = 0;
  private nextFrameworkSeq = 0;
  private nextAgentSeq = 0;
  private nextOfferSeq = 0;
  private timers: NodeJS.Timeout[] = [];
  private allocationPending = false;
  private readonly lastSentAt = new Map<string, number>();
  /**
   * Agents removed from the cluster (drained and marked gone, forgotten), newest first, each with
   * `unreachableSince` = when it left: accounting still bills their last interval and minimum.
   */
  departedAgents: AgentRecord[] = [];
  /** Tasks whose ACCEPT has not sent their LAUNCH yet (launch gate, write): a KILL waits for it. */
  readonly launching = new Set<TaskRecord>();
  /** The uuid last sent per task, so two paths (an ACK and a new update) never send it twice. */
  private readonly lastSentUuid = new Map<string, string>();
  private readonly onFatal: (e: Error) => void;
  private stopped = false;

  constructor(deps: MasterDeps) {
    this.store = deps.store;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? silentLogger;
    this.config = { ...DEFAULT_MASTER_CONFIG, ...deps.config };
    this.allocator = new Allocator({ fairnessExcluded: this.config.fairnessExcluded, minAllocatable: this.config.minAllocatable });
    this.maintenance = new Maintenance(this);
    this.onFatal = deps.onFatal ?? ((e) => { this.log.fatal({ err: e }, 'master cannot continue'); process.exit(1); });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.epoch = await this.store.claimEpoch();
    this.startedAt = this.clock.now();
    await this.recover();
    const every = (ms: number, fn: () => void): void => { this.timers.push(setInterval(fn, ms).unref()); };
    every(this.config.allocationIntervalMs, () => this.allocate());
    every(Math.min(1000, this.config.agentPingIntervalSeconds * 1000), () => this.checkHealth());
    every(this.config.heartbeatIntervalSeconds * 1000, () => this.heartbeat());
    every(Math.max(100, this.config.statusUpdateRetrySeconds * 500), () => this.retryStatusUpdates());
    this.maintenance.start();
    this.log.info({ epoch: this.epoch, masterId: this.id, agents: this.state.agents.size, frameworks: this.state.frameworks.size, tasks: this.state.tasks.size }, 'master started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.maintenance.stop();
    // Schedulers must see a break, not an end: an ERROR and then the end means a refusal to them
    // (SDK, Mesos' driver), and a rate-limit ERROR may be the last event before a failover.
    for (const f of this.state.frameworks.values()) f.stream?.abort();
    for (const a of this.state.agents.values()) a.stream?.close();
  }

  get fencingEpoch(): number {
    return this.epoch;
  }

  /** Rebuilds the mirror and the allocator from Redis after a (re)start. */
  private async recover(): Promise<void> {
    const snap = await this.store.load();
    const now = this.clock.now();
    for (const [role, w] of snap.weights) this.allocator.setWeight(role, w as number);
    for (const [fid, units] of snap.demands) this.demands.set(fid, units as DemandUnit[]);
    for (const [role, q] of snap.quotas) {
      this.quotas.set(role, q as QuotaConfig);
      this.allocator.setQuota(role, q as QuotaConfig);
    }
    // Recovered agents get --agent-reregister-timeout (at least a ping window) to re-register before
    // they are declared lost: the health check counts the ping window from lastPingAt.
    const pingWindowMs = this.config.agentPingIntervalSeconds * 1000 * this.config.maxAgentPingTimeouts;
    const reregisterGraceMs = Math.max(0, this.config.agentReregisterSeconds * 1000 - pingWindowMs);
    for (const v of snap.agents.values()) {
      const record = v as AgentRecord;
      this.state.agents.set(record.id, { record, lastPingAt: now + reregisterGraceMs });
      if (!record.unreachableSince) {
        this.allocator.addAgent(record.id, record.resources);
        this.allocator.setAgentActive(record.id, false);
      }
    }
    for (const v of snap.frameworks.values()) {
      const record = v as FrameworkRecord;
      this.state.frameworks.set(record.id, { record, recovered: true });
      this.allocator.addFramework(record.id, frameworkRoles(record.info), { revocable: hasCapability(record.info, 'REVOCABLE_RESOURCES') });
      this.allocator.setFrameworkActive(record.id, false);
    }
    for (const v of snap.tasks.values()) {
      const t = decodeTaskRecord(v);
      this.state.putTask(t);
      if (!isTerminal(t.state) && t.state !== 'TASK_UNREACHABLE') this.allocator.allocate(t.frameworkId, t.role, t.agentId, t.resources);
    }
    const removed = (await this.store.readList('removed_frameworks', 10_000)) as CompletedFramework[];
    for (const f of removed) this.removedFrameworks.add(f.id);
    this.completedFrameworks = removed.slice(0, MAX_COMPLETED_FRAMEWORKS);
    this.departedAgents = (await this.store.readList('departed_agents', MAX_DEPARTED_AGENTS)) as AgentRecord[];
    await this.maintenance.recover();
  }

  // ---- persistence -----------------------------------------------------------------------------

  /**
   * Writes through the Store. A master whose write fails stops at once rather than act on state
   * Redis does not hold: fenced, another master leads; refused otherwise, its mirror already has
   * the change (a launch, resources taken), so only a reload from Redis makes the two agree again.
   */
  async persist(ops: WriteOp[], options?: { deferrable?: boolean }): Promise<void> {
    try {
      await this.store.write(ops, options);
    } catch (e) {
      const ended = e instanceof FencedError ? e : new WriteRefusedError(e);
      if (!this.stopped) {
        if (ended instanceof WriteRefusedError) this.log.error({ err: e }, 'Redis refused a write; this term ends and the next reloads the state from Redis');
        this.stopped = true;
        this.onFatal(ended);
      }
      throw ended;
    }
  }

  putTaskOp(t: TaskRecord): WriteOp {
    return { op: 'put', hash: 'tasks', id: taskKey(t.frameworkId, t.info.task_id.value), value: t, encode: encodeTaskRecord };
  }

  // ---- ids -------------------------------------------------------------------------------------

  newFrameworkId(): string {
    return `${this.id}-${String(this.nextFrameworkSeq++).padStart(4, '0')}`;
  }

  newAgentId(): string {
    return `${this.id}-S${this.nextAgentSeq++}`;
  }

  // ---- status updates --------------------------------------------------------------------------

  /**
   * Records a new status for a task and queues it for reliable delivery to the framework. Returns
   * the write ops; the caller persists them and then calls `deliverHead` for tasks that need it.
   */
  applyStatus(t: TaskRecord, status: TaskStatus): WriteOp[] {
    const wasTerminal = isTerminal(t.state);
    t.state = status.state;
    t.statuses.push(status);
    if (t.statuses.length > MAX_STATUSES_KEPT) t.statuses.splice(0, t.statuses.length - MAX_STATUSES_KEPT);
    t.pending.push(status);
    this.metrics.taskStates.inc({ state: status.state });
    if (!wasTerminal && (isTerminal(status.state) || status.state === 'TASK_UNREACHABLE')) {
      this.allocator.recover(t.frameworkId, t.role, t.agentId, t.resources);
      this.scheduleAllocation();
    }
    return [this.putTaskOp(t)];
  }

  masterStatus(t: TaskRecord, state: TaskState, message: string, reason?: string): TaskStatus {
    return {
      task_id: t.info.task_id, state, message, source: 'SOURCE_MASTER', agent_id: { value: t.agentId },
      timestamp: this.clock.now() / 1000, uuid: newStatusUuid(), ...(reason ? { reason } : {}),
    };
  }

  /**
   * Sends the oldest unacknowledged update of a task, if its framework is connected. Without
   * `resend`, an update already sent is not sent again (the retry timer and re-subscription resend).
   */
  deliverHead(t: TaskRecord, resend = false): void {
    const head = t.pending[0];
    if (!head) return;
    const fw = this.state.frameworks.get(t.frameworkId);
    if (!fw?.stream) return;
    const key = taskKey(t.frameworkId, t.info.task_id.value);
    if (!resend && head.uuid !== undefined && this.lastSentUuid.get(key) === head.uuid) return;
    fw.stream.sendJson(`{"type":"UPDATE","update":{"status":${frozenJson(head)}}}`); // the status's JSON is reused by every write of the task
    this.lastSentAt.set(key, this.clock.now());
    if (head.uuid !== undefined) this.lastSentUuid.set(key, head.uuid);
  }

  /**
   * The framework acknowledged `uuid`; drops it and completes the task if nothing is left. As in
   * Mesos the call is answered without waiting for the write: an acknowledgement lost in a crash
   * only makes the next leader send that update again (at least once). The write is deferrable,
   * so it usually shares a Redis call with the task's next update or completion.
   */
  async acknowledge(frameworkId: string, taskId: string, uuid: string): Promise<void> {
    const t = this.state.task(frameworkId, taskId);
    if (!t) return;
    const idx = t.pending.findIndex((s) => s.uuid === uuid);
    if (idx < 0) return;
    t.pending.splice(idx, 1);
    const ops: WriteOp[] = [];
    if (isTerminal(t.state) && t.pending.length === 0) {
      ops.push(...this.completeTask(t));
    } else {
      ops.push(this.putTaskOp(t));
    }
    this.persist(ops, { deferrable: true }).catch((e: unknown) => this.log.warn({ err: e }, 'acknowledgement not persisted'));
    if (idx === 0) this.deliverHead(t);
  }

  /** Moves a finished task out of the active set into the capped completed list. */
  completeTask(t: TaskRecord): WriteOp[] {
    this.state.deleteTask(t);
    this.lastSentAt.delete(taskKey(t.frameworkId, t.info.task_id.value));
    this.lastSentUuid.delete(taskKey(t.frameworkId, t.info.task_id.value));
    return [
      { op: 'delete', hash: 'tasks', id: taskKey(t.frameworkId, t.info.task_id.value) },
      { op: 'append', list: 'completed_tasks', value: { ...t, pending: [] }, max: this.config.maxCompletedTasks, encode: encodeTaskRecord },
    ];
  }

  private retryStatusUpdates(): void {
    const now = this.clock.now();
    const due = this.config.statusUpdateRetrySeconds * 1000;
    for (const t of this.state.tasks.values()) {
      if (t.pending.length === 0) continue;
      const last = this.lastSentAt.get(taskKey(t.frameworkId, t.info.task_id.value)) ?? 0;
      if (now - last >= due) this.deliverHead(t, true);
    }
  }

  // ---- offers ----------------------------------------------------------------------------------

  scheduleAllocation(): void {
    if (this.allocationPending || this.stopped) return;
    this.allocationPending = true;
    setImmediate(() => this.allocate());
  }

  /** Runs one allocation round and turns its proposals into OFFERS events. */
  allocate(): void {
    this.allocationPending = false;
    if (this.stopped) return;
    const now = this.clock.now();
    this.expireOffers(now);
    const end = this.metrics.allocationRound.startTimer();
    const agentOrder = shuffle([...this.state.agents.keys()]);
    const optimistic = this.config.optimisticOffers > 0
      ? { perAgent: this.config.optimisticOffers, hasOffer: (fid: string, aid: string) => this.state.offersOfAgent(aid).some((o) => o.frameworkId === fid) }
      : undefined;
    const proposals = this.allocator.allocateRound(now, { agentOrder, optimistic });
    end();
    const byFramework = new Map<string, object[]>();
    for (const p of proposals) {
      const fw = this.state.frameworks.get(p.frameworkId);
      const agent = this.state.agents.get(p.agentId);
      if (!fw?.stream || !agent) {
        if (!optimistic) this.allocator.recover(p.frameworkId, p.role, p.agentId, p.resources);
        continue;
      }
      const offer: Offer = {
        id: `${this.id}-O${this.nextOfferSeq++}`, frameworkId: p.frameworkId, agentId: p.agentId, role: p.role, resources: p.resources, createdAt: now,
        ...(optimistic ? { optimistic: true } : {}),
      };
      this.state.putOffer(offer);
      let list = byFramework.get(p.frameworkId);
      if (!list) byFramework.set(p.frameworkId, (list = []));
      list.push(this.maintenance.decorateOffer(offerJson(offer, agent.record), p.agentId));
    }
    for (const [fid, offers] of byFramework) {
      this.state.frameworks.get(fid)!.stream!.send({ type: 'OFFERS', offers: { offers } });
      this.metrics.offersSent.inc(offers.length);
    }
  }

  /** Withdraws an offer: tells the framework (unless it is gone) and returns the resources. */
  rescind(o: Offer, notify = true): void {
    this.state.deleteOffer(o);
    if (!o.optimistic) this.allocator.recover(o.frameworkId, o.role, o.agentId, o.resources);
    this.metrics.offersRescinded.inc();
    if (notify) this.state.frameworks.get(o.frameworkId)?.stream?.send({ type: 'RESCIND', rescind: { offer_id: { value: o.id } } });
    this.scheduleAllocation();
  }

  /** After an optimistic ACCEPT: withdraw other offers on the agent that its free resources no longer cover. */
  rescindStaleOptimisticOffers(agentId: string): void {
    const free = this.allocator.agentFree(agentId);
    for (const o of this.state.offersOfAgent(agentId)) if (o.optimistic && !containsSet(free, o.resources)) this.rescind(o);
  }

  private expireOffers(now: number): void {
    const timeout = this.config.offerTimeoutSeconds * 1000;
    if (timeout <= 0) return;
    for (const o of this.state.offers.values()) if (now - o.createdAt >= timeout) this.rescind(o);
  }

  // ---- agents ----------------------------------------------------------------------------------

  private checkHealth(): void {
    const now = this.clock.now();
    const limit = this.config.agentPingIntervalSeconds * 1000 * this.config.maxAgentPingTimeouts;
    for (const a of this.state.agents.values()) {
      if (!a.record.unreachableSince && now - a.lastPingAt > limit) {
        this.markUnreachable(a, `Agent ${a.record.id} (${a.record.hostname}) missed ${this.config.maxAgentPingTimeouts} pings`)
          .catch((e) => this.log.error({ err: e }, 'failed to remove agent'));
      }
    }
    this.expireFrameworks(now);
    this.forgetUnreachableAgents(now);
    this.updateGauges();
  }

  /**
   * Forgets agents unreachable for longer than maxAgentAgeSeconds, and the oldest beyond
   * maxUnreachableAgents, as Mesos' registry GC: a VM that died without a word must not stay in
   * the state (and GET_AGENTS, and every recovery) for ever. A PARTITION_AWARE framework's tasks
   * there, TASK_UNREACHABLE until now, become TASK_GONE. An agent that comes back later
   * registers anew.
   */
  private forgetUnreachableAgents(now: number): void {
    const unreachable = [...this.state.agents.values()].filter((a) => a.record.unreachableSince !== undefined)
      .sort((x, y) => x.record.unreachableSince! - y.record.unreachableSince!);
    const tooMany = unreachable.length - this.config.maxUnreachableAgents;
    const forget = unreachable.filter((a, i) => i < tooMany || now - a.record.unreachableSince! > this.config.maxAgentAgeSeconds * 1000);
    if (!forget.length) return;
    const ops: WriteOp[] = [];
    const notices: (() => void)[] = [];
    for (const a of forget) {
      const message = `Agent ${a.record.id} (${a.record.hostname}) was unreachable since ${new Date(a.record.unreachableSince!).toISOString()}: forgotten`;
      const removal = removeAgent(this, a, { state: 'TASK_LOST', partitionAwareState: 'TASK_GONE', reason: 'REASON_AGENT_REMOVED', message, announce: false });
      ops.push(...removal.ops);
      notices.push(removal.notify);
    }
    this.persist(ops).then(() => { for (const n of notices) n(); }, (e: unknown) => this.log.error({ err: e }, 'forgetting unreachable agents failed'));
  }

  /**
   * Declares an agent lost: rescinds its offers, reports its tasks TASK_LOST (TASK_UNREACHABLE to
   * PARTITION_AWARE frameworks) and sends FAILURE to every connected framework.
   */
  async markUnreachable(a: AgentLive, why: string): Promise<void> {
    const now = this.clock.now();
    this.log.warn({ agentId: a.record.id }, why);
    this.metrics.agentsRemoved.inc();
    for (const o of this.state.offersOfAgent(a.record.id)) this.rescind(o);
    a.record.unreachableSince = now;
    const ops: WriteOp[] = [{ op: 'put', hash: 'agents', id: a.record.id, value: a.record }];
    const touched: TaskRecord[] = [];
    for (const t of this.state.tasksOfAgent(a.record.id)) {
      if (isTerminal(t.state) || t.state === 'TASK_UNREACHABLE') continue;
      const fw = this.state.frameworks.get(t.frameworkId);
      const partitionAware = fw ? hasCapability(fw.record.info, 'PARTITION_AWARE') : false;
      const state: TaskState = partitionAware ? 'TASK_UNREACHABLE' : 'TASK_LOST';
      ops.push(...this.applyStatus(t, this.masterStatus(t, state, why, 'REASON_AGENT_REMOVED')));
      touched.push(t);
    }
    this.allocator.removeAgent(a.record.id);
    a.stream?.send(errorEvent(`removed: ${why}`));
    a.stream?.close();
    a.stream = undefined;
    await this.persist(ops);
    for (const t of touched) if (t.pending.length === 1) this.deliverHead(t);
    for (const f of this.state.frameworks.values()) f.stream?.send({ type: 'FAILURE', failure: { agent_id: { value: a.record.id } } });
  }

  agentDisconnected(agentId: string, sink: EventSink): void {
    const a = this.state.agents.get(agentId);
    if (!a || a.stream !== sink) return;
    a.stream = undefined;
    this.allocator.setAgentActive(agentId, false);
    for (const o of this.state.offersOfAgent(agentId)) this.rescind(o);
    this.log.info({ agentId }, 'agent disconnected; it has until its ping timeout to come back');
  }

  /** Sends KILL to the agent running a task, or remembers it for when the agent reconnects. */
  killOnAgent(t: TaskRecord, gracePeriodSeconds?: number): boolean {
    const a = this.state.agents.get(t.agentId);
    if (!a?.stream) {
      t.killRequested = true;
      return false;
    }
    a.stream.send({
      type: 'KILL',
      kill: { framework_id: { value: t.frameworkId }, task_id: t.info.task_id, ...(gracePeriodSeconds !== undefined ? { grace_period_seconds: gracePeriodSeconds } : {}) },
    });
    return true;
  }

  // ---- frameworks ------------------------------------------------------------------------------

  frameworkDisconnected(frameworkId: string, sink: EventSink): void {
    const f = this.state.frameworks.get(frameworkId);
    if (!f || f.stream !== sink) return;
    f.stream = undefined;
    f.record.disconnectedAt = this.clock.now();
    this.allocator.setFrameworkActive(frameworkId, false);
    for (const o of this.state.offersOfFramework(frameworkId)) this.rescind(o, false);
    this.log.info({ frameworkId, failoverTimeout: f.record.info.failover_timeout ?? 0 }, 'framework disconnected');
    this.persist([{ op: 'put', hash: 'frameworks', id: frameworkId, value: f.record }])
      .then(() => this.expireFrameworks(this.clock.now()))
      // A deposed or stopping master cannot write; the next leader sees the stream gone anyway.
      .catch((e) => (e instanceof FencedError ? this.log.debug({ frameworkId }, 'framework disconnect not recorded: no longer leading')
        : this.log.error({ err: e }, 'failed to record framework disconnect')));
  }

  private expireFrameworks(now: number): void {
    for (const f of this.state.frameworks.values()) {
      if (f.stream) continue;
      const since = f.record.disconnectedAt ?? this.startedAt;
      let deadline = since + (f.record.info.failover_timeout ?? 0) * 1000;
      if (f.recovered) deadline = Math.max(deadline, this.startedAt + this.config.frameworkRecoverySeconds * 1000);
      if (now >= deadline) {
        this.removeFramework(f, 'failover timeout elapsed').catch((e) => this.log.error({ err: e }, 'failed to remove framework'));
      }
    }
  }

  /** Replaces a framework's demand (a REQUEST states its whole current need). */
  async setDemand(frameworkId: string, units: DemandUnit[]): Promise<void> {
    await this.persist([units.length
      ? { op: 'put', hash: 'demands', id: frameworkId, value: units }
      : { op: 'delete', hash: 'demands', id: frameworkId }]);
    if (units.length) this.demands.set(frameworkId, units);
    else this.demands.delete(frameworkId);
  }

  /** Launched tasks count against the framework's outstanding demand. */
  satisfyDemand(frameworkId: string, launched: ResourceSet[]): WriteOp[] {
    let units = this.demands.get(frameworkId);
    if (!units) return [];
    const before = units;
    for (const r of launched) units = satisfy(units, r);
    if (units !== before) this.demandSatisfied?.(before, units, this.clock.now());
    if (units.length) this.demands.set(frameworkId, units);
    else this.demands.delete(frameworkId);
    return [units.length ? { op: 'put', hash: 'demands', id: frameworkId, value: units } : { op: 'delete', hash: 'demands', id: frameworkId }];
  }

  /** TEARDOWN or failover timeout: kills its tasks, drops its offers and forgets it. */
  async removeFramework(f: FrameworkLive, why: string): Promise<void> {
    const id = f.record.id;
    if (!this.state.frameworks.has(id)) return;
    this.log.info({ frameworkId: id }, `removing framework: ${why}`);
    this.state.frameworks.delete(id);
    this.removedFrameworks.add(id);
    for (const o of this.state.offersOfFramework(id)) this.rescind(o, false);
    const ops: WriteOp[] = [];
    for (const t of this.state.tasksOfFramework(id)) {
      if (!isTerminal(t.state)) {
        this.killOnAgent(t);
        if (t.state !== 'TASK_UNREACHABLE') this.allocator.recover(id, t.role, t.agentId, t.resources);
        t.state = 'TASK_KILLED';
        t.statuses.push({ ...this.masterStatus(t, 'TASK_KILLED', `Framework removed: ${why}`, 'REASON_FRAMEWORK_REMOVED'), uuid: undefined });
      }
      ops.push(...this.completeTask(t));
    }
    this.allocator.removeFramework(id);
    ops.push({ op: 'delete', hash: 'frameworks', id });
    if (this.demands.delete(id)) ops.push({ op: 'delete', hash: 'demands', id });
    const completed: CompletedFramework = { id, info: f.record.info, registeredAt: f.record.registeredAt, removedAt: this.clock.now() };
    this.completedFrameworks = [completed, ...this.completedFrameworks].slice(0, MAX_COMPLETED_FRAMEWORKS);
    ops.push({ op: 'append', list: 'removed_frameworks', value: completed, max: 10_000 });
    f.stream?.close();
    f.stream = undefined;
    await this.persist(ops);
    this.scheduleAllocation();
  }

  private heartbeat(): void {
    for (const f of this.state.frameworks.values()) f.stream?.send({ type: 'HEARTBEAT' });
    for (const a of this.state.agents.values()) a.stream?.send({ type: 'HEARTBEAT' });
  }

  // ---- views -----------------------------------------------------------------------------------

  usedOn(agentId: string): ResourceSet {
    let r = NO_RESOURCES;
    for (const t of this.state.tasksOfAgent(agentId)) if (!isTerminal(t.state) && t.state !== 'TASK_UNREACHABLE') r = addSets(r, t.resources);
    return r;
  }

  /** What quota guarantees may promise: every agent's non-revocable total minus static reservations. */
  capacityForQuota(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.state.agents.values()) {
      if (a.record.unreachableSince) continue;
      const usable = flatten(filterSet(a.record.resources, (b) => !b.revocable && b.reservation?.type !== 'STATIC'));
      for (const [k, v] of Object.entries(usable.scalars)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  offeredOn(agentId: string): ResourceSet {
    return this.state.offersOfAgent(agentId).reduce((r, o) => addSets(r, o.resources), NO_RESOURCES);
  }

  tasksJson(): object[] {
    return [...this.state.tasks.values()].map(taskJson);
  }

  private updateGauges(): void {
    let active = 0;
    let unreachable = 0;
    for (const a of this.state.agents.values()) (a.record.unreachableSince ? unreachable++ : active++);
    this.metrics.agents.set({ state: 'registered' }, active);
    this.metrics.agents.set({ state: 'unreachable' }, unreachable);
    let connected = 0;
    for (const f of this.state.frameworks.values()) if (f.stream) connected++;
    this.metrics.frameworks.set({ state: 'connected' }, connected);
    this.metrics.frameworks.set({ state: 'disconnected' }, this.state.frameworks.size - connected);
    this.metrics.tasks.set(this.state.tasks.size);
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
