// Operator calls that change allocation policy: weights, quota and dynamic reservations. Each
// validates the whole request first (a bad one changes nothing), persists, then applies.
import * as z from 'zod';
import { badRequest, conflict, notFound } from '../common/errors.ts';
import type { QuotaConfig } from '../allocator/role-tree.ts';
import { MesosResourceSchema, fromMesosSet } from '../resources/mesos-resources.ts';
import {
  addSets, containsSet, flatten, formatSet, reservedByRole, subtractSets, unreservedPart, unreservedSet,
} from '../resources/resource-set.ts';
import { format, resources as makeResources } from '../resources/resources.ts';
import { ValueId } from '../mesos/scheduler-call.ts';
import type { Master } from './master.ts';
import { validateRoleName } from './scheduler-calls.ts';

const Scalar = z.object({ value: z.number({ error: 'must be a number' }) });

export const UpdateWeightsSchema = z.looseObject({
  weight_infos: z.array(z.looseObject({ role: z.string(), weight: z.number({ error: 'must be a number' }) })).min(1),
});

export const UpdateQuotaSchema = z.looseObject({
  force: z.boolean().optional(),
  quota_configs: z.array(z.looseObject({
    role: z.string(),
    guarantees: z.record(z.string(), Scalar).optional(),
    limits: z.record(z.string(), Scalar).optional(),
  })).min(1),
});

export const ReserveSchema = z.looseObject({ agent_id: ValueId, resources: z.array(MesosResourceSchema).min(1) });

function checkRole(role: string, where: string): void {
  const err = validateRoleName(role);
  if (err) throw badRequest(`${where}: role '${role}' is invalid: ${err}`);
}

export async function updateWeights(m: Master, body: z.infer<typeof UpdateWeightsSchema>): Promise<void> {
  body.weight_infos.forEach((w, i) => {
    checkRole(w.role, `update_weights.weight_infos[${i}].role`);
    if (!(w.weight > 0) || !Number.isFinite(w.weight)) throw badRequest(`update_weights.weight_infos[${i}].weight: must be a number > 0, got ${w.weight}`);
  });
  await m.persist(body.weight_infos.map((w) => ({ op: 'put' as const, hash: 'weights' as const, id: w.role, value: w.weight })));
  for (const w of body.weight_infos) m.allocator.setWeight(w.role, w.weight);
  m.scheduleAllocation();
}

export async function updateQuota(m: Master, body: z.infer<typeof UpdateQuotaSchema>): Promise<void> {
  const next = new Map<string, QuotaConfig>(m.quotas);
  body.quota_configs.forEach((c, i) => {
    const where = `update_quota.quota_configs[${i}]`;
    checkRole(c.role, `${where}.role`);
    if (c.role === '*') throw badRequest(`${where}.role: quota cannot be set for the default role '*'`);
    const guarantees = scalars(c.guarantees ?? {}, `${where}.guarantees`);
    const limits = scalars(c.limits ?? {}, `${where}.limits`);
    for (const [name, g] of Object.entries(guarantees)) {
      if (limits[name] !== undefined && limits[name] < g) throw badRequest(`${where}: limit ${name}:${limits[name]} is below the guarantee ${name}:${g}`);
    }
    if (Object.keys(guarantees).length === 0 && Object.keys(limits).length === 0) next.delete(c.role);
    else next.set(c.role, { guarantees, limits });
  });
  // A subrole may not be promised more than its ancestors may take.
  for (const [role, q] of next) {
    for (let p = parentOf(role); p; p = parentOf(p)) {
      const pl = next.get(p)?.limits ?? {};
      for (const [name, l] of Object.entries(q.limits)) {
        if (pl[name] !== undefined && l > pl[name]) throw badRequest(`quota of '${role}': limit ${name}:${l} exceeds the limit ${name}:${pl[name]} of its ancestor '${p}'`);
      }
    }
  }
  if (!body.force) {
    // Mesos' capacity heuristic: all guarantees together must fit what is not statically reserved.
    const cap = m.capacityForQuota();
    const sum: Record<string, number> = {};
    for (const [role, q] of next) {
      if ([...next.keys()].some((r) => r !== role && role.startsWith(`${r}/`) && Object.keys(next.get(r)!.guarantees).length)) continue;
      for (const [k, v] of Object.entries(q.guarantees)) sum[k] = (sum[k] ?? 0) + v;
    }
    for (const [k, v] of Object.entries(sum)) {
      if (v > (cap[k] ?? 0) + 1e-9) throw conflict(`Total quota guarantees ${k}:${v} exceed the cluster's ${k}:${cap[k] ?? 0} (use force to set it anyway)`);
    }
  }
  const changed = body.quota_configs.map((c) => c.role);
  await m.persist(changed.map((role) => (next.has(role)
    ? { op: 'put' as const, hash: 'quotas' as const, id: role, value: next.get(role) }
    : { op: 'delete' as const, hash: 'quotas' as const, id: role })));
  for (const role of changed) {
    m.allocator.setQuota(role, next.get(role));
    if (next.has(role)) m.quotas.set(role, next.get(role)!);
    else m.quotas.delete(role);
  }
  // As Mesos does, outstanding offers are rescinded so the new quota can be met from them.
  for (const o of [...m.state.offers.values()]) m.rescind(o);
  m.scheduleAllocation();
}

