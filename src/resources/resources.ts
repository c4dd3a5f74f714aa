// Resource arithmetic for the allocator and the master. Scalars (cpus, mem, disk, gpus, …) are
// kept in a plain record and ports as sorted, merged inclusive ranges. Values are rounded to
// three decimals the way Mesos does (fixed point), so repeated add/subtract never drifts.

export type Range = readonly [begin: number, end: number];

export interface Resources {
  readonly scalars: Readonly<Record<string, number>>;
  readonly ports: readonly Range[];
}

export const EMPTY: Resources = Object.freeze({ scalars: Object.freeze({}), ports: Object.freeze([]) as readonly Range[] });

const round = (v: number): number => Math.round(v * 1000) / 1000;

export function resources(scalars: Record<string, number>, ports: Range[] = []): Resources {
  const clean: Record<string, number> = {};
  for (const [k, v] of Object.entries(scalars)) if (round(v) !== 0) clean[k] = round(v);
  return { scalars: clean, ports: normalizeRanges(ports) };
}

export function normalizeRanges(ranges: readonly Range[]): Range[] {
  if (ranges.length === 0) return [];
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [[sorted[0][0], sorted[0][1]]];
  for (let i = 1; i < sorted.length; i++) {
    const last = out[out.length - 1];
    const [b, e] = sorted[i];
    if (b <= last[1] + 1) last[1] = Math.max(last[1], e);
    else out.push([b, e]);
  }
  return out;
}

export function add(a: Resources, b: Resources): Resources {
  const scalars: Record<string, number> = { ...a.scalars };
  for (const [k, v] of Object.entries(b.scalars)) scalars[k] = round((scalars[k] ?? 0) + v);
  return { scalars: dropZero(scalars), ports: b.ports.length ? normalizeRanges([...a.ports, ...b.ports]) : a.ports };
}

/** a − b; callers check `contains(a, b)` first when b must fit. Negative results clamp to zero. */
export function subtract(a: Resources, b: Resources): Resources {
  const scalars: Record<string, number> = { ...a.scalars };
  for (const [k, v] of Object.entries(b.scalars)) scalars[k] = Math.max(0, round((scalars[k] ?? 0) - v));
  return { scalars: dropZero(scalars), ports: b.ports.length ? subtractRanges(a.ports, b.ports) : a.ports };
}

export function contains(a: Resources, b: Resources): boolean {
  for (const [k, v] of Object.entries(b.scalars)) if (round(a.scalars[k] ?? 0) < round(v)) return false;
  for (const r of b.ports) if (!rangeCovered(a.ports, r)) return false;
  return true;
}

export function isEmpty(r: Resources): boolean {
  return Object.keys(r.scalars).length === 0 && r.ports.length === 0;
}

export function portCount(r: Resources): number {
  let n = 0;
  for (const [b, e] of r.ports) n += e - b + 1;
  return n;
}

export function scalar(r: Resources, name: string): number {
  return r.scalars[name] ?? 0;
}

export function equals(a: Resources, b: Resources): boolean {
  return contains(a, b) && contains(b, a);
}

/** Human-readable form in Mesos' flag syntax: `cpus:2;mem:1024;ports:[31000-31010]`. */
export function format(r: Resources): string {
  const parts = Object.entries(r.scalars).map(([k, v]) => `${k}:${v}`);
  if (r.ports.length) parts.push(`ports:[${r.ports.map(([b, e]) => (b === e ? `${b}` : `${b}-${e}`)).join(',')}]`);
  return parts.join(';') || '(none)';
}

function dropZero(s: Record<string, number>): Record<string, number> {
  for (const k of Object.keys(s)) if (s[k] === 0) delete s[k];
  return s;
}

function rangeCovered(ranges: readonly Range[], [b, e]: Range): boolean {
  for (const [rb, re] of ranges) if (rb <= b && e <= re) return true;
  return false;
}

function subtractRanges(from: readonly Range[], take: readonly Range[]): Range[] {
  let out: Range[] = [...from];
  for (const [tb, te] of take) {
    const next: Range[] = [];
    for (const [b, e] of out) {
      if (te < b || tb > e) { next.push([b, e]); continue; }
      if (b < tb) next.push([b, tb - 1]);
      if (te < e) next.push([te + 1, e]);
    }
    out = next;
  }
  return out;
}
