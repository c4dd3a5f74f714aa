// Usage rows: the unit reports add up. A sample becomes one row per (role, framework) it held plus
// one idle row (role and framework "(idle)") for what nobody held and for billing top-ups, so rows
// of a sample always add up to the sample: capacity = allocated + idle, cost = allocated + idle cost.
// Hourly rollups are these rows summed per hour with every dimension kept; measures are plain sums,
// so summing rows of samples or rows of rollups gives the same totals.
import { IDLE, type AgentDims, type Sample, type SliceTuple } from './sample.ts';

export interface RowDims extends AgentDims {
  role: string;
  fw: string;
  fwName: string;
}

export const DIM_KEYS = ['agent', 'host', 'res', 'pool', 'own', 'prov', 'type', 'cap', 'region', 'zone', 'cur', 'role', 'fw', 'fwName'] as const;

/**
 * Measures, by index: hours of capacity / allocation / use (cpus in core-hours, mem in GiB-hours),
 * money, and machine-hours (the row's share of its machine × hours: what the hourly price is paid
 * for). New measures go at the end: stored rollups with fewer read as 0 for the missing ones.
 */
export const M = {
  capCpu: 0, capMem: 1, capGpu: 2,
  allocCpu: 3, allocMem: 4, allocGpu: 5,
  usedCpu: 6, usedMem: 7, usedGpu: 8,
  cost: 9, listCost: 10, allocatedCost: 11, idleCost: 12,
  machineHours: 13,
  /** Parts (sample slices, stored hours) summed in without machine-hours: recorded before they were. */
  withoutHours: 14,
} as const;
export const MEASURE_COUNT = 15;
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

/** ISO 8601 time as reports print it (no milliseconds when they are 0). */
export const iso = (t: number): string => new Date(t).toISOString().replace(/\.000Z$/, 'Z');

const emptyMeasures = (): Measures => new Array<number>(MEASURE_COUNT).fill(0);

export function addMeasures(into: Measures, from: Measures): void {
  for (let i = 0; i < MEASURE_COUNT; i++) into[i] += from[i];
}

/** The rows of one sample. */
export function sampleRows(s: Sample): UsageRow[] {
  const h = s.present / 3600;
  const rows: UsageRow[] = [];
  let aC = 0;
  let aM = 0;
  let aG = 0;
  const dims = (role: string, fw: string, fwName: string): RowDims => ({
    agent: s.agent, host: s.host, res: s.res, pool: s.pool, own: s.own, prov: s.prov, type: s.type, cap: s.cap,
    region: s.region, zone: s.zone, cur: s.cur, role, fw, fwName,
  });
  for (const sl of s.slices) {
    aC += sl[3]; aM += sl[4]; aG += sl[5];
    const m = emptyMeasures();
    addSlice(m, sl, h);
    rows.push(s.warn ? { dims: dims(sl[0], sl[1], sl[2]), start: s.start, m, warn: s.warn } : { dims: dims(sl[0], sl[1], sl[2]), start: s.start, m });
  }
  const idle = emptyMeasures();
  addIdle(idle, s, aC, aM, aG, h);
  rows.push(s.warn ? { dims: dims(IDLE, IDLE, IDLE), start: s.start, m: idle, warn: s.warn } : { dims: dims(IDLE, IDLE, IDLE), start: s.start, m: idle });
  return rows;
}

function addSlice(m: Measures, sl: SliceTuple, h: number): void {
  const c = sl[3] * h;
  const mem = (sl[4] / 1024) * h;
  const g = sl[5] * h;
  m[M.capCpu] += c; m[M.allocCpu] += c;
  m[M.capMem] += mem; m[M.allocMem] += mem;
  m[M.capGpu] += g; m[M.allocGpu] += g;
  m[M.usedCpu] += sl[6] * h; m[M.usedMem] += (sl[7] / 1024) * h; m[M.usedGpu] += sl[8] * h;
  m[M.cost] += sl[9]; m[M.listCost] += sl[10]; m[M.allocatedCost] += sl[9];
  if (sl[11] === undefined) m[M.withoutHours] += 1;
  else m[M.machineHours] += sl[11];
}

function addIdle(m: Measures, s: Sample, aC: number, aM: number, aG: number, h: number): void {
  m[M.capCpu] += Math.max(0, s.total[0] - aC) * h;
  m[M.capMem] += (Math.max(0, s.total[1] - aM) / 1024) * h;
  m[M.capGpu] += Math.max(0, s.total[2] - aG) * h;
  m[M.cost] += s.idle[0]; m[M.listCost] += s.idle[1]; m[M.idleCost] += s.idle[0];
  if (s.idle[2] === undefined) m[M.withoutHours] += 1;
  else m[M.machineHours] += s.idle[2];
}

