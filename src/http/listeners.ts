// More addresses for the master's HTTP server (`--listen HOST[:PORT]`): one node:http server per
// address, all serving the same Koa handler. Agents in network namespaces reach the master on the
// host's bridge address; that address may appear only after the master started (the local
// provider creates the bridge at its first launch), so an address that does not exist yet is
// retried every second until it does. Any other bind error is fatal.
import type { Server } from 'node:http';
import type { Logger } from '../common/logger.ts';

export interface ListenAddress {
  host: string;
  /** undefined = the primary listener's port. */
  port?: number;
}

/** `HOST`, `HOST:PORT` or `[IPV6]:PORT`; throws with the reason. */
export function parseListenAddress(spec: string): ListenAddress {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(spec) ?? /^([^:[\]\s]+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new Error(`'${spec}' is not HOST, HOST:PORT or [IPV6]:PORT`);
  if (m[2] === undefined) return { host: m[1]! };
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`'${spec}': port ${port} is above 65535`);
  return { host: m[1]!, port };
}

export const urlFor = (host: string, port: number, scheme: 'http' | 'https' = 'http'): string => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;

const RETRY_MS = 1000;

export class ExtraListeners {
  private readonly servers: Server[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  /** `newServer` makes a server like the primary one (same handler, same TLS). */
  constructor(private readonly newServer: () => Server, private readonly log: Logger, private readonly scheme: 'http' | 'https' = 'http') {}

  /**
   * Listens on `host:port`; resolves with its URL once bound, or at once (URL included) when the
   * address does not exist yet and binding goes on in the background.
   */
  async add(host: string, port: number): Promise<string> {
    const url = urlFor(host, port, this.scheme);
    const attempt = (): Promise<'bound' | 'not-yet'> => new Promise((resolve, reject) => {
      const server = this.newServer();
      server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRNOTAVAIL' ? resolve('not-yet') : reject(new Error(`cannot listen on ${host}:${port}: ${e.message}`))));
      server.listen(port, host, () => {
        this.servers.push(server);
        resolve('bound');
      });
    });
    if ((await attempt()) === 'bound') return url;
    this.log.warn({ host, port }, 'listen address does not exist yet; retrying every second until it does');
    const retry = (): void => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.closed) return;
        attempt().then((r) => {
          if (this.closed) return void this.close();
          if (r === 'bound') this.log.info({ url }, 'master listening on an extra address');
          else retry();
        }, (e: Error) => this.log.error({ err: e.message }, 'giving up on a listen address'));
      }, RETRY_MS);
      timer.unref();
      this.timers.add(timer);
    };
    retry();
    return url;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
  }
}
