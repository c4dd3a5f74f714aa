// `spillway report summary`: the questions finance asks, answered from the same rows as reports
// (pure): what rented capacity cost and how much of it was allocated and used; how well owned
// capacity was used, and whether it was used before rented capacity (hour by hour: rented
// core-hours allocated while owned cores sat idle); which roles and frameworks drive rented spend;
// and how long demand waited for capacity.
import { IDLE } from './sample.ts';
import { fullCoverage, type Coverage } from './coverage.ts';
import { M, MEASURE_COUNT, hourOf, iso, type UsageRow } from './rows.ts';
import { figures, type ReportFigures } from './report-engine.ts';

export interface WaitSample {
  frameworkId: string;
  role: string;
  /** When the demand was first expressed and when launches satisfied it (ms). */
  since: number;
  at: number;
  /** Units satisfied at once. */
  units: number;
}

export interface WaitStats {
  /** Demand units satisfied in the window. */
  units: number;
  meanSeconds: number;
  p50Seconds: number;
  p90Seconds: number;
  p99Seconds: number;
  maxSeconds: number;
}

export interface OpenDemand {
  role: string;
  units: number;
  since: number;
}

export interface Spender {
  name: string;
  /** Rented cost allocated to it. */
  rentedCost: number;
  /** Share of all rented spend. */
  share: number;
  allocatedCpuHours: number;
}

export interface Summary {
  window: { from: string; to: string };
  /** The part of the window the figures stand for, as in reports. */
  coverage: Coverage;
  currency: string;
  cost: number;
  rented: ReportFigures & { allocatedShare: number };
  owned: ReportFigures;
  ownedFirst: {
    /** Hours in which rented capacity was allocated. */
    hoursWithRentedAllocation: number;
    /** …of which owned capacity had idle cores at the same time. */
    hoursWithOwnedIdle: number;
    /** Σ over hours of min(owned idle core-hours, rented allocated core-hours). */
    rentedCpuHoursWhileOwnedIdle: number;
    /** The rented cost of those core-hours, at each hour's rented cost per allocated core-hour. */
    rentedCostWhileOwnedIdle: number;
    /** true when less than 1 % of rented allocated core-hours ran while owned cores were idle. */
    ownedUsedFirst: boolean;
    worstHours: { hour: string; ownedIdleCpuHours: number; rentedAllocatedCpuHours: number }[];
  };
  rentedSpendByRole: Spender[];
  rentedSpendByFramework: Spender[];
  demandWait: WaitStats & { byRole: Record<string, WaitStats>; waitingNow: { units: number; oldestSeconds: number } };
  warnings: string[];
  sentences: string[];
}

const newM = (): number[] => new Array<number>(MEASURE_COUNT).fill(0);

/** Nearest-rank percentiles over wait samples, weighted by units. */
export function waitStats(samples: readonly WaitSample[]): WaitStats {
  const list = samples.map((s) => ({ w: Math.max(0, s.at - s.since) / 1000, n: s.units })).sort((a, b) => a.w - b.w);
  const units = list.reduce((a, s) => a + s.n, 0);
  if (units === 0) return { units: 0, meanSeconds: 0, p50Seconds: 0, p90Seconds: 0, p99Seconds: 0, maxSeconds: 0 };
  const rank = (p: number): number => {
    const target = Math.ceil(p * units);
    let seen = 0;
    for (const s of list) if ((seen += s.n) >= target) return s.w;
    return list[list.length - 1].w;
  };
  return {
    units, meanSeconds: list.reduce((a, s) => a + s.w * s.n, 0) / units,
    p50Seconds: rank(0.5), p90Seconds: rank(0.9), p99Seconds: rank(0.99), maxSeconds: list[list.length - 1].w,
  };
}

