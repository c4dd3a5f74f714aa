// Command-line helpers shared by the benchmarks: --help prints the script's own header comment,
// and numeric flags are checked with the flag named in the error.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Prints the leading `//` comment block of the script at `moduleUrl` (its usage) and exits 0. */
export function printHeaderHelp(moduleUrl: string): never {
  const text = readFileSync(fileURLToPath(moduleUrl), 'utf8').split('\n');
  const end = text.findIndex((l) => !l.startsWith('//'));
  const header = end < 0 ? text : text.slice(0, end);
  process.stderr.write(header.map((l) => l.slice(3)).join('\n') + '\n');
  process.exit(0);
}

/** A numeric flag's value, undefined when not given; throws naming the flag when out of range. */
export function numberFlag(flag: string, v: string | undefined, min: number, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`--${flag}: '${v}' must be ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return n;
}

/** The flags every process-starting benchmark takes (node:util parseArgs options). */
export const RUN_FLAGS = {
  timeout: { type: 'string', default: '300' },
  keep: { type: 'boolean', default: false },
  check: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;
