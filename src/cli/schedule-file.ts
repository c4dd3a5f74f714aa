// Maintenance schedule files for `spillway maintenance schedule set FILE`: YAML or JSON in the shape
// of Mesos' maintenance::Schedule, where times may also be written for people — `start` as an
// ISO 8601 date, `duration` as `2h` / `30m` — instead of `{nanoseconds: N}`.
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { ConfigFileError, parseConfig } from '../../providers/pool-config.ts';
import { parseDurationSeconds } from './duration.ts';

type Nanos = { nanoseconds: number };

/** `{nanoseconds: N}` as it is, or a string read by `fromText` (which returns ns or an error). */
const timeField = (fromText: (s: string) => number | string, expected: string) => z.unknown().transform((v, ctx): Nanos => {
  if (typeof v === 'string') {
    const ns = fromText(v);
    if (typeof ns === 'number') return { nanoseconds: ns };
    ctx.addIssue({ code: 'custom', message: ns });
    return z.NEVER;
  }
  const n = (v as Partial<Nanos> | null)?.nanoseconds;
  if (typeof v === 'object' && v !== null && Object.keys(v).length === 1 && typeof n === 'number' && Number.isInteger(n)) return { nanoseconds: n };
  ctx.addIssue({ code: 'custom', message: `expected ${expected} or {nanoseconds: N}` });
  return z.NEVER;
});

const Start = timeField((s) => {
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? `'${s}' is not a date (use ISO 8601, e.g. 2026-12-03T02:00:00Z, or {nanoseconds: N})` : ms * 1e6;
}, 'an ISO 8601 date');

const Duration = timeField((s) => {
  const sec = parseDurationSeconds(s);
  return typeof sec === 'string' ? sec : Math.round(sec * 1e9);
}, 'a duration like 2h');

export const ScheduleFileSchema = z.object({
  windows: z.array(z.object({
    machine_ids: z.array(z.object({ hostname: z.string().min(1).optional(), ip: z.string().min(1).optional() }).strict()).min(1),
    unavailability: z.object({ start: Start, duration: Duration.optional() }).strict(),
  }).strict()),
}).strict();

export type ScheduleFile = z.infer<typeof ScheduleFileSchema>;

/** The Mesos schedule JSON from a file; throws ConfigFileError (file:line: path: reason). */
export function loadScheduleFile(file: string): ScheduleFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigFileError(file, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseConfig(ScheduleFileSchema, text, file);
}
