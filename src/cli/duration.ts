// Durations on the command line: `30s`, `500ms`, `2m`, `1h`, `1d`, or a bare number of seconds.

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds, or an error message naming the value. */
export function parseDurationSeconds(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return `'${text}' is not a duration (use e.g. 30s, 500ms, 2m, 1h, 1d)`;
  return Number(m[1]) * UNIT_SECONDS[m[2] ?? 's'];
}
