// Handlers for Spillway's agent protocol (docs/AGENT-PROTOCOL.md): SUBSCRIBE with task
// reconciliation, PING, UPDATE (the 202 is the durable acknowledgement), MESSAGE,
// UPDATE_OVERSUBSCRIBED and INTERRUPTION_NOTICE.
import * as z from 'zod';
import { badRequest, forbidden } from '../common/errors.ts';
import { isBareValueId, ValueId } from '../mesos/scheduler-call.ts';
import { isTerminal, STATUS_SOURCES, TASK_STATES, type TaskStatus } from '../mesos/task-status.ts';
import { MesosResourceSchema, fromMesos, fromMesosSet } from '../resources/mesos-resources.ts';
import { addSets, containsSet, flatten, subtractSets, unreservedSet, NO_RESOURCES, type ResourceSet } from '../resources/resource-set.ts';
import { isEmpty, subtract as subtractResources, type Resources } from '../resources/resources.ts';
import type { WriteOp } from '../store/store.ts';
import type { Master } from './master.ts';
import { taskKey, type AgentLive, type EventSink, type MesosAttribute, type TaskRecord } from './records.ts';
import { rechargeUnreachable } from './agent-removal.ts';
import { launchEventJson } from './task-json.ts';
import { graceBeforeDeadlineMs } from './agent-drain.ts';

const Attribute = z.looseObject({
  name: z.string().min(1),
  type: z.enum(['TEXT', 'SCALAR', 'RANGES', 'SET']),
  text: z.object({ value: z.string() }).optional(),
  scalar: z.object({ value: z.number() }).optional(),
});

const TaskStatusSchema = z.looseObject({
  task_id: ValueId,
  state: z.enum(TASK_STATES),
  uuid: z.string().min(1),
  message: z.string().optional(),
  reason: z.string().optional(),
  source: z.enum(STATUS_SOURCES).optional(),
  timestamp: z.number().optional(),
  healthy: z.boolean().optional(),
});

const StatusUpdateSchema = z.looseObject({ framework_id: ValueId, status: TaskStatusSchema });
/** Bounds one UPDATE call's work (and the Lua batch it becomes). */
export const MAX_UPDATES_PER_CALL = 500;

export const AgentCallSchema = z.looseObject({
  type: z.enum(['SUBSCRIBE', 'PING', 'UPDATE', 'MESSAGE', 'UPDATE_OVERSUBSCRIBED', 'INTERRUPTION_NOTICE']),
  agent_id: ValueId.optional(),
  subscribe: z.looseObject({
    agent_info: z.looseObject({
      id: ValueId.optional(),
      hostname: z.string().min(1),
      port: z.number().int().min(0).max(65535),
      resources: z.array(MesosResourceSchema),
      attributes: z.array(Attribute).default([]),
    }),
    tasks: z.array(z.looseObject({ framework_id: ValueId, task_id: ValueId, state: z.string() })).default([]),
    version: z.string().default('unknown'),
  }).optional(),
  update: StatusUpdateSchema.optional(),
  /** Several updates in one call (one per task at most: each is its task's oldest unacknowledged). */
  updates: z.array(StatusUpdateSchema).min(1).max(MAX_UPDATES_PER_CALL).optional(),
  message: z.looseObject({ framework_id: ValueId, executor_id: ValueId, data: z.string() }).optional(),
  oversubscribed: z.looseObject({ resources: z.array(MesosResourceSchema).default([]) }).optional(),
  interruption_notice: z.looseObject({
    provider: z.enum(['aws-ec2', 'gcp-compute']),
    /** EC2's instance-action (terminate, stop, hibernate) or GCE's preemption. */
    action: z.enum(['terminate', 'stop', 'hibernate', 'preempt']),
    /** When the cloud takes the VM back (Mesos TimeInfo: nanoseconds since the epoch). */
    deadline: z.object({ nanoseconds: z.number().nonnegative() }),
  }).optional(),
});
export type AgentCall = z.infer<typeof AgentCallSchema>;

const STATES = new Set<string>(TASK_STATES);
const SOURCES = new Set<string>(STATUS_SOURCES);
const optional = (v: unknown, type: 'string' | 'number' | 'boolean'): boolean => v === undefined || typeof v === type;

