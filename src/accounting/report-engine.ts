// The reports engine: pure and synchronous. Rows go in one at a time (so a month of a large
// cluster streams through without being held), grouped by any of the report groupings; out come
// per group and in total: capacity, allocated and used hours, utilisation, cost, idle cost, cost
// per allocated and per used CPU-hour, and the rented share of the cost.
import { IDLE } from './sample.ts';
import { fullCoverage, type Coverage } from './coverage.ts';
import { M, MEASURE_COUNT, addMeasures, iso, type Measures, type UsageRow } from './rows.ts';
import type { Grouping, ReportQuery } from './report-query.ts';

export interface Hours {
  cpu: number;
  /** GiB-hours */
  mem: number;
  gpu: number;
}

export interface ReportFigures {
  capacity: Hours;
  allocated: Hours;
  used: Hours;
  /** allocated ÷ capacity (0 when there was no capacity) */
  utilisation: Hours;
  /** used ÷ capacity */
  usedShare: Hours;
  cost: number;
  listCost: number;
  allocatedCost: number;
  idleCost: number;
  rentedCost: number;
  /** rentedCost ÷ cost */
  rentedShare: number;
  /** cost ÷ allocated core-hours; null when nothing was allocated */
  costPerAllocatedCpuHour: number | null;
  /** cost ÷ used core-hours; null when nothing was used */
  costPerUsedCpuHour: number | null;
}

export interface ReportGroup extends ReportFigures {
  /** The group's value for each grouping, in the order asked. */
  key: Partial<Record<Grouping, string>>;
  /** Framework names, when grouped by framework (the key holds the id). */
  frameworkName?: string;
}

export interface Report {
  window: { from: string; to: string; hours: number };
  by: Grouping[];
  currency: string;
  groups: ReportGroup[];
  total: ReportFigures;
  /** The part of the window the figures stand for (retention, sampling progress). */
  coverage: Coverage;
  /** Things that make numbers less certain (the coverage note first, unpooled agents, missing prices). */
  warnings: string[];
  /** Always empty: what it said (edge hours counted whole) is in `coverage`; kept for older clients. */
  notes: string[];
}

/** Rows arrive hour by hour, so the last start's ISO text is nearly always the next one's. */
let lastStart = Number.NaN;
let lastIso = '';
const isoOf = (t: number): string => {
  if (t !== lastStart) { lastStart = t; lastIso = iso(t); }
  return lastIso;
};

/** The value of one grouping for a row. */
export function groupValue(g: Grouping, r: UsageRow): string {
  const d = r.dims;
  switch (g) {
    case 'pool': return d.pool;
    case 'ownership': return d.own;
    case 'provider': return d.prov;
    case 'role': return d.role;
    case 'framework': return d.fw;
    case 'day': return isoOf(r.start).slice(0, 10);
    case 'hour': return `${isoOf(r.start).slice(0, 13)}:00Z`;
    case 'agent': return d.agent;
    case 'instance-type': return d.type;
    case 'capacity-type': return d.cap;
    case 'zone': return d.zone;
  }
}

interface Acc { m: Measures; rented: number; name?: string; values: string[] }

const MAX_WARNINGS = 50;

export function figures(m: Measures, rented: number): ReportFigures {
  const div = (a: number, b: number): number => (b > 0 ? a / b : 0);
  const capacity = { cpu: m[M.capCpu], mem: m[M.capMem], gpu: m[M.capGpu] };
  const allocated = { cpu: m[M.allocCpu], mem: m[M.allocMem], gpu: m[M.allocGpu] };
  const used = { cpu: m[M.usedCpu], mem: m[M.usedMem], gpu: m[M.usedGpu] };
  return {
    capacity, allocated, used,
    utilisation: { cpu: div(allocated.cpu, capacity.cpu), mem: div(allocated.mem, capacity.mem), gpu: div(allocated.gpu, capacity.gpu) },
    usedShare: { cpu: div(used.cpu, capacity.cpu), mem: div(used.mem, capacity.mem), gpu: div(used.gpu, capacity.gpu) },
    cost: m[M.cost], listCost: m[M.listCost], allocatedCost: m[M.allocatedCost], idleCost: m[M.idleCost],
    rentedCost: rented, rentedShare: div(rented, m[M.cost]),
    costPerAllocatedCpuHour: allocated.cpu > 0 ? m[M.cost] / allocated.cpu : null,
    costPerUsedCpuHour: used.cpu > 0 ? m[M.cost] / used.cpu : null,
  };
}

