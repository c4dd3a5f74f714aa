// Handlers for the Mesos v1 scheduler API calls. Each validates, changes the master's state, writes
// it through the Store and only then returns (the HTTP layer answers 202 / streams SUBSCRIBED).
import { badRequest, forbidden } from '../common/errors.ts';
import type { Call, FrameworkInfo, Operation, TaskInfo } from '../mesos/scheduler-call.ts';
import { isTerminal, type TaskState, type TaskStatus } from '../mesos/task-status.ts';
import { add, subtract, EMPTY, type Resources } from '../resources/resources.ts';
import type { Master } from './master.ts';
import { frameworkRole, hasCapability, type EventSink, type FrameworkLive, type Offer, type TaskRecord } from './records.ts';
import { validateIdValue, validateTask } from './task-validation.ts';
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

export async function subscribeFramework(m: Master, call: Call, sink: EventSink): Promise<string> {
  const sub = call.subscribe!;
  const info = sub.framework_info;
  validateFrameworkInfo(info);
  if (call.framework_id && info.id && call.framework_id.value !== info.id.value) {
    throw badRequest("'framework_id' differs from 'subscribe.framework_info.id'");
  }
  const requested = info.id?.value;
  if (requested && m.removedFrameworks.has(requested)) {
    throw forbidden(`Framework ${requested} has been removed (torn down or failover timeout elapsed)`);
  }
  const now = m.clock.now();
  let f = requested ? m.state.frameworks.get(requested) : undefined;
  if (f) {
    if (frameworkRole(f.record.info) !== frameworkRole(info)) throw badRequest('Changing the role of a framework on re-subscription is not supported');
    if (f.stream && f.stream !== sink) {
      // The newest subscription wins (Mesos' failover); the old scheduler learns why.
      f.stream.send({ type: 'ERROR', message: 'Framework failed over' });
      f.stream.close();
    }
    f.record.info = { ...info, id: { value: f.record.id } };
    f.record.reregisteredAt = now;
    f.record.disconnectedAt = undefined;
    f.recovered = false;
  } else {
    const id = requested ?? m.newFrameworkId();
    f = { record: { id, info: { ...info, id: { value: id } }, registeredAt: now }, recovered: false };
    m.state.frameworks.set(id, f);
  }
  const id = f.record.id;
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
  m.allocator.addFramework(id, frameworkRole(info));
  m.allocator.setFrameworkActive(id, true);
  if ((sub.suppressed_roles ?? []).includes(frameworkRole(info))) m.allocator.suppress(id);
  for (const t of m.state.tasksOfFramework(id)) m.deliverHead(t);
  m.log.info({ frameworkId: id, name: info.name }, f.record.reregisteredAt ? 'framework re-subscribed' : 'framework subscribed');
  m.scheduleAllocation();
  return id;
}

/** Finds the caller's framework and checks its stream id, with Mesos' status codes. */
export function authorizeCall(m: Master, call: Call, streamId: string | undefined): FrameworkLive {
  if (!call.framework_id) throw badRequest("Expecting 'framework_id' to be present");
  const f = m.state.frameworks.get(call.framework_id.value);
  if (!f) throw forbidden('Framework cannot be found');
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
      return accept(m, f, call.decline!.offer_ids.map((o) => o.value), [], call.decline!.filters?.refuse_seconds);
    case 'REVIVE':
      m.allocator.revive(fid);
      m.scheduleAllocation();
      return;
    case 'SUPPRESS':
      m.allocator.suppress(fid);
      return;
    case 'KILL':
      return kill(m, f, call.kill!.task_id.value);
    case 'SHUTDOWN':
      // Command tasks run under an executor whose id is the task id.
      return kill(m, f, call.shutdown!.executor_id.value);
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
      // Recorded for the autoscaler's demand tracking; the allocator itself ignores requests (as in Mesos).
      m.log.info({ frameworkId: fid, requests: call.request!.requests.length }, 'resource request');
      return;
    case 'UPDATE_FRAMEWORK':
      return updateFramework(m, f, call.update_framework!.framework_info);
    case 'ACCEPT_INVERSE_OFFERS':
    case 'DECLINE_INVERSE_OFFERS':
    case 'ACKNOWLEDGE_OPERATION_STATUS':
    case 'RECONCILE_OPERATIONS':
      // No inverse offers or offer operations with status are issued yet; accepted and ignored.
      return;
    case 'SUBSCRIBE':
      throw badRequest('SUBSCRIBE must be sent on its own connection and opens the event stream');
  }
}

