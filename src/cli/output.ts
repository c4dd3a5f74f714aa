// Listing output: a readable table for people, --json for scripts.
import Table from 'cli-table3';

export function printTable(headers: string[], rows: (string | number)[][]): void {
  const table = new Table({ head: headers, style: { head: [], border: [] } });
  for (const r of rows) table.push(r.map(String));
  process.stdout.write(`${table.toString()}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Progress lines for long operations, on stderr so stdout stays clean for pipes. */
export function step(message: string): () => void {
  const started = Date.now();
  process.stderr.write(`• ${message} …`);
  return () => process.stderr.write(` done (${Date.now() - started} ms)\n`);
}

export function fail(message: string, code = 1): never {
  process.stderr.write(`spillway: ${message}\n`);
  process.exit(code);
}

/**
 * Exits once what was written to stdout and stderr is out. Writes to a pipe are asynchronous once
 * its buffer is full, and process.exit drops what is still queued: a `--json` listing of a few
 * hundred KB piped to jq lost its tail.
 */
export function exitWhenWritten(code: number): void {
  let pending = 2;
  const done = (): void => { if (--pending === 0) process.exit(code); };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

/** Runs a command's action; an error ends the process with its message (as `describe` words it). */
export async function runOrFail(fn: () => Promise<void>, describe: (e: Error) => string = (e) => e.message): Promise<void> {
  try {
    await fn();
  } catch (e) {
    fail(describe(e as Error));
  }
}
