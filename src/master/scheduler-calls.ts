// Handlers for the Mesos v1 scheduler API calls. Each validates, changes the master's state, writes
// it through the Store and only then returns (the HTTP layer answers 202 / streams SUBSCRIBED).
import { badRequest, forbidden } from '../common/errors.ts';
import type { Call, FrameworkInfo, TaskInfo } from '../mesos/scheduler-call.ts';
import { isTerminal, type TaskState, type TaskStatus } from '../mesos/task-status.ts';
import type { Master } from './master.ts';
import { frameworkRoles, hasCapability, type EventSink, type FrameworkLive, type TaskRecord } from './records.ts';
import { errorEvent } from './mesos-json.ts';
import { validateIdValue } from './task-validation.ts';
import { accept } from './accept.ts';
import { decline } from './decline.ts';
import { parseRequest } from './demand.ts';
import { VERSION } from '../common/version.ts';

export function validateFrameworkInfo(info: FrameworkInfo): void {
  const roles = info.roles ?? (info.role !== undefined ? [info.role] : []);
  if (info.roles && info.role !== undefined) throw badRequest("FrameworkInfo: 'role' and 'roles' cannot both be set");
  if (roles.length > 1 && !hasCapability(info, 'MULTI_ROLE')) throw badRequest('FrameworkInfo: several roles need the MULTI_ROLE capability');
  for (const r of roles) {
    const err = validateRoleName(r);
    if (err) throw badRequest(`FrameworkInfo: role '${r}' is invalid: ${err}`);
  }
  if (info.id) {
    const err = validateIdValue('framework ID', info.id.value);
    if (err) throw badRequest(`FrameworkInfo: ${err}`);
  }
}

/** Mesos role-name rules (docs/roles.md). */
export function validateRoleName(role: string): string | undefined {
  if (role === '*') return undefined;
  if (role.length === 0) return 'a role name must not be empty';
  if (role === '.' || role === '..') return `'${role}' is not a valid role name`;
  if (role.startsWith('/') || role.endsWith('/')) return 'a role name must not start or end with a slash';
  if (role.startsWith('-')) return "a role name must not start with '-'";
  if (/[\s\x00-\x1f\x7f\\]/.test(role)) return 'a role name must not contain whitespace, control characters or backslashes';
  for (const part of role.split('/')) {
    if (part === '' || part === '.' || part === '..') return `role path component '${part}' is not allowed`;
    if (part === '*') return "'*' may only be used as the whole role name";
  }
  return undefined;
}

/**
 * Makes the allocator's view of a framework's roles match its FrameworkInfo. As in Mesos a role may
 * be left at any time: its offers are rescinded, its tasks keep running (and counting against the
 * role) until they end, and it gets no more offers.
 */
function applyRoles(m: Master, id: string, info: FrameworkInfo): void {
  const wanted = frameworkRoles(info);
  for (const role of m.allocator.rolesOf(id)) {
    if (wanted.includes(role)) continue;
    for (const o of m.state.offersOfFramework(id)) if (o.role === role) m.rescind(o);
    m.allocator.removeRole(id, role);
  }
  m.allocator.addFramework(id, wanted, { revocable: hasCapability(info, 'REVOCABLE_RESOURCES') });
}

/**
 * Subscribes (or fails over) a framework onto `sink`. Returns its id, or undefined when the master
 * refused it on the stream as Mesos does (an ERROR event, then the stream closes): a framework that
 * was removed may not come back.
 */
export async function subscribeFramework(m: Master, call: Call, sink: EventSink): Promise<string | undefined> {
  const sub = call.subscribe!;
  const info = sub.framework_info;
  validateFrameworkInfo(info);
  if (call.framework_id && info.id && call.framework_id.value !== info.id.value) {
    throw badRequest("'framework_id' differs from 'subscribe.framework_info.id'");
  }
  const requested = info.id?.value;
  if (requested && m.removedFrameworks.has(requested)) {
    m.log.info({ frameworkId: requested, name: info.name }, 'refusing subscription: framework has been removed (torn down or failover timeout elapsed)');
    sink.send(errorEvent('Framework has been removed'));
    sink.close();
    return undefined;
  }
  const now = m.clock.now();
  let f = requested ? m.state.frameworks.get(requested) : undefined;
  if (f) {
    // As Mesos' failover: offers made to the previous subscription are withdrawn (it never saw or
    // closes on them; the new one gets fresh offers) — before the role check, which counts them.
    for (const o of m.state.offersOfFramework(f.record.id)) m.rescind(o, false);
    applyRoles(m, f.record.id, info);
    if (f.stream && f.stream !== sink) {
      // The newest subscription wins (Mesos' failover); the old scheduler learns why.
      f.stream.send(errorEvent('Framework failed over'));
      f.stream.close();
    }
    f.record.info = { ...info, id: { value: f.record.id } };
    f.record.reregisteredAt = now;
    f.record.disconnectedAt = undefined;
    f.recovered = false;
  } else {
    const id = requested ?? m.newFrameworkId();
    applyRoles(m, id, info);
    f = { record: { id, info: { ...info, id: { value: id } }, registeredAt: now }, recovered: false };
    m.state.frameworks.set(id, f);
  }
  const id = f.record.id;
  // No offers may overtake SUBSCRIBED: the framework stays inactive until that event is out.
  m.allocator.setFrameworkActive(id, false);
  f.stream = sink;
  await m.persist([{ op: 'put', hash: 'frameworks', id, value: f.record }]);
  sink.send({
    type: 'SUBSCRIBED',
    subscribed: {
      framework_id: { value: id },
      heartbeat_interval_seconds: m.config.heartbeatIntervalSeconds,
      master_info: { id: m.id, ip: 0, port: 0, hostname: 'spillway', version: VERSION },
    },
  });
  m.allocator.setFrameworkActive(id, true);
  // Suppression is what this SUBSCRIBE says, not what a previous subscription left (Mesos).
  m.allocator.setSuppressedRoles(id, sub.suppressed_roles ?? []);
  for (const t of m.state.tasksOfFramework(id)) m.deliverHead(t, true);
  m.log.info({ frameworkId: id, name: info.name }, f.record.reregisteredAt ? 'framework re-subscribed' : 'framework subscribed');
  m.scheduleAllocation();
  return id;
}

