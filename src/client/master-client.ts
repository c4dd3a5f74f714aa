// A small client of the master's APIs for the CLI. Given every replica's URL, it follows 307
// redirects to the leader and, when a replica is down or has no leader yet (503), tries the next
// one with jittered backoff — so a command issued during a leader failover still succeeds.
//
// A request that changes something (POST, PUT, DELETE …) is retried only when it certainly did not
// reach a master: the connection was refused or never made, or a master answered 503 (no leader,
// nothing done). When the connection broke or went silent after the request was sent, the master
// may have applied it; sending it again could, say, mint a second join token — so the client stops
// and says so. Reads, and calls marked `idempotent`, are retried in every case.
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

  /** An operator API call; GET_* calls only read, so they are retried like reads. */
  async call<T = Record<string, unknown>>(type: string, extra: object = {}): Promise<T> {
    const res = await this.request('/api/v1', { type, ...extra }, { idempotent: type.startsWith('GET_') });
    return (await res.json()) as T;
  }

  /** POSTs JSON; rejects with the master's message unless 2xx. */
  async request(path: string, body: object, opts: { idempotent?: boolean } = {}): Promise<Response> {
    const res = await this.fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    }, opts);
    if (!res.ok) throw new Error(`master answered ${res.status}: ${await res.text()}`);
    return res;
  }

  /**
   * fetch against the leader: redirects followed, unreachable replicas and 503s retried on the
   * others — a request that changes something only while it certainly has not reached a master.
   */
  async fetch(path: string, init: RequestInit = {}, opts: { idempotent?: boolean } = {}): Promise<Response> {
    const idempotent = opts.idempotent ?? SAFE_METHODS.has((init.method ?? 'GET').toUpperCase());
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
        const reason = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
        if (!idempotent && maybeSent(e)) {
          throw new Error(`the master at ${base} did not answer ${init.method} ${path} (${reason}) after it was sent: it may or may not `
            + 'have been applied, so it is not sent again; check (e.g. with the matching list command) before retrying');
        }
        lastError = `cannot reach the master at ${base}: ${reason}`;
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

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * fetch failures after which the master may have received the request: the connection broke or
 * went silent once made. Failures to connect (refused, unreachable, unknown host, a connect
 * timeout — also when Node tried several addresses and reports an AggregateError — or a port fetch
 * will not use) happen before a byte is sent.
 */
const MAYBE_SENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function maybeSent(e: unknown): boolean {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return true;
  const cause = (e as { cause?: { code?: unknown; syscall?: unknown; errors?: unknown } }).cause;
  if (!cause || cause.syscall === 'connect' || Array.isArray(cause.errors)) return false;
  return typeof cause.code === 'string' && MAYBE_SENT_CODES.has(cause.code);
}

/** The first configured master URL ($SPILLWAY_MASTER or the local default), for help texts. */
export function defaultMasterUrl(): string {
  return defaultMasterUrls().join(',');
}