/** A status exactly as TaskStatusSchema parses it to itself: only its known fields, each valid. */
function isPlainStatus(s: unknown): boolean {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return false;
  const o = s as Record<string, unknown>;
  for (const k in o) {
    if (k !== 'task_id' && k !== 'state' && k !== 'uuid' && k !== 'message' && k !== 'reason' && k !== 'source' && k !== 'timestamp' && k !== 'healthy') return false;
  }
  return isBareValueId(o.task_id) && typeof o.state === 'string' && STATES.has(o.state)
    && typeof o.uuid === 'string' && o.uuid.length > 0 && optional(o.message, 'string') && optional(o.reason, 'string')
    && (o.source === undefined || (typeof o.source === 'string' && SOURCES.has(o.source)))
    && (o.timestamp === undefined || Number.isFinite(o.timestamp)) && optional(o.healthy, 'boolean');
}

/**
 * The agents' most frequent call, a batch of plain status updates, checked by hand: zod's parse of
 * it is a measurable share of the master's time per task (docs/BENCHMARKS.md). Anything this does
 * not recognise as plainly valid — unknown fields, a bad value — is left to AgentCallSchema, which
 * accepts or explains it; what this returns is what the schema would return.
 */
export function parsePlainUpdate(body: unknown): AgentCall | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (b.type !== 'UPDATE') return undefined;
  for (const k in b) if (k !== 'type' && k !== 'agent_id' && k !== 'updates') return undefined;
  if (b.agent_id !== undefined && !isBareValueId(b.agent_id)) return undefined;
  const updates = b.updates;
  if (!Array.isArray(updates) || updates.length === 0 || updates.length > MAX_UPDATES_PER_CALL) return undefined;
  for (const u of updates as unknown[]) {
    if (typeof u !== 'object' || u === null || Array.isArray(u)) return undefined;
    for (const k in u) if (k !== 'framework_id' && k !== 'status') return undefined;
    const { framework_id, status } = u as Record<string, unknown>;
    if (!isBareValueId(framework_id) || !isPlainStatus(status)) return undefined;
  }
  return b as AgentCall;
}