/** Finds the caller's framework and checks its stream id, with Mesos' status codes. */
export function authorizeCall(m: Master, call: Call, streamId: string | undefined): FrameworkLive {
  if (!call.framework_id) throw badRequest("Expecting 'framework_id' to be present");
  const f = m.state.frameworks.get(call.framework_id.value);
  if (!f) throw badRequest('Framework cannot be found');
  if (!f.stream) throw forbidden('Framework is not subscribed');
  if (streamId === undefined) throw badRequest("All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  if (streamId !== f.stream.id) {
    throw badRequest(`The stream ID '${streamId}' included in this request didn't match the stream ID currently associated with framework ID ${f.record.id}`);
  }
  return f;
}

export async function handleSchedulerCall(m: Master, call: Call, streamId: string | undefined): Promise<void> {
  const f = authorizeCall(m, call, streamId);
  const fid = f.record.id;
  switch (call.type) {
    case 'TEARDOWN':
      return m.removeFramework(f, 'TEARDOWN by the framework');
    case 'ACCEPT':
      return accept(m, f, call.accept!.offer_ids.map((o) => o.value), call.accept!.operations, call.accept!.filters?.refuse_seconds);
    case 'DECLINE':
      return decline(m, f, call.decline!.offer_ids.map((o) => o.value), call.decline!.filters?.refuse_seconds);
    case 'REVIVE':
      checkRoles(f, call.revive?.roles);
      m.allocator.revive(fid, call.revive?.roles);
      m.scheduleAllocation();
      return;
    case 'SUPPRESS':
      checkRoles(f, call.suppress?.roles);
      m.allocator.suppress(fid, call.suppress?.roles);
      return;
    case 'KILL':
      return kill(m, f, call.kill!.task_id.value);
    case 'SHUTDOWN': {
      // Command tasks run under an executor whose id is the task id. As in Mesos the shutdown goes
      // to the named agent, and an executor it does not run is ignored: no status update.
      const { executor_id, agent_id } = call.shutdown!;
      const t = m.state.task(fid, executor_id.value);
      if (!t || t.agentId !== agent_id.value) return;
      return kill(m, f, executor_id.value);
    }
    case 'ACKNOWLEDGE':
      if (Buffer.from(call.acknowledge!.uuid, 'base64').length !== 16) throw badRequest("'acknowledge.uuid' is not a valid UUID");
      return m.acknowledge(fid, call.acknowledge!.task_id.value, call.acknowledge!.uuid);
    case 'RECONCILE':
      return reconcile(m, f, call.reconcile?.tasks ?? []);
    case 'MESSAGE': {
      const msg = call.message!;
      m.state.agents.get(msg.agent_id.value)?.stream?.send({ type: 'MESSAGE', message: { framework_id: { value: fid }, executor_id: msg.executor_id, data: msg.data } });
      return;
    }
    case 'REQUEST':
      return m.setDemand(fid, parseRequest(fid, frameworkRoles(f.record.info)[0], call.request!.requests, m.clock.now(), m.demands.get(fid) ?? []));
    case 'UPDATE_FRAMEWORK':
      return updateFramework(m, f, call.update_framework!.framework_info, call.update_framework!.suppressed_roles);
    case 'ACCEPT_INVERSE_OFFERS':
    case 'DECLINE_INVERSE_OFFERS': {
      const answer = call.type === 'ACCEPT_INVERSE_OFFERS' ? call.accept_inverse_offers : call.decline_inverse_offers;
      return m.maintenance.inverseOffers.answer(f, (answer?.inverse_offer_ids ?? []).map((o) => o.value), call.type === 'ACCEPT_INVERSE_OFFERS' ? 'ACCEPT' : 'DECLINE', answer?.filters?.refuse_seconds);
    }
    case 'ACKNOWLEDGE_OPERATION_STATUS':
    case 'RECONCILE_OPERATIONS':
      // No offer operations with status are issued yet; accepted and ignored.
      return;
    case 'SUBSCRIBE':
      throw badRequest('SUBSCRIBE must be sent on its own connection and opens the event stream');
  }
}

