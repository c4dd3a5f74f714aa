// What a report can read of its window, decided before reading (pure), so that every report says
// which part of the window its figures stand for: whole hours come from their rollups, edge and
// not-yet-rolled hours from their samples, and the rest of the window is missing — expired
// (retention), or never sampled (before accounting began, an outage longer than the backfill
// limit, not yet). Reading only what the plan names keeps the figures and the coverage in step.
import { formatDuration } from './duration.ts';
import { HOUR, hourOf, iso } from './rows.ts';

export interface Span { from: number; to: number }

/** A window asked for; `startFloats`: its start is only "a length back from now" (report-query.ts). */
export interface Window extends Span { startFloats?: boolean }

export interface ReadStep extends Span {
  hour: number;
  /** rollup: the whole hour; samples: those starting in [from, to). */
  source: 'rollup' | 'samples';
}

/** What the store holds, as far as the coverage of a window goes. */
export interface StoreState {
  now: number;
  retentionMs: number;
  sampleRetentionMs: number;
  /** Hours with samples not rolled up yet. */
  pending: ReadonlySet<number>;
  /** End of the last interval sampled; undefined when nothing was ever sampled. */
  cursor?: number;
  /** Start of the first interval ever sampled, when known. */
  since?: number;
  /** Stretches the sampler skipped (an outage longer than its backfill limit). */
  gaps: readonly Span[];
  /**
   * How far the sampler may trail now in normal running (it closes an interval at its end): a
   * window ending now is complete once sampled this close to its end.
   */
  lagMs: number;
  /**
   * The retention settings the samplers wrote with, oldest first (`acct:retention`): keys expire by
   * the settings of the master that wrote them, so after a change older hours keep their old
   * expiry. Empty: the current settings throughout.
   */
  retentionHistory?: readonly RetentionSetting[];
}

export interface RetentionSetting { at: number; retentionMs: number; sampleRetentionMs: number }

/**
 * Whether an hour's rollup and its samples are still in Redis: both are written at (about) the
 * hour's end and expire the retention in force then after it (sample-store.ts).
 */
interface Horizons {
  rollupKept(hour: number): boolean;
  samplesKept(hour: number): boolean;
  rollupsGone(hour: number): string;
  samplesGone(hour: number): string;
  /** No hour before this one has anything left. */
  earliest: number;
}

function horizons(s: StoreState): Horizons {
  const history = s.retentionHistory?.length ? s.retentionHistory : [{ at: -Infinity, retentionMs: s.retentionMs, sampleRetentionMs: s.sampleRetentionMs }];
  const at = (hour: number): RetentionSetting => {
    const written = Math.min(hour + HOUR, s.now);
    let r = history[0];
    for (const h of history) if (h.at <= written) r = h;
    return r;
  };
  const longest = Math.max(...history.map((h) => Math.max(h.retentionMs, h.sampleRetentionMs)));
  return {
    rollupKept: (h) => h + HOUR + at(h).retentionMs > s.now,
    samplesKept: (h) => h + HOUR + at(h).sampleRetentionMs > s.now,
    rollupsGone: (h) => `has expired (hourly rollups are kept ${formatDuration(at(h).retentionMs)})`,
    samplesGone: (h) => `has expired (part of an hour needs its per-interval samples, which are kept ${formatDuration(at(h).sampleRetentionMs)})`,
    earliest: hourOf(s.now - HOUR - longest) + HOUR,
  };
}

export interface Coverage {
  /** The span the figures stand for; null when they stand for nothing. */
  from: string | null;
  to: string | null;
  /** True when that span is exactly the report's window (the one asked for, settled: see `settle`). */
  complete: boolean;
  /** Parts of the window the figures lack, and why. */
  missing: { from: string; to: string; why: string }[];
  /** The difference in words (ASCII: it also goes in an HTTP header); null when complete. */
  note: string | null;
}

export interface ReadPlan {
  steps: ReadStep[];
  coverage: Coverage;
  /** The covered span as times (the window when nothing is covered): CSV charge periods are clipped to it. */
  span: Span;
  /** The window the report states: the one asked for, settled (a window ending now ends at the sampler; a floating start at its hour). */
  window: Span;
}

interface Part extends Span { why: string }

/** The HTTP header of a CSV report with its coverage as JSON (from, to, complete, note: no `missing`). */
export const COVERAGE_HEADER = 'X-Spillway-Coverage';

const MAX_NOTE_PARTS = 5;

/** The coverage of figures read in full: the window itself. */
export const fullCoverage = (w: Span): Coverage => ({ from: iso(w.from), to: iso(w.to), complete: true, missing: [], note: null });

function merge(spans: readonly Span[]): Span[] {
  const out: Span[] = [];
  for (const s of [...spans].sort((a, b) => a.from - b.from)) {
    const last = out[out.length - 1];
    if (last && s.from <= last.to) last.to = Math.max(last.to, s.to);
    else out.push({ from: s.from, to: s.to });
  }
  return out;
}

function subtract(spans: readonly Span[], cuts: readonly Span[]): Span[] {
  let out = [...spans];
  for (const c of cuts) {
    out = out.flatMap((s) => (c.to <= s.from || c.from >= s.to ? [s]
      : [...(s.from < c.from ? [{ from: s.from, to: c.from }] : []), ...(c.to < s.to ? [{ from: c.to, to: s.to }] : [])]));
  }
  return out;
}