export async function subscribeAgent(m: Master, call: AgentCall, sink: EventSink): Promise<string> {
  const sub = call.subscribe;
  if (!sub) throw badRequest("Expecting 'subscribe' to be present");
  const parsed = fromMesosSet(sub.agent_info.resources);
  if (!parsed.ok) throw badRequest(`agent_info.resources: ${parsed.error}`);
  if (parsed.value.some((b) => b.revocable || b.reservation?.type === 'DYNAMIC')) {
    throw badRequest('agent_info.resources: an agent reports unreserved and statically reserved resources only');
  }
  const now = m.clock.now();
  const id = sub.agent_info.id?.value ?? m.newAgentId();
  m.maintenance.admitAgent(id, sub.agent_info.hostname);
  const existing = m.state.agents.get(id);
  const { total, dynamic, dropped } = withDynamicReservations(parsed.value, existing?.record.dynamicReservations ?? NO_RESOURCES);
  if (!isEmptyList(dropped)) m.log.warn({ agentId: id, dropped }, 'agent came back smaller: dynamic reservations that no longer fit were dropped');
  const fields = {
    hostname: sub.agent_info.hostname, port: sub.agent_info.port, resources: total, dynamicReservations: dynamic,
    attributes: sub.agent_info.attributes as MesosAttribute[], version: sub.version,
  };
  let a: AgentLive;
  if (existing) {
    a = existing;
    if (a.stream && a.stream !== sink) a.stream.close();
    Object.assign(a.record, fields, { reregisteredAt: now });
  } else {
    a = { record: { id, ...fields, registeredAt: now }, lastPingAt: now };
    m.state.agents.set(id, a);
  }
  const wasUnreachable = a.record.unreachableSince !== undefined;
  a.record.unreachableSince = undefined;
  a.lastPingAt = now;
  a.stream = sink;

  const ops: WriteOp[] = [{ op: 'put', hash: 'agents', id, value: a.record }];
  const notify: TaskRecord[] = [];
  const reported = new Map(sub.tasks.map((t) => [taskKey(t.framework_id.value, t.task_id.value), t.state]));
  const toKill: { framework_id: { value: string }; task_id: { value: string } }[] = [];
  const relaunch: TaskRecord[] = [];
  for (const t of m.state.tasksOfAgent(id)) {
    const key = taskKey(t.frameworkId, t.info.task_id.value);
    if (isTerminal(t.state)) continue;
    if (!reported.has(key) && t.state === 'TASK_STAGING' && t.statuses.length === 0) {
      // Launched, but the agent never said a word about it: the LAUNCH was still on its old
      // stream when that broke (a failover, a re-subscription). It is sent again below.
      relaunch.push(t);
    } else if (!reported.has(key)) {
      rechargeUnreachable(m, t);
      ops.push(...m.applyStatus(t, m.masterStatus(t, 'TASK_LOST', 'Task was not found on the agent when it re-registered', 'REASON_AGENT_RESTARTED')));
      notify.push(t);
    } else if (t.state === 'TASK_UNREACHABLE') {
      // A partition-aware framework's task is back: report its real state again.
      const state = reported.get(key) === 'TASK_STAGING' || reported.get(key) === 'TASK_STARTING' ? 'TASK_STARTING' : 'TASK_RUNNING';
      ops.push(...m.applyStatus(t, m.masterStatus(t, state, 'Agent re-registered', 'REASON_AGENT_REREGISTERED')));
      notify.push(t);
    }
  }
  for (const t of sub.tasks) {
    const known = m.state.task(t.framework_id.value, t.task_id.value);
    if (!known || known.agentId !== id || isTerminal(known.state)) toKill.push({ framework_id: t.framework_id, task_id: t.task_id });
  }
  // The allocator learns about the agent (again) with its running tasks charged to their frameworks.
  if (!m.allocator.hasAgent(id) || wasUnreachable || !sameSet(m.allocator.agentTotal(id), total)) {
    // (Re)build the agent in the allocator: tasks charged to their frameworks, offers withdrawn.
    for (const o of m.state.offersOfAgent(id)) m.rescind(o);
    const running = m.state.tasksOfAgent(id).filter((t) => !isTerminal(t.state) && t.state !== 'TASK_UNREACHABLE');
    if (m.allocator.hasAgent(id)) for (const t of running) m.allocator.recover(t.frameworkId, t.role, id, t.resources);
    m.allocator.addAgent(id, total);
    for (const t of running) m.allocator.allocate(t.frameworkId, t.role, id, t.resources);
  }
  m.allocator.setAgentActive(id, true);
  await m.persist(ops);
  sink.send({ type: 'SUBSCRIBED', subscribed: { agent_id: { value: id }, ping_interval_seconds: m.config.agentPingIntervalSeconds } });
  for (const k of toKill) sink.send({ type: 'KILL', kill: k });
  for (const t of relaunch) sink.sendJson(launchEventJson(t));
  for (const t of m.state.tasksOfAgent(id)) if (t.killRequested && !isTerminal(t.state)) { t.killRequested = false; m.killOnAgent(t); }
  for (const t of notify) if (t.pending.length === 1) m.deliverHead(t);
  m.maintenance.agentSubscribed(id);
  m.log.info({ agentId: id, hostname: fields.hostname, reregistered: Boolean(a.record.reregisteredAt), killed: toKill.length }, 'agent subscribed');
  m.scheduleAllocation();
  return id;
}