// ---- hourly rollups ---------------------------------------------------------------------------

const SEP = '\u001f';

export const dimsKey = (d: RowDims): string => DIM_KEYS.map((k) => d[k]).join(SEP);

export function dimsFromKey(key: string): RowDims {
  const p = key.split(SEP);
  return {
    agent: p[0] ?? '', host: p[1] ?? '', res: p[2] ?? '', pool: p[3] ?? '', own: (p[4] ?? 'owned') as RowDims['own'], prov: p[5] ?? '',
    type: p[6] ?? '', cap: (p[7] ?? 'owned') as RowDims['cap'], region: p[8] ?? '', zone: p[9] ?? '', cur: p[10] ?? '',
    role: p[11] ?? '', fw: p[12] ?? '', fwName: p[13] ?? '',
  };
}

interface RollupEntry { m: Measures; warn?: string }

const HEADER_KEYS = ['agent', 'host', 'res', 'pool', 'own', 'prov', 'type', 'cap', 'region', 'zone', 'cur'] as const;

/**
 * Sums rows by every dimension within one hour: the hour's rollup. `addSample` is the fast path
 * the roller and the benchmark use: an agent's header dimensions rarely change within an hour, so
 * its keys are built once and its entries found through a small per-agent map.
 */
export class HourRollup {
  private readonly rows = new Map<string, RollupEntry>();
  private readonly byAgent = new Map<string, { last: Sample; header: string; entries: Map<string, RollupEntry> }>();

  constructor(readonly hour: number) {}

  private entry(key: string, warn: string | undefined): RollupEntry {
    let e = this.rows.get(key);
    if (!e) this.rows.set(key, (e = warn ? { m: emptyMeasures(), warn } : { m: emptyMeasures() }));
    return e;
  }

  add(r: UsageRow): void {
    addMeasures(this.entry(dimsKey(r.dims), r.warn).m, r.m);
  }

  addSample(s: Sample): void {
    let a = this.byAgent.get(s.agent);
    if (!a || HEADER_KEYS.some((k) => a!.last[k] !== s[k])) {
      a = { last: s, header: HEADER_KEYS.map((k) => s[k]).join(SEP), entries: new Map() };
      this.byAgent.set(s.agent, a);
    }
    const h = s.present / 3600;
    let aC = 0;
    let aM = 0;
    let aG = 0;
    for (const sl of s.slices) {
      aC += sl[3]; aM += sl[4]; aG += sl[5];
      const inner = `${sl[0]}\n${sl[1]}\n${sl[2]}`;
      let e = a.entries.get(inner);
      if (!e) a.entries.set(inner, (e = this.entry(`${a.header}${SEP}${sl[0]}${SEP}${sl[1]}${SEP}${sl[2]}`, s.warn)));
      addSlice(e.m, sl, h);
    }
    let idle = a.entries.get(IDLE);
    if (!idle) a.entries.set(IDLE, (idle = this.entry(`${a.header}${SEP}${IDLE}${SEP}${IDLE}${SEP}${IDLE}`, s.warn)));
    addIdle(idle.m, s, aC, aM, aG, h);
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

/**
 * A stored rollup field back into a row. `cache` (one per read) shares the dimensions of a key
 * across hours: an agent's keys repeat every hour of a long window.
 */
export function rollupRow(hour: number, key: string, value: string, cache?: Map<string, RowDims>): UsageRow {
  const arr = JSON.parse(value) as (number | string)[];
  let dims = cache?.get(key);
  if (!dims) {
    dims = dimsFromKey(key);
    cache?.set(key, dims);
  }
  // [measures…, warning?], with as many measures as there were when the hour was rolled up.
  const warned = typeof arr[arr.length - 1] === 'string';
  if (!warned && arr.length === MEASURE_COUNT) return { dims, start: hour, m: arr as number[] };
  const m = (warned ? arr.slice(0, -1) : arr) as number[];
  const hadHours = m.length > M.machineHours;
  while (m.length < MEASURE_COUNT) m.push(0);
  if (!hadHours) m[M.withoutHours] = 1;
  return warned ? { dims, start: hour, m, warn: String(arr[arr.length - 1]) } : { dims, start: hour, m };
}
