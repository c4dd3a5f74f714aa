// Bounds the connections Node's built-in fetch opens per origin.
//
// SimulatedAgent talks to the master with the global fetch, one request per status update and no
// limit on concurrency. Node's default undici Agent opens a new TCP connection for every request
// that finds no idle one, so a burst of a few hundred LAUNCH events turns into a few hundred
// simultaneous connects: the master's accept queue (backlog 511) overflows, the kernel drops SYNs
// and the client retransmits them 1 s, 3 s, 7 s… later — multi-second stalls, then ECONNRESETs.
// Real agents pool their connections; so does the benchmark, by replacing fetch's global
// dispatcher with an Agent of the same (bundled) class limited to `connections` per origin.
//
// Node 20 exposes no import for its bundled undici; the class is taken from the default global
// dispatcher, which exists once fetch has been called (the caller does one fetch first).
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

interface DispatcherLike { constructor: new (opts: { connections: number; keepAliveTimeout?: number }) => unknown; destroy?: () => Promise<void> }

/** Returns a function restoring the previous dispatcher, or undefined when it cannot be done. */
export function boundFetchConnections(connections: number): (() => Promise<void>) | undefined {
  const g = globalThis as unknown as Record<symbol, DispatcherLike | undefined>;
  const previous = g[GLOBAL_DISPATCHER];
  if (!previous || typeof previous.constructor !== 'function') return undefined;
  const bounded = new previous.constructor({ connections, keepAliveTimeout: 60_000 }) as DispatcherLike;
  g[GLOBAL_DISPATCHER] = bounded;
  return async () => {
    g[GLOBAL_DISPATCHER] = previous;
    await bounded.destroy?.().catch(() => {});
  };
}