export class ReportBuilder {
  private readonly groups = new Map<string, Acc>();
  private readonly total: Measures = new Array<number>(MEASURE_COUNT).fill(0);
  private totalRented = 0;
  private readonly warnings = new Set<string>();
  private readonly currencies = new Set<string>();
  rows = 0;

  constructor(readonly query: Pick<ReportQuery, 'from' | 'to' | 'by'>) {}

  add(r: UsageRow): void {
    this.rows++;
    const values = this.query.by.map((g) => groupValue(g, r));
    const key = values.join('\u001f');
    let acc = this.groups.get(key);
    if (!acc) {
      this.groups.set(key, (acc = { m: new Array<number>(MEASURE_COUNT).fill(0), rented: 0, values }));
      if (this.query.by.includes('framework')) acc.name = r.dims.fwName;
    }
    addMeasures(acc.m, r.m);
    addMeasures(this.total, r.m);
    if (r.dims.own === 'rented') {
      acc.rented += r.m[M.cost];
      this.totalRented += r.m[M.cost];
    }
    if (r.warn && this.warnings.size < MAX_WARNINGS) this.warnings.add(r.warn);
    if (r.dims.cur) this.currencies.add(r.dims.cur);
  }

  /** The report; `coverage` is what the reader could read of the window (all of it by default). */
  result(coverage: Coverage = fullCoverage(this.query)): Report {
    const groups: ReportGroup[] = [...this.groups.values()].map((a) => ({
      key: Object.fromEntries(this.query.by.map((g, i) => [g, a.values[i]])) as Partial<Record<Grouping, string>>,
      ...(a.name !== undefined ? { frameworkName: a.name } : {}),
      ...figures(a.m, a.rented),
    }));
    // Time groupings in time order, then by cost (dearest first), idle last among equals.
    groups.sort((x, y) => {
      for (const g of this.query.by) {
        if (g !== 'day' && g !== 'hour') continue;
        const c = (x.key[g] ?? '').localeCompare(y.key[g] ?? '');
        if (c) return c;
      }
      const idle = Number(x.key.role === IDLE) - Number(y.key.role === IDLE);
      return idle || y.cost - x.cost || Object.values(x.key).join().localeCompare(Object.values(y.key).join());
    });
    const currencies = [...this.currencies];
    const warnings = [...this.warnings].sort();
    if (currencies.length > 1) warnings.unshift(`samples are in several currencies (${currencies.join(', ')}); totals add them up as they are`);
    if (coverage.note) warnings.unshift(coverage.note);
    return {
      window: { from: iso(this.query.from), to: iso(this.query.to), hours: (this.query.to - this.query.from) / 3_600_000 },
      by: [...this.query.by],
      currency: currencies[0] ?? 'USD',
      groups,
      total: figures(this.total, this.totalRented),
      coverage,
      warnings,
      notes: [],
    };
  }
}

// ---- table ------------------------------------------------------------------------------------

const money = (x: number | null): string => (x === null ? '-' : x.toFixed(x !== 0 && Math.abs(x) < 1 ? 4 : 2));
const hours = (x: number): string => x.toFixed(x !== 0 && x < 10 ? 2 : 1);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export const TABLE_FIGURES = ['cpu-h capacity', 'cpu-h allocated', 'cpu-h used', 'cpu util', 'mem util', 'cost', 'idle cost', 'per alloc cpu-h', 'per used cpu-h', 'rented'];

function figureCells(f: ReportFigures): string[] {
  return [
    hours(f.capacity.cpu), hours(f.allocated.cpu), hours(f.used.cpu), pct(f.utilisation.cpu), pct(f.utilisation.mem),
    money(f.cost), money(f.idleCost), money(f.costPerAllocatedCpuHour), money(f.costPerUsedCpuHour), pct(f.rentedShare),
  ];
}

/** Header and rows (the last one the total) for a table; the CLI prints them with cli-table3. */
export function reportTable(r: Report): { head: string[]; rows: string[][] } {
  if (r.by.length === 0) return { head: ['', ...TABLE_FIGURES], rows: [['total', ...figureCells(r.total)]] };
  const label = (g: ReportGroup, b: Grouping): string =>
    (b === 'framework' && g.frameworkName && g.frameworkName !== g.key.framework ? `${g.frameworkName} (${g.key.framework})` : g.key[b] ?? '');
  const rows = r.groups.map((g) => [...r.by.map((b) => label(g, b)), ...figureCells(g)]);
  rows.push([...r.by.map((_, i) => (i === 0 ? 'total' : '')), ...figureCells(r.total)]);
  return { head: [...r.by, ...TABLE_FIGURES], rows };
}