/** [a, b) in pieces, each with the first reason that covers it. */
function explain(a: number, b: number, reasons: readonly Part[]): Part[] {
  const cuts = [...new Set([a, b, ...reasons.flatMap((r) => [r.from, r.to]).filter((t) => t > a && t < b)])].sort((x, y) => x - y);
  const out: Part[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const mid = (cuts[i] + cuts[i + 1]) / 2;
    const why = reasons.find((r) => r.from <= mid && mid < r.to)?.why ?? 'has no data';
    const last = out[out.length - 1];
    if (last && last.why === why) last.to = cuts[i + 1];
    else out.push({ from: cuts[i], to: cuts[i + 1], why });
  }
  return out;
}

/**
 * The window the figures can stand for exactly, before anything is missing: a window ending now
 * ends where the sampler is when that is within its normal lag (the last interval is still open,
 * not lost), and a floating start inside an hour whose samples have expired moves back to that
 * hour's start, whose rollup is left (that hour is counted whole).
 */
function settle(asked: Window, s: StoreState, kept: Horizons): Span {
  let { from, to } = asked;
  if (s.cursor !== undefined && to > s.cursor && to <= s.now && to - s.cursor <= s.lagMs && s.cursor > from) to = s.cursor;
  const startHour = hourOf(from);
  if (asked.startFloats && !kept.samplesKept(startHour) && kept.rollupKept(startHour) && !s.pending.has(startHour)) from = startHour;
  return { from, to };
}

export function planRead(asked: Window, s: StoreState): ReadPlan {
  const kept = horizons(s);
  const w = settle(asked, s, kept);
  const steps: ReadStep[] = [];
  const expired: Part[] = [];
  const first = Math.max(w.from, kept.earliest);
  if (w.from < Math.min(first, w.to)) {
    const h = hourOf(w.from);
    expired.push({ from: w.from, to: Math.min(first, w.to), why: s.retentionMs >= s.sampleRetentionMs ? kept.rollupsGone(h) : kept.samplesGone(h) });
  }
  const end = Math.min(w.to, s.cursor ?? -Infinity);
  for (let h = hourOf(first); h < end; h += HOUR) {
    const a = Math.max(h, w.from);
    const b = Math.min(h + HOUR, end);
    const pending = s.pending.has(h);
    const whole = a === h && b === h + HOUR;
    if (whole && !pending && kept.rollupKept(h)) steps.push({ hour: h, source: 'rollup', from: h, to: h + HOUR });
    else if (kept.samplesKept(h)) steps.push({ hour: h, source: 'samples', from: a, to: b });
    // An edge hour with only its rollup left is counted whole when it starts in the window.
    else if (a === h && !pending && kept.rollupKept(h)) steps.push({ hour: h, source: 'rollup', from: h, to: h + HOUR });
    else expired.push({ from: a, to: b, why: whole && !kept.rollupKept(h) ? kept.rollupsGone(h) : kept.samplesGone(h) });
  }
  const unsampled: Part[] = [
    ...(s.since !== undefined ? [{ from: -Infinity, to: s.since, why: 'is before accounting began' }] : []),
    ...s.gaps.map((g) => ({ from: g.from, to: g.to, why: 'was not sampled (no master sampled it within the backfill limit)' })),
    { from: s.cursor ?? -Infinity, to: Infinity, why: `is not sampled yet (${s.cursor === undefined ? 'nothing has been sampled' : `sampled up to ${iso(s.cursor)}`})` },
  ];
  const covered = subtract(merge(steps), unsampled);
  const missing: Part[] = [];
  let t = w.from;
  for (const c of [...covered, { from: w.to, to: w.to }]) {
    if (c.from > t && t < w.to) missing.push(...explain(t, Math.min(c.from, w.to), [...unsampled, ...expired]));
    t = Math.max(t, c.to);
  }
  const hull = covered.length ? { from: covered[0].from, to: covered[covered.length - 1].to } : undefined;
  const complete = missing.length === 0 && hull?.to === w.to;
  return { steps, coverage: coverageOf(w, hull, missing, complete, s.sampleRetentionMs), span: hull ?? w, window: w };
}

function coverageOf(w: Span, hull: Span | undefined, missing: Part[], complete: boolean, sampleRetentionMs: number): Coverage {
  const out: Coverage = {
    from: hull ? iso(hull.from) : null, to: hull ? iso(hull.to) : null, complete,
    missing: missing.map((m) => ({ from: iso(m.from), to: iso(m.to), why: m.why })), note: null,
  };
  if (complete) return out;
  const parts = missing.map((m) => `${iso(m.from)} to ${iso(m.to)} ${m.why}`);
  if (hull && hull.to > w.to) {
    parts.push(`${iso(w.to)} to ${iso(hull.to)} is counted in: the window ends in an hour whose per-interval samples have expired (kept ${formatDuration(sampleRetentionMs)}), so that hour is counted whole`);
  }
  const shown = parts.length > MAX_NOTE_PARTS ? [...parts.slice(0, MAX_NOTE_PARTS), `and ${parts.length - MAX_NOTE_PARTS} more`] : parts;
  const asked = `the window asked for (${iso(w.from)} to ${iso(w.to)})`;
  out.note = `${hull ? `the figures cover ${iso(hull.from)} to ${iso(hull.to)}, not ${asked}` : `the figures cover none of ${asked}`}: ${shown.join('; ')}`;
  return out;
}
