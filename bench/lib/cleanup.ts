// Everything a benchmark starts registers its stop function here; `runCleanups` stops them in
// reverse order (also on SIGINT/SIGTERM and on errors), each at most once.
type Cleanup = { what: string; fn: () => Promise<void> | void };

const stack: Cleanup[] = [];

export function onCleanup(what: string, fn: () => Promise<void> | void): () => Promise<void> {
  const entry = { what, fn };
  stack.push(entry);
  return async () => {
    const i = stack.indexOf(entry);
    if (i < 0) return;
    stack.splice(i, 1);
    await entry.fn();
  };
}

export async function runCleanups(log: (s: string) => void): Promise<void> {
  while (stack.length) {
    const c = stack.pop()!;
    try {
      await c.fn();
    } catch (e) {
      log(`cleanup of ${c.what} failed: ${(e as Error).message}`);
    }
  }
}

let installed = false;
let interrupted = false;

/** True once a signal or a fatal error started the shutdown (the main flow's errors are moot then). */
export function shuttingDown(): boolean {
  return interrupted;
}

/** On SIGINT/SIGTERM: stop everything we started, then exit. */
export function installSignalHandlers(log: (s: string) => void): void {
  if (installed) return;
  installed = true;
  let stopping = false;
  const handler = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    interrupted = true;
    log(`${sig}: stopping everything the benchmark started`);
    void runCleanups(log).finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  // A simulated agent whose update call fails rejects a promise nobody awaits; by default that
  // kills the process without cleanup. The task's update is lost then, so the run is void: stop.
  const fatal = (what: string) => (e: unknown): void => {
    if (stopping) return;
    stopping = true;
    interrupted = true;
    log(`${what}: ${(e as Error)?.stack ?? String(e)}`);
    log('stopping everything the benchmark started');
    void runCleanups(log).finally(() => process.exit(1));
  };
  process.on('unhandledRejection', fatal('unhandled rejection'));
  process.on('uncaughtException', fatal('uncaught exception'));
}
