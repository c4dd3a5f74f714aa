// Durations as people write them on the command line and in query strings: `90d`, `36h`, `15m`,
// `2w`, `60s` (a whole number and one unit). Shared by the report window and the accounting flags.

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const DURATION_HELP = 'a whole number followed by s, m, h, d or w (e.g. 60s, 15m, 36h, 7d, 2w)';

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNITS[m[2]];
  return ms > 0 ? ms : undefined;
}

/** `7d`, `36h`, `90s`: the largest unit that divides the duration. */
export function formatDuration(ms: number): string {
  for (const u of ['w', 'd', 'h', 'm', 's']) if (ms % UNITS[u] === 0) return `${ms / UNITS[u]}${u}`;
  return `${ms / 1000}s`;
}
