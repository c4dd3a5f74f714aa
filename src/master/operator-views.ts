// Read-only views of the master for the v1 operator API (master.proto Response shapes) and the
// legacy /master/state JSON that Mesos tools read.
import { toMesos, toMesosSet } from '../resources/mesos-resources.ts';
import { flatten, reservedByRole, unreservedPart } from '../resources/resource-set.ts';
import { isTerminal } from '../mesos/task-status.ts';
import { add, EMPTY, type Resources } from '../resources/resources.ts';
import { VERSION } from '../common/version.ts';
import type { Master } from './master.ts';
import { agentInfoJson, legacyAttributes, legacyResources, nanos, offerJson, taskJson } from './mesos-json.ts';
import type { TaskRecord } from './records.ts';

export function getAgents(m: Master): object {
  const agents = [];
  for (const a of m.state.agents.values()) {
    if (a.record.unreachableSince) continue;
    agents.push({
      agent_info: agentInfoJson(a.record),
      active: Boolean(a.stream) && !m.maintenance.isDeactivated(a.record.id),
      ...m.maintenance.agentView(a.record.id),
      version: a.record.version,
      pid: `slave(1)@${a.record.hostname}:${a.record.port}`,
      registered_time: nanos(a.record.registeredAt),
      ...(a.record.reregisteredAt ? { reregistered_time: nanos(a.record.reregisteredAt) } : {}),
      total_resources: toMesosSet(a.record.resources),
      allocated_resources: toMesosSet(m.usedOn(a.record.id)),
      offered_resources: toMesosSet(m.offeredOn(a.record.id)),
      capabilities: [],
    });
  }
  const unreachable = [...m.state.agents.values()].filter((a) => a.record.unreachableSince).map((a) => agentInfoJson(a.record));
  return { agents, recovered_agents: [], ...(unreachable.length ? { unreachable_agents: unreachable } : {}) };
}

export function getFrameworks(m: Master): object {
  const frameworks = [];
  const completed = m.completedFrameworks.map((c) => ({
    framework_info: c.info, active: false, connected: false, recovered: false,
    registered_time: nanos(c.registeredAt ?? c.removedAt), unregistered_time: nanos(c.removedAt),
  }));
  for (const f of m.state.frameworks.values()) {
    const offers = m.state.offersOfFramework(f.record.id);
    const agentsById = (id: string) => m.state.agents.get(id)!.record;
    frameworks.push({
      framework_info: f.record.info,
      active: Boolean(f.stream),
      connected: Boolean(f.stream),
      recovered: f.recovered,
      registered_time: nanos(f.record.registeredAt),
      ...(f.record.reregisteredAt ? { reregistered_time: nanos(f.record.reregisteredAt) } : {}),
      ...(f.record.disconnectedAt ? { unregistered_time: nanos(f.record.disconnectedAt) } : {}),
      offers: offers.map((o) => offerJson(o, agentsById(o.agentId))),
      inverse_offers: m.maintenance.inverseOffers.ofFramework(f.record.id),
      allocated_resources: toMesos(m.allocator.allocationOf(f.record.id)),
      offered_resources: toMesos(offers.reduce((r, o) => add(r, flatten(o.resources)), EMPTY)),
    });
  }
  return { frameworks, completed_frameworks: completed, recovered_frameworks: [] };
}

export function getTasks(m: Master, completed: TaskRecord[] = []): object {
  const tasks: object[] = [];
  const unreachable: object[] = [];
  const done: object[] = completed.map(taskJson);
  for (const t of m.state.tasks.values()) {
    if (t.state === 'TASK_UNREACHABLE') unreachable.push(taskJson(t));
    else if (isTerminal(t.state)) done.push(taskJson(t));
    else tasks.push(taskJson(t));
  }
  return { pending_tasks: [], tasks, unreachable_tasks: unreachable, completed_tasks: done, orphan_tasks: [] };
}

export function getVersion(): object {
  return { version_info: { version: VERSION, build_user: 'spillway' } };
}

