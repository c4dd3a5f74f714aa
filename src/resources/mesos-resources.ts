// Conversion between Mesos v1 `Resource` JSON and the internal `Resources` value, plus the
// agent flag syntax (`cpus:4;mem:2048;ports:[31000-32000]`). Validation follows Mesos: unknown
// types, negative or non-finite values and inverted ranges are rejected with a reason.
import * as z from 'zod';
import { resources, type Range, type Resources } from './resources.ts';
import { bucket, setOf, type Bucket, type ReservationInfo, type ResourceSet } from './resource-set.ts';

export const MesosRangeSchema = z.object({ begin: z.number().int(), end: z.number().int() });

export const MesosResourceSchema = z.looseObject({
  name: z.string().min(1),
  type: z.enum(['SCALAR', 'RANGES', 'SET']).optional(),
  scalar: z.object({ value: z.number() }).optional(),
  ranges: z.object({ range: z.array(MesosRangeSchema).default([]) }).optional(),
  set: z.object({ item: z.array(z.string()).default([]) }).optional(),
  role: z.string().optional(),
  allocation_info: z.object({ role: z.string() }).optional(),
  reservation: z.looseObject({ principal: z.string().optional(), labels: z.looseObject({ labels: z.array(z.looseObject({ key: z.string(), value: z.string().optional() })).default([]) }).optional() }).optional(),
  reservations: z.array(z.looseObject({
    type: z.enum(['STATIC', 'DYNAMIC']).optional(),
    role: z.string().optional(),
    principal: z.string().optional(),
    labels: z.looseObject({ labels: z.array(z.looseObject({ key: z.string(), value: z.string().optional() })).default([]) }).optional(),
  })).optional(),
  revocable: z.looseObject({}).optional(),
});
export type MesosResource = z.infer<typeof MesosResourceSchema>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function fromMesos(list: readonly MesosResource[]): Parsed<Resources> {
  const scalars: Record<string, number> = {};
  const ports: Range[] = [];
  for (const r of list) {
    const type = r.type ?? (r.scalar ? 'SCALAR' : r.ranges ? 'RANGES' : 'SET');
    if (type === 'SCALAR') {
      const v = r.scalar?.value;
      if (v === undefined) return { ok: false, error: `Resource '${r.name}' is SCALAR but has no scalar.value` };
      if (!Number.isFinite(v)) return { ok: false, error: `Resource '${r.name}' has a non-finite value` };
      if (v < 0) return { ok: false, error: `Resource '${r.name}:${v}' is invalid: negative scalar` };
      scalars[r.name] = (scalars[r.name] ?? 0) + v;
    } else if (type === 'RANGES') {
      if (r.name !== 'ports') return { ok: false, error: `Range resource '${r.name}' is not supported (only 'ports')` };
      for (const { begin, end } of r.ranges?.range ?? []) {
        if (begin < 0 || end > 65535 || begin > end) return { ok: false, error: `Resource 'ports' has an invalid range [${begin}-${end}]` };
        ports.push([begin, end]);
      }
    } else {
      return { ok: false, error: `Resource '${r.name}' of type SET is not supported` };
    }
  }
  return { ok: true, value: resources(scalars, ports) };
}

/** Mesos JSON for offers and state endpoints; `role` fills `allocation_info` as v1 offers require. */
export function toMesos(r: Resources, allocationRole?: string): Record<string, unknown>[] {
  const alloc = allocationRole === undefined ? {} : { allocation_info: { role: allocationRole } };
  const out: Record<string, unknown>[] = Object.entries(r.scalars).map(([name, value]) => ({
    name, type: 'SCALAR', scalar: { value }, ...alloc,
  }));
  if (r.ports.length) {
    out.push({ name: 'ports', type: 'RANGES', ranges: { range: r.ports.map(([begin, end]) => ({ begin, end })) }, ...alloc });
  }
  return out;
}

