// HTTP or HTTPS to the master, by the URL's scheme. For https the master's certificate must chain
// to the CA the agent was given (`--ca-file`, pinned by `--ca-pin`) — and only to it, not to the
// system's roots: a VM trusts exactly the master that bootstrapped it.
import http from 'node:http';
import https from 'node:https';

export interface TransportOptions {
  /** PEM of the CA that signs the master's certificate; without it https uses the system roots. */
  ca?: string;
}

/**
 * Which connections a request uses: `call` a pool of a few keep-alive ones (after a failover the
 * journal re-sends every task's pending update at once; a few connections carry them in turn, so
 * the new leader is not flooded), `ping` one of its own (never queued behind calls: a PING that
 * times out means the master is gone), `stream` a fresh one (SUBSCRIBE never ends).
 */
export type ConnectionPool = 'call' | 'ping' | 'stream';

const POOL_SOCKETS: Record<Exclude<ConnectionPool, 'stream'>, number> = { call: 8, ping: 1 };

export class MasterTransport {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly opts: TransportOptions = {}) {}

  request(url: string, options: http.RequestOptions, pool: ConnectionPool, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    const secure = url.startsWith('https:');
    const tls = this.opts.ca ? { ca: this.opts.ca } : {};
    let agent: http.Agent | false;
    if (pool === 'stream') agent = secure ? new https.Agent({ keepAlive: false, ...tls }) : false;
    else agent = this.pooled(`${pool}:${secure}`, () => secure
      ? new https.Agent({ keepAlive: true, maxSockets: POOL_SOCKETS[pool], ...tls })
      : new http.Agent({ keepAlive: true, maxSockets: POOL_SOCKETS[pool] }));
    return (secure ? https : http).request(url, { ...options, agent }, onResponse);
  }

  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  private pooled(key: string, make: () => http.Agent): http.Agent {
    let a = this.agents.get(key);
    if (!a) this.agents.set(key, (a = make()));
    return a;
  }
}
