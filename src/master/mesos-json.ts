// Mesos v1 JSON shapes of the master's objects (mesos.proto / master.proto), shared by scheduler
// events, the operator API and the legacy /master/state endpoint.
import { toMesosSet } from '../resources/mesos-resources.ts';
import { format, type Resources } from '../resources/resources.ts';
import type { AgentRecord, MesosAttribute, Offer, TaskRecord } from './records.ts';

/**
 * An ERROR event. scheduler.proto nests the text (`error.message`); the Mesos docs' example shows
 * it at the top level, so both are sent and either kind of client finds it.
 */
export function errorEvent(message: string): { type: 'ERROR'; error: { message: string }; message: string } {
  return { type: 'ERROR', error: { message }, message };
}

export const nanos = (ms: number): { nanoseconds: number } => ({ nanoseconds: Math.round(ms * 1e6) });

export function offerJson(o: Offer, agent: AgentRecord): object {
  return {
    id: { value: o.id },
    framework_id: { value: o.frameworkId },
    agent_id: { value: o.agentId },
    hostname: agent.hostname,
    url: { scheme: 'http', address: { hostname: agent.hostname, ip: agent.hostname, port: agent.port }, path: '/slave(1)' },
    resources: toMesosSet(o.resources, o.role),
    attributes: agent.attributes,
    executor_ids: [],
    allocation_info: { role: o.role },
  };
}

export function agentInfoJson(a: AgentRecord): object {
  return {
    id: { value: a.id },
    hostname: a.hostname,
    port: a.port,
    resources: toMesosSet(a.resources),
    attributes: a.attributes,
  };
}

export function taskJson(t: TaskRecord): object {
  const last = t.statuses[t.statuses.length - 1];
  return {
    name: t.info.name,
    task_id: t.info.task_id,
    framework_id: { value: t.frameworkId },
    executor_id: { value: t.info.task_id.value },
    agent_id: { value: t.agentId },
    state: t.state,
    resources: toMesosSet(t.resources, t.role),
    statuses: t.statuses,
    ...(last?.uuid ? { status_update_state: last.state, status_update_uuid: last.uuid } : {}),
    ...(t.info.labels ? { labels: t.info.labels } : {}),
    ...(t.info.command?.user ? { user: t.info.command.user } : {}),
  };
}

/** Legacy (`/master/state`) resources: a flat object, ports in Mesos' text form. */
export function legacyResources(r: Resources): Record<string, number | string> {
  const out: Record<string, number | string> = { cpus: 0, mem: 0, disk: 0, gpus: 0, ...r.scalars };
  if (r.ports.length) out.ports = `[${format({ scalars: {}, ports: r.ports }).replace(/^ports:\[|\]$/g, '')}]`;
  return out;
}

export function legacyAttributes(attrs: MesosAttribute[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const a of attrs) out[a.name] = a.type === 'SCALAR' ? (a.scalar?.value ?? 0) : (a.text?.value ?? '');
  return out;
}