function authorizeAgent(m: Master, call: AgentCall, streamId: string | undefined): AgentLive {
  if (!call.agent_id) throw badRequest("Expecting 'agent_id' to be present");
  const a = m.state.agents.get(call.agent_id.value);
  if (!a?.stream) throw forbidden(`Agent ${call.agent_id.value} is not subscribed`);
  if (streamId === undefined) throw badRequest("All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  if (streamId !== a.stream.id) throw badRequest(`The stream ID '${streamId}' does not match the current subscription of agent ${a.record.id}`);
  return a;
}

export async function handleAgentCall(m: Master, call: AgentCall, streamId: string | undefined): Promise<void> {
  const a = authorizeAgent(m, call, streamId);
  a.lastPingAt = m.clock.now();
  switch (call.type) {
    case 'PING':
      return;
    case 'UPDATE': {
      const updates = call.updates ?? (call.update ? [call.update] : undefined);
      if (!updates) throw badRequest("Expecting 'update' or 'updates' to be present");
      return statusUpdates(m, a, updates.map((u) => ({ frameworkId: u.framework_id.value, status: u.status as TaskStatus })));
    }
    case 'MESSAGE': {
      if (!call.message) throw badRequest("Expecting 'message' to be present");
      const msg = call.message;
      m.state.frameworks.get(msg.framework_id.value)?.stream?.send({
        type: 'MESSAGE', message: { agent_id: { value: a.record.id }, executor_id: msg.executor_id, data: msg.data },
      });
      return;
    }
    case 'UPDATE_OVERSUBSCRIBED':
      return updateOversubscribed(m, a, call.oversubscribed?.resources ?? []);
    case 'INTERRUPTION_NOTICE': {
      if (!call.interruption_notice) throw badRequest("Expecting 'interruption_notice' to be present");
      const n = call.interruption_notice;
      return interruptionNotice(m, a, { provider: n.provider, action: n.action, deadlineMs: n.deadline.nanoseconds / 1e6 });
    }
    case 'SUBSCRIBE':
      throw badRequest('SUBSCRIBE opens the event stream and cannot be sent as a call');
  }
}

/** How far from now a notice's deadline may be: EC2 gives 2 minutes, GCE 30 s; clocks differ a little. */
const NOTICE_DEADLINE_WINDOW_MS = { past: 10 * 60_000, future: 60 * 60_000 };
/** Agents whose notice is being handled (an agent retrying a slow call must not drain twice). */
const noticesInFlight = new WeakMap<Master, Set<string>>();

/**
 * The cloud is taking the agent's VM back at `deadlineMs` (a Spot interruption, a preemption). The
 * agent is drained at once as by DRAIN_AGENT — offers stop, its tasks are killed with their grace
 * capped to end INTERRUPTION_KILL_MARGIN_MS before the deadline — so their TASK_KILLED reaches their
 * frameworks rather than a TASK_LOST once the VM is gone. When the autoscaler rented the VM it is
 * told too, as by POST /v1/interruptions: it plans a replacement and releases the instance (its own
 * urgent drain finds the agent draining already). A notice for an agent already draining changes
 * nothing.
 */
async function interruptionNotice(m: Master, a: AgentLive, n: { provider: string; action: string; deadlineMs: number }): Promise<void> {
  const id = a.record.id;
  const now = m.clock.now();
  const leftMs = n.deadlineMs - now;
  if (leftMs < -NOTICE_DEADLINE_WINDOW_MS.past || leftMs > NOTICE_DEADLINE_WINDOW_MS.future) {
    throw badRequest(`interruption_notice.deadline: ${n.deadlineMs * 1e6} ns is ${Math.round(leftMs / 1000)} s from now; expecting at most ${NOTICE_DEADLINE_WINDOW_MS.past / 60_000} min ago and ${NOTICE_DEADLINE_WINDOW_MS.future / 60_000} min ahead (nanoseconds since the epoch)`);
  }
  let inFlight = noticesInFlight.get(m);
  if (!inFlight) noticesInFlight.set(m, (inFlight = new Set()));
  if (inFlight.has(id) || m.maintenance.drains.drains.has(id)) return;
  inFlight.add(id);
  try {
    m.log.warn({ agentId: id, hostname: a.record.hostname, provider: n.provider, action: n.action, deadline: new Date(n.deadlineMs).toISOString(), leftMs }, 'the cloud is taking this agent\'s VM back: draining it');
    m.metrics.interruptionNotices.inc({ provider: n.provider, action: n.action });
    await m.maintenance.drains.drain(id, { max_grace_period: { nanoseconds: Math.round(graceBeforeDeadlineMs(n.deadlineMs, now) * 1e6) }, mark_gone: false });
    const handedOff = await m.interruptionHandoff?.(id, n.deadlineMs, `${n.provider} ${n.action} notice read by the agent`)
      .catch((e: unknown) => { m.log.error({ err: e, agentId: id }, 'the autoscaler could not take the interruption notice: no replacement planned'); return false; });
    if (handedOff) m.log.info({ agentId: id }, 'interruption notice handed to the autoscaler: a replacement is planned and the instance released');
  } finally {
    inFlight.delete(id);
  }
}

/**
 * The agent's estimate of slack changed. Revocable resources are offered only to frameworks with
 * REVOCABLE_RESOURCES; when the slack shrinks below what revocable tasks hold, the newest revocable
 * tasks on the agent are killed (Mesos evicts revocable work first).
 */
async function updateOversubscribed(m: Master, a: AgentLive, list: z.infer<typeof MesosResourceSchema>[]): Promise<void> {
  const parsed = fromMesos(list);
  if (!parsed.ok) throw badRequest(`oversubscribed.resources: ${parsed.error}`);
  a.record.revocable = parsed.value;
  for (const o of m.state.offersOfAgent(a.record.id)) if (o.resources.some((b) => b.revocable)) m.rescind(o);
  let excess: Resources = m.allocator.setRevocable(a.record.id, parsed.value);
  if (!isEmpty(excess)) {
    const revocableTasks = m.state.tasksOfAgent(a.record.id)
      .filter((t) => !isTerminal(t.state) && t.resources.some((b) => b.revocable))
      .sort((x, y) => (y.statuses[0]?.timestamp ?? 0) - (x.statuses[0]?.timestamp ?? 0));
    for (const t of revocableTasks) {
      if (isEmpty(excess)) break;
      m.log.info({ agentId: a.record.id, taskId: t.info.task_id.value }, 'preempting a revocable task: the agent\'s slack shrank');
      m.killOnAgent(t);
      excess = subtractResources(excess, flatten(t.resources.filter((b) => b.revocable)));
    }
  }
  await m.persist([{ op: 'put', hash: 'agents', id: a.record.id, value: a.record }]);
  m.scheduleAllocation();
}

/** Applies remembered dynamic reservations to what an agent reports; drops those that no longer fit. */
function withDynamicReservations(reported: ResourceSet, dynamic: ResourceSet): { total: ResourceSet; dynamic: ResourceSet; dropped: ResourceSet } {
  let total = reported;
  let kept = NO_RESOURCES;
  let dropped = NO_RESOURCES;
  for (const b of dynamic) {
    const from = unreservedSet(b.resources);
    if (containsSet(total, from)) {
      total = addSets(subtractSets(total, from), [b]);
      kept = addSets(kept, [b]);
    } else {
      dropped = addSets(dropped, [b]);
    }
  }
  return { total, dynamic: kept, dropped };
}

const sameSet = (a: ResourceSet, b: ResourceSet): boolean => containsSet(a, b) && containsSet(b, a);
const isEmptyList = (s: ResourceSet): boolean => s.length === 0;

/**
 * Status updates from an agent: recorded durably (one fenced write for the whole call) and each
 * forwarded in order to its framework. The 202 that follows the write is the agent's
 * acknowledgement. Forwarding does not wait for the write (Mesos' master does not either): until
 * the 202 the agent keeps the update and re-sends it to whichever master leads next, so a crash
 * between the two only means a duplicate, which at-least-once delivery allows.
 */
async function statusUpdates(m: Master, a: AgentLive, updates: { frameworkId: string; status: TaskStatus }[]): Promise<void> {
  const ops: WriteOp[] = [];
  const fresh: TaskRecord[] = [];
  for (const { frameworkId, status } of updates) {
    const t = m.state.task(frameworkId, status.task_id.value);
    if (!t || t.agentId !== a.record.id) {
      // A task the master does not track (its framework was removed): make sure it stops.
      if (!isTerminal(status.state)) a.stream?.send({ type: 'KILL', kill: { framework_id: { value: frameworkId }, task_id: status.task_id } });
      continue;
    }
    if (t.statuses.some((s) => s.uuid === status.uuid)) continue; // a retry of one already recorded
    if (isTerminal(t.state)) continue; // nothing follows a terminal state
    const full: TaskStatus = m.maintenance.rewriteStatus(a.record.id, {
      ...status, agent_id: { value: a.record.id }, source: status.source ?? 'SOURCE_EXECUTOR', timestamp: status.timestamp ?? m.clock.now() / 1000,
    });
    ops.push(...m.applyStatus(t, full));
    if (t.pending.length === 1) fresh.push(t);
  }
  const written = m.persist(ops);
  for (const t of fresh) m.deliverHead(t);
  await written;
}