/** Parses the agent flag syntax, e.g. `cpus:4;mem:2048;disk:10000;ports:[31000-32000]`. */
export function parseResourceFlag(text: string): Parsed<Resources> {
  const scalars: Record<string, number> = {};
  const ports: Range[] = [];
  for (const part of text.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z_][a-z0-9_]*)(?:\(([^)]*)\))?:(.+)$/i.exec(part);
    if (!m) return { ok: false, error: `cannot parse '${part}': expected name:value` };
    const [, name, role, value] = m;
    if (role !== undefined && role !== '*') return { ok: false, error: `'${part}': static reservations (role '${role}') are not supported yet` };
    if (value.startsWith('[')) {
      if (name !== 'ports') return { ok: false, error: `'${name}': only ports may be a range` };
      if (!value.endsWith(']')) return { ok: false, error: `'${part}': a ports list must end with ']'` };
      const body = value.slice(1, -1);
      for (const piece of body.split(',').map((s) => s.trim()).filter(Boolean)) {
        const rm = /^(\d+)(?:-(\d+))?$/.exec(piece);
        if (!rm) return { ok: false, error: `'ports': cannot parse range '${piece}'` };
        const b = Number(rm[1]);
        const e = rm[2] === undefined ? b : Number(rm[2]);
        if (b > e || e > 65535) return { ok: false, error: `'ports': invalid range '${piece}'` };
        ports.push([b, e]);
      }
    } else {
      const v = Number(value);
      if (!Number.isFinite(v) || v < 0) return { ok: false, error: `'${name}': '${value}' is not a non-negative number` };
      scalars[name] = (scalars[name] ?? 0) + v;
    }
  }
  return { ok: true, value: resources(scalars, ports) };
}

/** The reservation a Mesos Resource carries: `reservations` (v1, last = innermost) or legacy `role`. */
export function reservationOf(r: MesosResource): ReservationInfo | undefined {
  const stack = r.reservations ?? [];
  if (stack.length) {
    const last = stack[stack.length - 1];
    if (!last.role) return undefined;
    return {
      type: last.type ?? 'DYNAMIC', role: last.role,
      ...(last.principal ? { principal: last.principal } : {}),
      ...(last.labels?.labels.length ? { labels: { labels: last.labels.labels.map(({ key, value }) => ({ key, ...(value !== undefined ? { value } : {}) })) } } : {}),
    };
  }
  if (r.role && r.role !== '*') {
    return { type: r.reservation ? 'DYNAMIC' : 'STATIC', role: r.role, ...(r.reservation?.principal ? { principal: r.reservation.principal } : {}) };
  }
  return undefined;
}

/** Mesos Resource JSON → ResourceSet, keeping reservations and revocability. */
export function fromMesosSet(list: readonly MesosResource[]): Parsed<ResourceSet> {
  const groups = new Map<string, { reservation?: ReservationInfo; revocable: boolean; items: MesosResource[] }>();
  for (const r of list) {
    const reservation = reservationOf(r);
    const revocable = r.revocable !== undefined;
    const key = `${revocable}|${JSON.stringify(reservation ?? null)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { reservation, revocable, items: [] }));
    g.items.push(r);
  }
  const buckets: Bucket[] = [];
  for (const g of groups.values()) {
    const parsed = fromMesos(g.items);
    if (!parsed.ok) return parsed;
    buckets.push(bucket(parsed.value, g.reservation, g.revocable));
  }
  return { ok: true, value: setOf(buckets) };
}

/** ResourceSet → Mesos Resource JSON (v1 `reservations`, `revocable`, optional `allocation_info`). */
export function toMesosSet(s: ResourceSet, allocationRole?: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const b of s) {
    const extra = {
      ...(b.reservation ? { reservations: [{ type: b.reservation.type, role: b.reservation.role, ...(b.reservation.principal ? { principal: b.reservation.principal } : {}), ...(b.reservation.labels ? { labels: b.reservation.labels } : {}) }] } : {}),
      ...(b.revocable ? { revocable: {} } : {}),
    };
    for (const r of toMesos(b.resources, allocationRole)) out.push({ ...r, ...extra });
  }
  return out;
}

/**
 * The agent flag with static reservations, as Mesos reads it: `cpus:4;cpus(ads):8;mem(ads):4096`
 * gives 4 unreserved cpus, 8 cpus and 4096 MB reserved for `ads`.
 */
export function parseResourceFlagSet(text: string): Parsed<{ set: ResourceSet; names: Set<string> }> {
  const byRole = new Map<string, string[]>();
  const names = new Set<string>();
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z_][a-z0-9_]*)(?:\(([^)]*)\))?:(.+)$/i.exec(part);
    if (!m) return { ok: false, error: `cannot parse '${part}': expected name:value or name(role):value` };
    const role = m[2] === undefined || m[2] === '*' ? '*' : m[2];
    if (role !== '*' && !/^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$/.test(role)) return { ok: false, error: `'${part}': '${role}' is not a valid role name` };
    names.add(m[1]);
    const list = byRole.get(role) ?? [];
    list.push(`${m[1]}:${m[3]}`);
    byRole.set(role, list);
  }
  const buckets: Bucket[] = [];
  for (const [role, parts] of byRole) {
    const parsed = parseResourceFlag(parts.join(';'));
    if (!parsed.ok) return parsed;
    buckets.push(bucket(parsed.value, role === '*' ? undefined : { type: 'STATIC', role }));
  }
  return { ok: true, value: { set: setOf(buckets), names } };
}
