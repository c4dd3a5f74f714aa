// Conversion between Mesos v1 `Resource` JSON and the internal `Resources` value, plus the
// agent flag syntax (`cpus:4;mem:2048;ports:[31000-32000]`). Validation follows Mesos: unknown
// types, negative or non-finite values and inverted ranges are rejected with a reason.
import * as z from 'zod';
import { resources, type Range, type Resources } from './resources.ts';

export const MesosRangeSchema = z.object({ begin: z.number().int(), end: z.number().int() });

export const MesosResourceSchema = z.looseObject({
  name: z.string().min(1),
  type: z.enum(['SCALAR', 'RANGES', 'SET']).optional(),
  scalar: z.object({ value: z.number() }).optional(),
  ranges: z.object({ range: z.array(MesosRangeSchema).default([]) }).optional(),
  set: z.object({ item: z.array(z.string()).default([]) }).optional(),
  role: z.string().optional(),
  allocation_info: z.object({ role: z.string() }).optional(),
  reservations: z.array(z.looseObject({ type: z.string().optional(), role: z.string().optional() })).optional(),
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
