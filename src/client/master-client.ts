// A small client of the master's APIs for the CLI. Given every replica's URL, it follows 307
// redirects to the leader and, when a replica is down or has no leader yet (503), tries the next
// one with jittered backoff — so a command issued during a leader failover still succeeds.
import { backoffMs, defaultMasterUrls, MasterRotation, parseMasterUrls } from './master-urls.ts';

export interface MasterClientOptions {
  /** Rounds over the whole list before giving up (default 5: about 8 s of backoff in all). */
  rounds?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per attempt: a replica that has not answered within this long is taken for down (default 15 s). */
  attemptTimeoutMs?: number;
}

export class MasterClient {
  readonly urls: string[];
  private readonly rotation: MasterRotation;

  constructor(master?: string | readonly string[], private readonly opts: MasterClientOptions = {}) {
    this.urls = master === undefined ? defaultMasterUrls() : parseMasterUrls(master);
    this.rotation = new MasterRotation(this.urls);
  }

  /** The replica (or leader) the next request goes to first. */
  get baseUrl(): string {
    return this.rotation.current();
  }

  async call<T = Record<string, unknown>>(type: string, extra: object = {}): Promise<T> {
    const res = await this.request('/api/v1', { type, ...extra });
    return (await res.json()) as T;
  }

  /** POSTs JSON; rejects with the master's message unless 2xx. */
  async request(path: string, body: object): Promise<Response> {
    const res = await this.fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`master answered ${res.status}: ${await res.text()}`);
    return res;
  }

  /** fetch against the leader: redirects followed, unreachable replicas and 503s retried on the others. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const rounds = this.opts.rounds ?? 5;
    const n = this.urls.length;
    let lastError = '';
    for (let attempt = 0; attempt < rounds * n; attempt++) {
      if (attempt > 0 && attempt % n === 0) {
        await new Promise((r) => setTimeout(r, backoffMs(attempt / n - 1, this.opts.baseDelayMs ?? 250, this.opts.maxDelayMs ?? 4000)));
      }
      const base = this.rotation.current();
      let res: Response;
      try {
        res = await fetch(new URL(path, base), { redirect: 'follow', signal: AbortSignal.timeout(this.opts.attemptTimeoutMs ?? 15_000), ...init });
      } catch (e) {
        lastError = `cannot reach the master at ${base}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`;
        this.rotation.fail();
        continue;
      }
      if (res.status === 503) {
        lastError = `master at ${base} answered 503: ${await res.text()}`;
        this.rotation.fail();
        continue;
      }
      if (res.redirected) this.rotation.follow(res.url);
      return res;
    }
    throw new Error(n > 1 ? `no leading master among ${this.urls.join(', ')}; last: ${lastError}` : lastError);
  }
}

/** The first configured master URL ($SPILLWAY_MASTER or the local default), for help texts. */
export function defaultMasterUrl(): string {
  return defaultMasterUrls().join(',');
}
