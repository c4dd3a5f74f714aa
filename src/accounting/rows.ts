// Usage rows: the unit reports add up. A sample becomes one row per (role, framework) it held plus
// one idle row (role and framework "(idle)") for what nobody held and for billing top-ups, so rows
// of a sample always add up to the sample: capacity = allocated + idle, cost = allocated + idle cost.
// Hourly rollups are these rows summed per hour with every dimension kept; measures are plain sums,
// so summing rows of samples or rows of rollups gives the same totals.
import { IDLE, type Sample } from './sample.ts';

export interface RowDims {
  agent: string;
  host: string;
  /** FOCUS ResourceId: the provider's instance id, else the agent id. */
  res: string;
  pool: string;
  own: 'owned' | 'rented';
  prov: string;
  type: string;
  cap: 'on-demand' | 'spot' | 'owned';
  region: string;
  zone: string;
  cur: string;
  role: string;
  fw: string;
  fwName: string;
}

export const DIM_KEYS = ['agent', 'host', 'res', 'pool', 'own', 'prov', 'type', 'cap', 'region', 'zone', 'cur', 'role', 'fw', 'fwName'] as const;

/** Measures, by index: hours of capacity / allocation / use (cpus in core-hours, mem in GiB-hours) and money. */
export const M = {
  capCpu: 0, capMem: 1, capGpu: 2,
  allocCpu: 3, allocMem: 4, allocGpu: 5,
  usedCpu: 6, usedMem: 7, usedGpu: 8,
  cost: 9, listCost: 10, allocatedCost: 11, idleCost: 12,
} as const;
export const MEASURE_COUNT = 13;
export type Measures = number[];

export interface UsageRow {
  dims: RowDims;
  /** Start of the period the row covers: a sample's interval start, or a rollup's hour. */
  start: number;
  m: Measures;
  warn?: string;
}

export const HOUR = 3_600_000;
export const hourOf = (t: number): number => Math.floor(t / HOUR) * HOUR;

const emptyMeasures = (): Measures => new Array<number>(MEASURE_COUNT).fill(0);

export function addMeasures(into: Measures, from: Measures): void {
  for (let i = 0; i < MEASURE_COUNT; i++) into[i] += from[i];
}

/** The rows of one sample. */
export function sampleRows(s: Sample): UsageRow[] {
  const h = s.present / 3600;
  const base = {
    agent: s.agent, host: s.host, res: s.res, pool: s.pool, own: s.own, prov: s.prov, type: s.type, cap: s.cap,
    region: s.region, zone: s.zone, cur: s.cur,
  };
  const warn = s.warn ? { warn: s.warn } : {};
  const rows: UsageRow[] = [];
  let aC = 0;
  let aM = 0;
  let aG = 0;
  for (const [role, fw, fwName, c, mem, g, uc, um, ug, cost, list] of s.slices) {
    aC += c; aM += mem; aG += g;
    const m = emptyMeasures();
    m[M.capCpu] = m[M.allocCpu] = c * h;
    m[M.capMem] = m[M.allocMem] = (mem / 1024) * h;
    m[M.capGpu] = m[M.allocGpu] = g * h;
    m[M.usedCpu] = uc * h; m[M.usedMem] = (um / 1024) * h; m[M.usedGpu] = ug * h;
    m[M.cost] = cost; m[M.listCost] = list; m[M.allocatedCost] = cost;
    rows.push({ dims: { ...base, role, fw, fwName }, start: s.start, m, ...warn });
  }
  const idle = emptyMeasures();
  idle[M.capCpu] = Math.max(0, s.total[0] - aC) * h;
  idle[M.capMem] = (Math.max(0, s.total[1] - aM) / 1024) * h;
  idle[M.capGpu] = Math.max(0, s.total[2] - aG) * h;
  idle[M.cost] = s.idle[0]; idle[M.listCost] = s.idle[1]; idle[M.idleCost] = s.idle[0];
  rows.push({ dims: { ...base, role: IDLE, fw: IDLE, fwName: IDLE }, start: s.start, m: idle, ...warn });
  return rows;
}

// ---- hourly rollups ---------------------------------------------------------------------------

const SEP = '\u001f';

export const dimsKey = (d: RowDims): string => DIM_KEYS.map((k) => d[k]).join(SEP);

export function dimsFromKey(key: string): RowDims {
  const parts = key.split(SEP);
  const out: Record<string, string> = {};
  DIM_KEYS.forEach((k, i) => { out[k] = parts[i] ?? ''; });
  return out as unknown as RowDims;
}

/** Sums sample rows by every dimension within one hour: the hour's rollup. */
export class HourRollup {
  private readonly rows = new Map<string, { m: Measures; warn?: string }>();

  constructor(readonly hour: number) {}

  add(r: UsageRow): void {
    const key = dimsKey(r.dims);
    let e = this.rows.get(key);
    if (!e) this.rows.set(key, (e = { m: emptyMeasures(), ...(r.warn ? { warn: r.warn } : {}) }));
    addMeasures(e.m, r.m);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Hash fields for Redis: dims key → JSON [measures…, warning?]. */
  fields(): [string, string][] {
    return [...this.rows].map(([k, e]) => [k, JSON.stringify(e.warn ? [...e.m.map(tidy), e.warn] : e.m.map(tidy))]);
  }
}

/** Drops float noise below a billionth so stored rollups stay short. */
const tidy = (x: number): number => Math.round(x * 1e9) / 1e9;

/** A stored rollup field back into a row. */
export function rollupRow(hour: number, key: string, value: string): UsageRow {
  const arr = JSON.parse(value) as (number | string)[];
  const warn = arr.length > MEASURE_COUNT ? String(arr[MEASURE_COUNT]) : undefined;
  return { dims: dimsFromKey(key), start: hour, m: arr.slice(0, MEASURE_COUNT) as number[], ...(warn ? { warn } : {}) };
}