function checkRoles(f: FrameworkLive, roles: string[] | undefined): void {
  const mine = frameworkRoles(f.record.info);
  for (const r of roles ?? []) if (!mine.includes(r)) throw badRequest(`Role '${r}' is not one of the framework's roles (${mine.join(', ')})`);
}

async function updateFramework(m: Master, f: FrameworkLive, info: FrameworkInfo, suppressedRoles: string[] = []): Promise<void> {
  validateFrameworkInfo(info);
  if (info.id && info.id.value !== f.record.id) throw badRequest("'framework_info.id' does not match 'framework_id'");
  const roles = frameworkRoles(info);
  const stray = suppressedRoles.find((r) => !roles.includes(r));
  if (stray) throw badRequest(`'suppressed_roles' names '${stray}', which is not one of the framework's roles`);
  applyRoles(m, f.record.id, info);
  m.allocator.setSuppressedRoles(f.record.id, suppressedRoles);
  f.record.info = { ...info, id: { value: f.record.id } };
  await m.persist([{ op: 'put', hash: 'frameworks', id: f.record.id, value: f.record }]);
  m.scheduleAllocation();
}

export const isLive = (t: TaskRecord | undefined): boolean => t !== undefined && !isTerminal(t.state);

/** Master-generated updates for tasks that never existed: no uuid, so not retried (as in Mesos). */
export function sendUntracked(m: Master, f: FrameworkLive, info: TaskInfo, state: TaskState, message: string, reason: string): void {
  const status: TaskStatus = {
    task_id: info.task_id, state, message, reason, source: 'SOURCE_MASTER', agent_id: info.agent_id, timestamp: m.clock.now() / 1000,
  };
  m.metrics.taskStates.inc({ state });
  f.stream?.send({ type: 'UPDATE', update: { status } });
}

async function kill(m: Master, f: FrameworkLive, taskId: string): Promise<void> {
  const t = m.state.task(f.record.id, taskId);
  if (!t) {
    const state = hasCapability(f.record.info, 'PARTITION_AWARE') ? 'TASK_UNKNOWN' : 'TASK_LOST';
    f.stream?.send({
      type: 'UPDATE',
      update: { status: { task_id: { value: taskId }, state, message: 'Attempted to kill an unknown task', reason: 'REASON_RECONCILIATION', source: 'SOURCE_MASTER', timestamp: m.clock.now() / 1000 } },
    });
    return;
  }
  if (isTerminal(t.state)) return;
  // Its ACCEPT is still waiting (launch gate, write): the agent has not heard of it, and a KILL
  // sent now would only make it answer TASK_LOST and then run the LAUNCH that follows. The ACCEPT
  // ends the task TASK_KILLED instead of launching it.
  if (m.launching.has(t)) {
    t.killRequested = true;
    return;
  }
  const grace = t.info.kill_policy?.grace_period?.nanoseconds;
  if (!m.killOnAgent(t, grace !== undefined ? grace / 1e9 : undefined)) {
    await m.persist([m.putTaskOp(t)]);
  }
}

function reconcile(m: Master, f: FrameworkLive, tasks: { task_id: { value: string }; agent_id?: { value: string } }[]): void {
  const fid = f.record.id;
  const now = m.clock.now() / 1000;
  const partitionAware = hasCapability(f.record.info, 'PARTITION_AWARE');
  const statusOf = (t: TaskRecord): TaskStatus => {
    const last = t.statuses[t.statuses.length - 1];
    const base = last ?? { task_id: t.info.task_id, state: t.state, source: 'SOURCE_MASTER' as const, agent_id: { value: t.agentId } };
    const { uuid: _uuid, ...rest } = base;
    return { ...rest, state: t.state, reason: 'REASON_RECONCILIATION', message: 'Reconciliation: latest task status', timestamp: now };
  };
  const send = (status: TaskStatus): void => f.stream?.send({ type: 'UPDATE', update: { status } });
  if (tasks.length === 0) {
    for (const t of m.state.tasksOfFramework(fid)) send(statusOf(t));
    return;
  }
  for (const { task_id, agent_id } of tasks) {
    const t = m.state.task(fid, task_id.value);
    if (t) { send(statusOf(t)); continue; }
    const state: TaskState = partitionAware ? 'TASK_UNKNOWN' : 'TASK_LOST';
    send({ task_id, state, reason: 'REASON_RECONCILIATION', message: 'Reconciliation: Task is unknown', source: 'SOURCE_MASTER', timestamp: now, ...(agent_id ? { agent_id } : {}) });
  }
}