async function updateFramework(m: Master, f: FrameworkLive, info: FrameworkInfo): Promise<void> {
  validateFrameworkInfo(info);
  if (info.id && info.id.value !== f.record.id) throw badRequest("'framework_info.id' does not match 'framework_id'");
  if (frameworkRole(info) !== frameworkRole(f.record.info)) throw badRequest('Changing the role of a framework is not supported');
  f.record.info = { ...info, id: { value: f.record.id } };
  await m.persist([{ op: 'put', hash: 'frameworks', id: f.record.id, value: f.record }]);
}

/** ACCEPT (and DECLINE, which is ACCEPT with no operations), with Mesos' validation. */
async function accept(m: Master, f: FrameworkLive, offerIds: string[], operations: Operation[], refuseSeconds?: number): Promise<void> {
  const fid = f.record.id;
  const now = m.clock.now();
  const launches = operations.flatMap((op) => (op.type === 'LAUNCH' ? op.launch?.task_infos ?? [] : []));
  const offers: Offer[] = [];
  let invalid: string | undefined = offerIds.length === 0 ? 'No offers specified' : undefined;
  const seen = new Set<string>();
  for (const id of offerIds) {
    const o = m.state.offers.get(id);
    if (seen.has(id)) invalid ??= `Offer ${id} appears more than once`;
    else if (!o) invalid ??= `Offer ${id} is no longer valid`;
    else if (o.frameworkId !== fid) invalid ??= `Offer ${id} belongs to another framework`;
    else offers.push(o);
    seen.add(id);
  }
  if (!invalid && new Set(offers.map((o) => o.agentId)).size > 1) invalid = 'Aggregated offers must belong to one agent';
  // Offers leave the book now, so a concurrent ACCEPT of the same offer finds nothing.
  for (const o of offers) m.state.deleteOffer(o);
  const agentId = offers[0]?.agentId;
  const agent = agentId ? m.state.agents.get(agentId) : undefined;
  if (!invalid && !agent?.stream) invalid = `Agent ${agentId} is not connected`;
  if (invalid) {
    for (const o of offers) m.allocator.recover(fid, o.agentId, o.resources);
    const partitionAware = hasCapability(f.record.info, 'PARTITION_AWARE');
    for (const t of launches) sendUntracked(m, f, t, partitionAware ? 'TASK_DROPPED' : 'TASK_LOST', invalid, 'REASON_INVALID_OFFERS');
    m.scheduleAllocation();
    return;
  }
  let remaining = offers.reduce((r: Resources, o) => add(r, o.resources), EMPTY);
  const role = offers[0].role;
  const launched: TaskRecord[] = [];
  const idsHere = new Set<string>();
  for (const op of operations) {
    if (op.type === 'LAUNCH') continue;
    const tasks = op.type === 'LAUNCH_GROUP' ? ((op as { launch_group?: { task_group?: { tasks?: TaskInfo[] } } }).launch_group?.task_group?.tasks ?? []) : [];
    for (const t of tasks) sendUntracked(m, f, t, 'TASK_ERROR', `Operation ${op.type} is not supported`, 'REASON_TASK_INVALID');
    if (tasks.length === 0) f.stream?.send({ type: 'ERROR', message: `Operation ${op.type} is not supported yet; it was ignored` });
  }
  for (const info of launches) {
    const check = validateTask(info, {
      agentId: agentId!,
      available: remaining,
      idInUse: (tid) => idsHere.has(tid) || isLive(m.state.task(fid, tid)),
    });
    if (!check.ok) {
      sendUntracked(m, f, info, 'TASK_ERROR', check.error, 'REASON_TASK_INVALID');
      continue;
    }
    idsHere.add(info.task_id.value);
    remaining = subtract(remaining, check.resources);
    launched.push({ frameworkId: fid, agentId: agentId!, role, info, resources: check.resources, state: 'TASK_STAGING', statuses: [], pending: [] });
  }
  for (const t of launched) m.state.putTask(t);
  m.allocator.recover(fid, agentId!, remaining, { refuseSeconds: refuseSeconds ?? m.config.defaultRefuseSeconds, now });
  if (launched.length) await m.persist(launched.map((t) => m.putTaskOp(t)));
  for (const t of launched) {
    agent!.stream?.send({ type: 'LAUNCH', launch: { framework_id: { value: fid }, task: t.info } });
    m.metrics.tasksLaunched.inc();
  }
  m.scheduleAllocation();
}

const isLive = (t: TaskRecord | undefined): boolean => t !== undefined && !isTerminal(t.state);

/** Master-generated updates for tasks that never existed: no uuid, so not retried (as in Mesos). */
function sendUntracked(m: Master, f: FrameworkLive, info: TaskInfo, state: TaskState, message: string, reason: string): void {
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