/** RESERVE_RESOURCES / UNRESERVE_RESOURCES by an operator, on an agent's free resources. */
export async function operatorReservation(m: Master, kind: 'RESERVE' | 'UNRESERVE', body: z.infer<typeof ReserveSchema>): Promise<void> {
  const field = kind === 'RESERVE' ? 'reserve_resources' : 'unreserve_resources';
  const agent = m.state.agents.get(body.agent_id.value);
  if (!agent || agent.record.unreachableSince) throw notFound(`${field}.agent_id: agent ${body.agent_id.value} is not registered`);
  const parsed = fromMesosSet(body.resources);
  if (!parsed.ok) throw badRequest(`${field}.resources: ${parsed.error}`);
  const target = parsed.value;
  for (const b of target) {
    if (!b.reservation) throw badRequest(`${field}.resources: every resource needs 'reservations' naming the role`);
    if (b.reservation.type !== 'DYNAMIC') throw badRequest(`${field}.resources: only DYNAMIC reservations can be made or removed (static ones come from the agent's --resources)`);
    if (b.revocable) throw badRequest(`${field}.resources: revocable resources cannot be reserved`);
    checkRole(b.reservation.role, `${field}.resources`);
    if (b.reservation.role === '*') throw badRequest(`${field}.resources: cannot reserve for the default role '*'`);
    if (flatten([b]).ports.length) throw badRequest(`${field}.resources: reserving ports is not supported`);
  }
  const id = agent.record.id;
  const total = agent.record.resources;
  const from = kind === 'RESERVE' ? unreservedSet(flatten(target)) : target;
  const to = kind === 'RESERVE' ? target : unreservedSet(flatten(target));
  if (kind === 'RESERVE' && !containsSet(total, from)) {
    const reserved = [...reservedByRole(total)].map(([role, r]) => `${format(r)} for '${role}'`).join(', ');
    throw badRequest(`${field}.resources: agent ${id} has ${format(unreservedPart(total))} unreserved${reserved ? ` (and ${reserved} already reserved)` : ''}; it cannot reserve ${formatSet(target)}`);
  }
  if (kind === 'UNRESERVE' && !containsSet(agent.record.dynamicReservations ?? [], target)) {
    throw badRequest(`${field}.resources: ${formatSet(target)} is not dynamically reserved on agent ${id}`);
  }
  // Offered resources are taken back first (as Mesos does); in-use ones cannot be re-labelled.
  for (const o of m.state.offersOfAgent(id)) m.rescind(o);
  if (!containsSet(m.allocator.agentFree(id), from)) {
    throw conflict(`${field}.resources: ${formatSet(from)} on agent ${id} is in use by tasks right now; try again when they end`);
  }
  let dynamic = agent.record.dynamicReservations ?? [];
  dynamic = kind === 'RESERVE' ? addSets(dynamic, target) : subtractSets(dynamic, target);
  const record = { ...agent.record, dynamicReservations: dynamic, resources: addSets(subtractSets(total, from), to) };
  await m.persist([{ op: 'put', hash: 'agents', id, value: record }]);
  agent.record = record;
  m.allocator.relabelFree(id, from, to);
  m.scheduleAllocation();
}

function scalars(rec: Record<string, { value: number }>, where: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, { value }] of Object.entries(rec)) {
    if (name === 'ports') throw badRequest(`${where}.ports: quota applies to scalar resources only`);
    if (!Number.isFinite(value) || value < 0) throw badRequest(`${where}.${name}: must be a number ≥ 0, got ${value}`);
    out[name] = makeResources({ [name]: value }).scalars[name] ?? 0;
  }
  return out;
}

const parentOf = (role: string): string | undefined => (role.includes('/') ? role.slice(0, role.lastIndexOf('/')) : undefined);

