// What a report is asked for — the window, the grouping and the format — parsed and checked in one
// place for the CLI (`spillway report`) and the API (`GET /v1/reports`), so both give the same
// answer to bad input: the field, what was wrong and the accepted values.
import * as z from 'zod';
import { DURATION_HELP, parseDuration } from './duration.ts';

export const GROUPINGS = ['pool', 'ownership', 'provider', 'role', 'framework', 'day', 'hour', 'agent', 'instance-type', 'capacity-type', 'zone'] as const;
export type Grouping = (typeof GROUPINGS)[number];
export const FORMATS = ['table', 'csv', 'json'] as const;
export type ReportFormat = (typeof FORMATS)[number];

export const DEFAULT_WINDOW = '7d';

export interface ReportQuery extends ReportWindow {
  by: Grouping[];
  format: ReportFormat;
}

export class ReportQueryError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'ReportQueryError';
  }
}

/** The raw inputs, as strings (query parameters or CLI options). */
export const RawReportQuerySchema = z.object({
  window: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  by: z.string().optional(),
  format: z.string().optional(),
}).strict();
export type RawReportQuery = z.infer<typeof RawReportQuerySchema>;

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function instant(field: string, text: string): number {
  const t = ISO.test(text.trim()) ? Date.parse(text.trim()) : Number.NaN;
  if (!Number.isFinite(t)) throw new ReportQueryError(field, `'${text}' is not an ISO 8601 time (e.g. 2026-11-01 or 2026-11-01T09:30:00Z)`);
  return t;
}

/** The groupings named in `by` ("ownership,pool"); none means one total row. */
export function parseGroupings(text: string | undefined): Grouping[] {
  if (text === undefined || text.trim() === '') return [];
  const out: Grouping[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    if (!(GROUPINGS as readonly string[]).includes(part)) {
      throw new ReportQueryError('by', `unknown grouping '${part}' (accepted: ${GROUPINGS.join(', ')})`);
    }
    if (out.includes(part as Grouping)) throw new ReportQueryError('by', `grouping '${part}' is given twice`);
    out.push(part as Grouping);
  }
  return out;
}

/**
 * The window: `window` alone ends now; with `from` it starts there, with `to` it ends there;
 * `from` and `to` alone give it exactly; `from` alone runs to now. Default: the last 7 days.
 */
export interface ReportWindow {
  /** [from, to) in ms since the epoch. */
  from: number;
  to: number;
  /**
   * The window is a length back from now (`window` alone, or the default): its start is not a
   * time anyone chose, so it may start at its hour's beginning where only that hour's rollup is
   * left (coverage.ts).
   */
  startFloats?: boolean;
}

export function parseWindow(raw: Pick<RawReportQuery, 'window' | 'from' | 'to'>, now: number): ReportWindow {
  if (raw.window !== undefined && raw.from !== undefined && raw.to !== undefined) {
    throw new ReportQueryError('window', 'give at most two of window, from and to');
  }
  let length: number | undefined;
  if (raw.window !== undefined) {
    length = parseDuration(raw.window);
    if (length === undefined) throw new ReportQueryError('window', `'${raw.window}' is not a duration (accepted: ${DURATION_HELP})`);
  }
  const from = raw.from !== undefined ? instant('from', raw.from) : undefined;
  const to = raw.to !== undefined ? instant('to', raw.to) : undefined;
  let w: ReportWindow;
  if (from !== undefined && to !== undefined) w = { from, to };
  else if (from !== undefined) w = { from, to: length !== undefined ? from + length : now };
  else if (to !== undefined) w = { from: to - (length ?? parseDuration(DEFAULT_WINDOW)!), to };
  else w = { from: now - (length ?? parseDuration(DEFAULT_WINDOW)!), to: now, startFloats: true };
  if (w.to <= w.from) {
    throw new ReportQueryError(to !== undefined ? 'to' : 'from', `the window ends (${new Date(w.to).toISOString()}) before it starts (${new Date(w.from).toISOString()})`);
  }
  return w;
}

export function parseFormat(text: string | undefined, fallback: ReportFormat): ReportFormat {
  if (text === undefined) return fallback;
  if (!(FORMATS as readonly string[]).includes(text)) throw new ReportQueryError('format', `'${text}' is not offered (accepted: ${FORMATS.join(', ')})`);
  return text as ReportFormat;
}

/** Parses and checks a report request; throws ReportQueryError naming the field. */
export function parseReportQuery(input: Record<string, unknown>, now: number, defaultFormat: ReportFormat = 'json'): ReportQuery {
  const shape = RawReportQuerySchema.safeParse(input);
  if (!shape.success) {
    const issue = shape.error.issues[0];
    if (issue.code === 'unrecognized_keys') {
      throw new ReportQueryError(issue.keys[0], `unknown parameter (accepted: ${Object.keys(RawReportQuerySchema.shape).join(', ')})`);
    }
    throw new ReportQueryError(issue.path.join('.') || '(query)', 'give it once, as text');
  }
  const raw = shape.data;
  return { ...parseWindow(raw, now), by: parseGroupings(raw.by), format: parseFormat(raw.format, defaultFormat) };
}