/** GET /master/state: the legacy JSON (snake_case, flat resources) read by Mesos-era tools. */
export function legacyState(m: Master, selfUrl: string, completed: TaskRecord[]): object {
  const tasksOf = (fid: string) => m.state.tasksOfFramework(fid);
  const legacyTask = (t: TaskRecord) => ({
    id: t.info.task_id.value,
    name: t.info.name,
    framework_id: t.frameworkId,
    executor_id: '',
    slave_id: t.agentId,
    state: t.state,
    role: t.role,
    resources: legacyResources(flatten(t.resources)),
    statuses: t.statuses.map((s) => ({ state: s.state, timestamp: s.timestamp })),
  });
  const agents = [...m.state.agents.values()].filter((a) => !a.record.unreachableSince);
  const host = new URL(selfUrl);
  return {
    version: VERSION,
    id: m.id,
    pid: `master@${host.host}`,
    hostname: host.hostname,
    start_time: m.startedAt / 1000,
    elected_time: m.startedAt / 1000,
    leader: `master@${host.host}`,
    activated_slaves: agents.filter((a) => a.stream && !m.maintenance.isDeactivated(a.record.id)).length,
    deactivated_slaves: agents.filter((a) => !a.stream || m.maintenance.isDeactivated(a.record.id)).length,
    unreachable_slaves: m.state.agents.size - agents.length,
    slaves: agents.map((a) => ({
      id: a.record.id,
      pid: `slave(1)@${a.record.hostname}:${a.record.port}`,
      hostname: a.record.hostname,
      port: a.record.port,
      registered_time: a.record.registeredAt / 1000,
      resources: legacyResources(flatten(a.record.resources)),
      used_resources: legacyResources(flatten(m.usedOn(a.record.id))),
      offered_resources: legacyResources(flatten(m.offeredOn(a.record.id))),
      reserved_resources: Object.fromEntries([...reservedByRole(a.record.resources)].map(([role, r]) => [role, legacyResources(r)])),
      unreserved_resources: legacyResources(unreservedPart(a.record.resources)),
      attributes: legacyAttributes(a.record.attributes),
      active: Boolean(a.stream) && !m.maintenance.isDeactivated(a.record.id),
      version: a.record.version,
    })),
    frameworks: [...m.state.frameworks.values()].map((f) => {
      const tasks = tasksOf(f.record.id);
      return {
        id: f.record.id,
        name: f.record.info.name,
        user: f.record.info.user,
        hostname: f.record.info.hostname ?? '',
        role: f.record.info.roles?.[0] ?? f.record.info.role ?? '*',
        roles: f.record.info.roles ?? [f.record.info.role ?? '*'],
        principal: f.record.info.principal,
        active: Boolean(f.stream),
        connected: Boolean(f.stream),
        recovered: f.recovered,
        failover_timeout: f.record.info.failover_timeout ?? 0,
        capabilities: (f.record.info.capabilities ?? []).map((c) => c.type),
        registered_time: f.record.registeredAt / 1000,
        used_resources: legacyResources(m.allocator.allocationOf(f.record.id)),
        offered_resources: legacyResources(m.state.offersOfFramework(f.record.id).reduce((r, o) => add(r, flatten(o.resources)), EMPTY)),
        tasks: tasks.filter((t) => !isTerminal(t.state)).map(legacyTask),
        completed_tasks: [...tasks.filter((t) => isTerminal(t.state)), ...completed.filter((t) => t.frameworkId === f.record.id)].map(legacyTask),
        offers: m.state.offersOfFramework(f.record.id).map((o) => ({ id: o.id, slave_id: o.agentId, resources: legacyResources(flatten(o.resources)) })),
      };
    }),
    completed_frameworks: m.completedFrameworks.map((c) => ({
      id: c.id, name: c.info.name, user: c.info.user, hostname: c.info.hostname ?? '',
      role: c.info.roles?.[0] ?? c.info.role ?? '*', roles: c.info.roles ?? [c.info.role ?? '*'], principal: c.info.principal,
      active: false, connected: false, recovered: false, failover_timeout: c.info.failover_timeout ?? 0,
      capabilities: (c.info.capabilities ?? []).map((x) => x.type),
      registered_time: (c.registeredAt ?? c.removedAt) / 1000, unregistered_time: c.removedAt / 1000,
      used_resources: legacyResources(EMPTY), offered_resources: legacyResources(EMPTY),
      tasks: [], completed_tasks: completed.filter((t) => t.frameworkId === c.id).map(legacyTask), offers: [],
    })),
    unregistered_frameworks: [],
  };
}

const quantities = (r: Record<string, number>): Record<string, { value: number }> =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { value: v }]));

/** GET_ROLES: every known role with weight, frameworks, allocation, reservations and quota. */
export function getRoles(m: Master): object {
  const offered = new Map<string, Resources>();
  for (const o of m.state.offers.values()) offered.set(o.role, add(offered.get(o.role) ?? EMPTY, flatten(o.resources)));
  const reserved = new Map<string, Resources>();
  for (const a of m.state.agents.values()) {
    if (a.record.unreachableSince) continue;
    for (const [role, r] of reservedByRole(a.record.resources)) reserved.set(role, add(reserved.get(role) ?? EMPTY, r));
  }
  return {
    roles: m.allocator.roles().map((r) => ({
      name: r.role,
      weight: r.weight,
      frameworks: r.frameworks.map((value) => ({ value })),
      allocated: toMesos(r.allocated),
      offered: toMesos(offered.get(r.role) ?? EMPTY),
      reserved: toMesos(reserved.get(r.role) ?? EMPTY),
      quota: {
        role: r.role,
        guarantees: quantities(r.quota?.guarantees ?? {}),
        limits: quantities(r.quota?.limits ?? {}),
        consumed: quantities(r.consumption.scalars),
      },
    })),
  };
}

export function getWeights(m: Master): object {
  return { weight_infos: [...m.allocator.weights()].map(([role, weight]) => ({ role, weight })) };
}

export function getQuota(m: Master): object {
  const configs = [...m.quotas].map(([role, q]) => ({ role, guarantees: quantities(q.guarantees), limits: quantities(q.limits) }));
  return { status: { configs } };
}

/** GET /v1/demand: what frameworks asked for with REQUEST and have not yet launched. */
export function demandView(m: Master): object {
  const frameworks = [...m.demands].map(([fid, units]) => ({
    framework_id: { value: fid },
    units: units.map((u) => ({ id: u.id, role: u.role, resources: toMesos(u.shape), count: u.count, constraints: u.constraints, since: new Date(u.since).toISOString() })),
  }));
  return { frameworks, total_units: [...m.demands.values()].flat().reduce((n, u) => n + u.count, 0) };
}
