// Shape fit and attribute constraints: how many units of a shape fit in free capacity, and whether
// a machine's attributes satisfy a unit's constraints. Every packing decision of the planner goes
// through these two questions, so they are kept tiny and allocation-free.
import type { Constraint, Shape, Vec } from '../../src/autoscaler/plan-types.ts';

/** Float slack: 0.1 + 0.2 cpus still fit in 0.3. */
const EPS = 1e-9;

/** A demand shape as a full vector (missing disk/gpus = 0). */
export function demandVec(shape: Shape): Vec {
  return { cpus: shape.cpus, mem: shape.mem, disk: shape.disk ?? 0, gpus: shape.gpus ?? 0 };
}

/** A machine's capacity as a full vector: unknown disk does not limit, missing gpus = 0. */
export function capacityVec(shape: Shape): Vec {
  return { cpus: shape.cpus, mem: shape.mem, disk: shape.disk ?? Infinity, gpus: shape.gpus ?? 0 };
}

/** Whole units of `shape` that fit in `free` (Infinity for an all-zero shape). */
export function unitsThatFit(free: Readonly<Vec>, shape: Readonly<Vec>): number {
  let n = Infinity;
  if (shape.cpus > 0) n = Math.floor((free.cpus + EPS) / shape.cpus);
  if (shape.mem > 0) n = Math.min(n, Math.floor((free.mem + EPS) / shape.mem));
  if (shape.disk > 0) n = Math.min(n, Math.floor((free.disk + EPS) / shape.disk));
  if (shape.gpus > 0) n = Math.min(n, Math.floor((free.gpus + EPS) / shape.gpus));
  return n < 0 ? 0 : n;
}

/** free − n × shape, never below 0 (float dust). */
export function minus(free: Readonly<Vec>, shape: Readonly<Vec>, n: number): Vec {
  return {
    cpus: shape.cpus === 0 ? free.cpus : Math.max(0, free.cpus - n * shape.cpus),
    mem: shape.mem === 0 ? free.mem : Math.max(0, free.mem - n * shape.mem),
    disk: shape.disk === 0 ? free.disk : Math.max(0, free.disk - n * shape.disk),
    gpus: shape.gpus === 0 ? free.gpus : Math.max(0, free.gpus - n * shape.gpus),
  };
}

/** Every constraint names an attribute the machine has with exactly that value. */
export function satisfies(constraints: readonly Constraint[] | undefined, attributes: Readonly<Record<string, string>>): boolean {
  if (!constraints) return true;
  for (let i = 0; i < constraints.length; i++) {
    const c = constraints[i];
    if (attributes[c.attribute] !== c.value) return false;
  }
  return true;
}

/** `4 cpus, 8192 MB mem, 1 gpus` — for reasons. */
export function describeShape(v: Readonly<Vec>): string {
  const parts = [`${num(v.cpus)} cpus`, `${num(v.mem)} MB mem`];
  if (v.disk > 0 && Number.isFinite(v.disk)) parts.push(`${num(v.disk)} MB disk`);
  if (v.gpus > 0) parts.push(`${num(v.gpus)} gpus`);
  return parts.join(', ');
}

/** `rack=r1, zone=a` — for reasons. */
export function describeConstraints(constraints: readonly Constraint[]): string {
  return constraints.map((c) => `${c.attribute}=${c.value}`).join(', ');
}

const num = (x: number): string => String(Math.round(x * 1000) / 1000);