export class SummaryBuilder {
  private readonly rented = newM();
  private readonly owned = newM();
  private rentedCostSum = 0;
  private readonly perHour = new Map<number, { ownedIdle: number; rentedAlloc: number; rentedCost: number }>();
  private readonly byRole = new Map<string, { cost: number; cpu: number }>();
  private readonly byFramework = new Map<string, { cost: number; cpu: number; name: string }>();
  private readonly warnings = new Set<string>();
  private currency = '';

  constructor(private readonly window: { from: number; to: number }) {}

  add(r: UsageRow): void {
    const d = r.dims;
    if (!this.currency) this.currency = d.cur;
    if (r.warn && this.warnings.size < 50) this.warnings.add(r.warn);
    const into = d.own === 'rented' ? this.rented : this.owned;
    for (let i = 0; i < into.length; i++) into[i] += r.m[i];
    const h = hourOf(r.start);
    let hour = this.perHour.get(h);
    if (!hour) this.perHour.set(h, (hour = { ownedIdle: 0, rentedAlloc: 0, rentedCost: 0 }));
    if (d.own === 'owned') {
      if (d.role === IDLE) hour.ownedIdle += r.m[M.capCpu];
      return;
    }
    this.rentedCostSum += r.m[M.cost];
    hour.rentedAlloc += r.m[M.allocCpu];
    hour.rentedCost += r.m[M.cost];
    if (d.role === IDLE) return;
    const role = this.byRole.get(d.role) ?? { cost: 0, cpu: 0 };
    role.cost += r.m[M.cost];
    role.cpu += r.m[M.allocCpu];
    this.byRole.set(d.role, role);
    const fw = this.byFramework.get(d.fw) ?? { cost: 0, cpu: 0, name: d.fwName };
    fw.cost += r.m[M.cost];
    fw.cpu += r.m[M.allocCpu];
    this.byFramework.set(d.fw, fw);
  }

