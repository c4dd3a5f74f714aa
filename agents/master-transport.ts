// HTTP or HTTPS to the master, by the URL's scheme. For https the master's certificate must chain
// to the CA the agent was given (`--ca-file`, pinned by `--ca-pin`) — and only to it, not to the
// system's roots: a VM trusts exactly the master that bootstrapped it.
import http from 'node:http';
import https from 'node:https';

export interface TransportOptions {
  /** PEM of the CA that signs the master's certificate; without it https uses the system roots. */
  ca?: string;
}

export class MasterTransport {
  private readonly pooled: { http: http.Agent; https: https.Agent };

  constructor(private readonly opts: TransportOptions = {}) {
    this.pooled = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true, ...(opts.ca ? { ca: opts.ca } : {}) }) };
  }

  /** A request to `url`; `pooled` reuses keep-alive connections (short calls), else a fresh one (streams). */
  request(url: string, options: http.RequestOptions, pooled: boolean, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    if (url.startsWith('https:')) {
      const agent = pooled ? this.pooled.https : new https.Agent({ keepAlive: false, ...(this.opts.ca ? { ca: this.opts.ca } : {}) });
      return https.request(url, { ...options, agent }, onResponse);
    }
    return http.request(url, { ...options, agent: pooled ? this.pooled.http : false }, onResponse);
  }

  destroy(): void {
    this.pooled.http.destroy();
    this.pooled.https.destroy();
  }
}