  result(waits: readonly WaitSample[], open: readonly OpenDemand[], now: number, coverage: Coverage = fullCoverage(this.window)): Summary {
    const rented = figures(this.rented, this.rentedCostSum);
    const owned = figures(this.owned, 0);
    let hoursRented = 0;
    let hoursIdle = 0;
    let overlap = 0;
    let overlapCost = 0;
    const worst: Summary['ownedFirst']['worstHours'] = [];
    for (const [h, x] of [...this.perHour].sort((a, b) => a[0] - b[0])) {
      if (x.rentedAlloc <= 1e-9) continue;
      hoursRented++;
      const o = Math.min(x.ownedIdle, x.rentedAlloc);
      if (o > 1e-9) {
        hoursIdle++;
        overlap += o;
        overlapCost += x.rentedCost * (o / x.rentedAlloc);
        worst.push({ hour: iso(h), ownedIdleCpuHours: x.ownedIdle, rentedAllocatedCpuHours: x.rentedAlloc });
      }
    }
    worst.sort((a, b) => Math.min(b.ownedIdleCpuHours, b.rentedAllocatedCpuHours) - Math.min(a.ownedIdleCpuHours, a.rentedAllocatedCpuHours));
    const spenders = (m: Map<string, { cost: number; cpu: number; name?: string }>): Spender[] => [...m]
      .map(([k, v]) => ({ name: v.name && v.name !== k ? `${v.name} (${k})` : k, rentedCost: v.cost, share: this.rentedCostSum > 0 ? v.cost / this.rentedCostSum : 0, allocatedCpuHours: v.cpu }))
      .sort((a, b) => b.rentedCost - a.rentedCost).slice(0, 10);
    const inWindow = waits.filter((w) => w.at >= this.window.from && w.at < this.window.to);
    const roles = [...new Set(inWindow.map((w) => w.role))].sort();
    const waitingUnits = open.reduce((a, u) => a + u.units, 0);
    const oldest = open.length ? Math.max(...open.map((u) => now - u.since)) / 1000 : 0;
    const summary: Summary = {
      window: { from: iso(this.window.from), to: iso(this.window.to) },
      coverage,
      currency: this.currency || 'USD',
      cost: rented.cost + owned.cost,
      rented: { ...rented, allocatedShare: rented.cost > 0 ? rented.allocatedCost / rented.cost : 0 },
      owned,
      ownedFirst: {
        hoursWithRentedAllocation: hoursRented, hoursWithOwnedIdle: hoursIdle,
        rentedCpuHoursWhileOwnedIdle: overlap, rentedCostWhileOwnedIdle: overlapCost,
        ownedUsedFirst: overlap <= 0.01 * rented.allocated.cpu,
        worstHours: worst.slice(0, 5),
      },
      rentedSpendByRole: spenders(this.byRole),
      rentedSpendByFramework: spenders(this.byFramework),
      demandWait: {
        ...waitStats(inWindow),
        byRole: Object.fromEntries(roles.map((r) => [r, waitStats(inWindow.filter((w) => w.role === r))])),
        waitingNow: { units: waitingUnits, oldestSeconds: oldest },
      },
      warnings: [...(coverage.note ? [coverage.note] : []), ...[...this.warnings].sort()],
      sentences: [],
    };
    summary.sentences = sentences(summary);
    return summary;
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const secs = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

/** The answers in plain words, for the CLI. */
export function sentences(s: Summary): string[] {
  const c = (x: number): string => `${x.toFixed(2)} ${s.currency}`;
  const out: string[] = [];
  out.push(`Rented spend: ${c(s.rented.cost)} of ${c(s.cost)} in total; ${pct(s.rented.allocatedShare)} of it paid for allocated capacity, ${c(s.rented.idleCost)} for idle capacity; tasks used ${pct(s.rented.usedShare.cpu)} of the rented core-hours.`);
  out.push(`Owned capacity: ${pct(s.owned.utilisation.cpu)} of its core-hours allocated, ${pct(s.owned.usedShare.cpu)} used; idle cost ${c(s.owned.idleCost)}.`);
  const f = s.ownedFirst;
  if (f.hoursWithRentedAllocation === 0) out.push('Owned before rented: no rented capacity was allocated in this window.');
  else if (f.ownedUsedFirst) out.push(`Owned before rented: yes — in ${f.hoursWithRentedAllocation} hours with rented allocations, owned cores were idle for ${f.rentedCpuHoursWhileOwnedIdle.toFixed(1)} of the rented core-hours (under 1%).`);
  else out.push(`Owned before rented: no — in ${f.hoursWithOwnedIdle} of ${f.hoursWithRentedAllocation} hours with rented allocations owned cores sat idle; ${f.rentedCpuHoursWhileOwnedIdle.toFixed(1)} rented core-hours (${c(f.rentedCostWhileOwnedIdle)}) could have run on them, constraints permitting.`);
  const top = s.rentedSpendByRole[0];
  if (top) out.push(`Rented spend by role: ${s.rentedSpendByRole.slice(0, 3).map((r) => `${r.name} ${c(r.rentedCost)} (${pct(r.share)})`).join(', ')}.`);
  const topFw = s.rentedSpendByFramework[0];
  if (topFw) out.push(`Rented spend by framework: ${s.rentedSpendByFramework.slice(0, 3).map((r) => `${r.name} ${c(r.rentedCost)} (${pct(r.share)})`).join(', ')}.`);
  const w = s.demandWait;
  out.push(w.units === 0
    ? 'Demand wait: no REQUEST demand was satisfied in this window.'
    : `Demand wait: ${w.units} demanded task(s) got capacity after p50 ${secs(w.p50Seconds)}, p90 ${secs(w.p90Seconds)}, max ${secs(w.maxSeconds)}.`);
  if (w.waitingNow.units > 0) out.push(`Still waiting now: ${w.waitingNow.units} unit(s), the oldest for ${secs(w.waitingNow.oldestSeconds)}.`);
  return out;
}
