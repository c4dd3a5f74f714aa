// The agent's side of `POST /api/v1/agent`: one long-lived SUBSCRIBE stream (RecordIO events from
// the master) plus short calls (PING, UPDATE) that carry the stream's Mesos-Stream-Id. When the
// stream breaks the agent re-subscribes with jittered exponential backoff, trying each configured
// master replica in turn; a 307 names the leading master. A leader that stops answering (PINGs
// fail or time out, SUBSCRIBE gets no answer) is left for the next replica.
// node:http rather than fetch: we need the 307 itself, not a followed redirect, and fine control
// over a chunked response that never ends. Every request carries `authorization()` when it gives
// one (join token, then the agent's credential); a credential the master issues arrives in the
// SUBSCRIBE response's Spillway-Agent-Credential header.
import type http from 'node:http';
import type { Logger } from 'pino';
import { redactUrl } from '../src/common/logger.ts';
import { backoffMs, MasterRotation, parseMasterUrls } from '../src/client/master-urls.ts';
import { RecordIODecoder } from '../src/mesos/recordio.ts';
import { MasterTransport } from './master-transport.ts';

export interface MasterEvent {
  type: string;
  [field: string]: unknown;
}

export interface ConnectionOptions {
  /** One master URL, or every replica's (a list, or comma-separated). */
  masterUrl: string | readonly string[];
  logger: Logger;
  reconnectMaxDelayMs: number;
  /** Built afresh for every attempt: it carries the current agent id and tasks. */
  subscribeCall(): object;
  onSubscribed(agentId: string): void;
  onEvent(event: MasterEvent): void;
  /** The `Authorization` header for the next request, if any. */
  authorization?(): string | undefined;
  /** The master issued a credential for this agent (at a join-token SUBSCRIBE). */
  onCredential?(credential: string): void;
  /** PEM of the CA to trust for an https master. */
  ca?: string;
}

type Outcome = { redirect?: string; subscribed: boolean };

const INITIAL_BACKOFF_MS = 100;
const CALL_TIMEOUT_MS = 10_000;
/** A SUBSCRIBE with no answer within this long goes to the next replica (the master may be frozen). */
const SUBSCRIBE_TIMEOUT_MS = 10_000;
const DEFAULT_PING_SECONDS = 15;

export const agentEndpoint = (masterUrl: string): string => `${masterUrl.replace(/\/+$/, '')}/api/v1/agent`;

export class MasterConnection {
  private endpoint: string;
  private readonly masters: MasterRotation;
  private streamId: string | undefined;
  /** True between SUBSCRIBED and the end of that stream. */
  private ready = false;
  private currentAgentId: string | undefined;
  private request: http.ClientRequest | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private wakeSleep: (() => void) | undefined;
  // After a failover the journal re-sends every task's pending update at once: a few connections
  // carry them in turn, so the new leader is not flooded. PINGs have a connection of their own and
  // never queue behind them (a PING that times out means the master is gone). TLS per the URL.
  private readonly transport: MasterTransport;

  constructor(private readonly opts: ConnectionOptions) {
    this.transport = new MasterTransport({ ca: opts.ca });
    this.masters = new MasterRotation(parseMasterUrls(opts.masterUrl));
    this.endpoint = agentEndpoint(this.masters.current());
  }

  get agentId(): string | undefined {
    return this.currentAgentId;
  }

  get subscribed(): boolean {
    return this.ready;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves once subscribed (at once if already); rejects when the connection is stopped. */
  whenSubscribed(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('master connection stopped'));
    if (this.subscribed) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** POSTs a call on the current stream; resolves with the HTTP status (202 means accepted). */
  call(body: object, timeoutMs = CALL_TIMEOUT_MS, pool: 'call' | 'ping' = 'call'): Promise<number> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...this.authHeader() };
    if (this.streamId) headers['mesos-stream-id'] = this.streamId;
    return new Promise((resolve, reject) => {
      const req = this.transport.request(this.endpoint, { method: 'POST', headers, timeout: timeoutMs }, pool, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('call timed out')));
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  /** Drops the current stream; the loop re-subscribes (used on ERROR events and stale stream ids). */
  reconnect(): void {
    this.request?.destroy();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.request?.destroy();
    this.wakeSleep?.();
    for (const w of this.waiters.splice(0)) w.reject(new Error('master connection stopped'));
    await this.loop;
    this.transport.destroy();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let redirects = 0;
    while (!this.stopped) {
      const outcome = await this.subscribeOnce();
      this.endSession();
      if (this.stopped) break;
      if (outcome.redirect) {
        this.opts.logger.info({ leader: redactUrl(outcome.redirect) }, 'following redirect to the leading master');
        this.endpoint = outcome.redirect;
        if (++redirects <= 3) continue; // follow at once, but never loop between two masters
      } else {
        // The session ended or never started: the leader we followed may be gone; ask the next replica.
        this.masters.fail();
        this.endpoint = agentEndpoint(this.masters.current());
      }
      if (outcome.subscribed) attempt = 0; // a healthy session ended: retry quickly
      redirects = 0;
      await this.sleep(backoffMs(attempt++, INITIAL_BACKOFF_MS * 2, this.opts.reconnectMaxDelayMs));
    }
  }

  /** One SUBSCRIBE attempt; resolves when the stream ends for whatever reason. */
  private subscribeOnce(): Promise<Outcome> {
    return new Promise((resolve) => {
      const outcome: Outcome = { subscribed: false };
      let settled = false;
      const done = (): void => { if (!settled) { settled = true; resolve(outcome); } };
      const req = this.transport.request(this.endpoint, {
        method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...this.authHeader() },
      }, 'stream', (res) => {
        clearTimeout(noAnswer);
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          outcome.redirect = new URL(res.headers.location, this.endpoint).toString();
          res.resume();
          res.on('end', done);
          res.on('close', done);
          return;
        }
        if (status !== 200) {
          let reason = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => { if (reason.length < 1000) reason += chunk; });
          res.on('end', () => { this.opts.logger.warn({ status, reason: reason.trim() }, 'SUBSCRIBE refused'); done(); });
          res.on('close', done);
          return;
        }
        const credential = res.headers['spillway-agent-credential'];
        if (typeof credential === 'string' && credential) this.opts.onCredential?.(credential);
        this.streamId = String(res.headers['mesos-stream-id'] ?? '') || undefined;
        const decoder = new RecordIODecoder();
        res.on('data', (chunk: Buffer) => {
          try {
            for (const ev of decoder.push(chunk)) outcome.subscribed = this.handle(ev as MasterEvent) || outcome.subscribed;
          } catch (err) {
            this.opts.logger.warn({ err: (err as Error).message }, 'bad event stream; reconnecting');
            req.destroy();
          }
        });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      });
      const noAnswer = setTimeout(() => {
        this.opts.logger.warn({ endpoint: redactUrl(this.endpoint) }, 'SUBSCRIBE got no answer; trying the next master');
        req.destroy();
      }, SUBSCRIBE_TIMEOUT_MS);
      req.on('close', () => clearTimeout(noAnswer));
      req.on('socket', (s) => s.setKeepAlive(true, 10_000));
      req.on('error', (err) => {
        // A TLS failure will not fix itself by retrying: say so loudly.
        const tls = /certificate|self.signed|SSL|TLS|altnames/i.test(err.message);
        this.opts.logger[tls ? 'error' : 'debug']({ err: err.message, endpoint: redactUrl(this.endpoint) }, tls ? 'cannot verify the master\'s TLS certificate' : 'SUBSCRIBE failed');
        done();
      });
      req.on('close', done);
      this.request = req;
      req.end(JSON.stringify(this.opts.subscribeCall()));
    });
  }

  /** Returns true for SUBSCRIBED. */
  private handle(ev: MasterEvent): boolean {
    if (ev.type === 'SUBSCRIBED') {
      const sub = ev.subscribed as { agent_id?: { value?: string }; ping_interval_seconds?: number } | undefined;
      const id = sub?.agent_id?.value;
      if (!id) throw new Error('SUBSCRIBED without agent_id');
      this.currentAgentId = id;
      this.ready = true;
      this.opts.onSubscribed(id);
      this.startPinging(sub?.ping_interval_seconds ?? DEFAULT_PING_SECONDS);
      for (const w of this.waiters.splice(0)) w.resolve();
      this.opts.logger.info({ agentId: id, endpoint: redactUrl(this.endpoint) }, 'subscribed to master');
      return true;
    }
    if (ev.type === 'ERROR') {
      const message = (ev.error as { message?: string } | undefined)?.message ?? ev.message;
      this.opts.logger.error({ message }, 'master sent ERROR; re-subscribing');
      this.request?.destroy();
      return false;
    }
    if (ev.type !== 'HEARTBEAT') this.opts.onEvent(ev);
    return false;
  }

  private authHeader(): Record<string, string> {
    const value = this.opts.authorization?.();
    return value ? { authorization: value } : {};
  }

  private startPinging(intervalSeconds: number): void {
    clearInterval(this.pingTimer);
    const everyMs = Math.max(0.05, intervalSeconds) * 1000;
    let failures = 0;
    this.pingTimer = setInterval(() => {
      if (!this.currentAgentId) return;
      // A PING must be answered within an interval; a master that misses two in a row (not just a
      // busy moment) is taken for dead or frozen.
      this.call({ type: 'PING', agent_id: { value: this.currentAgentId } }, Math.max(1000, everyMs), 'ping').then((status) => {
        failures = 0;
        // 400/403: the master does not know this stream (it restarted or dropped us); 307/503: it no
        // longer leads. Either way: subscribe again (following the redirect to the leader).
        if (status === 400 || status === 403 || status === 307 || status === 503) this.reconnect();
      }, (err: Error & { code?: string }) => {
        // Refused or reset: nobody is there. A timeout: maybe busy, give it one more interval.
        if (++failures < 2 && err.code !== 'ECONNREFUSED' && err.code !== 'ECONNRESET') return;
        this.opts.logger.warn({ err: err.message }, 'PING failed; re-subscribing');
        this.reconnect();
      });
    }, everyMs);
    this.pingTimer.unref();
  }

  private endSession(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.streamId = undefined;
    this.ready = false;
    this.request = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wakeSleep = undefined; resolve(); }, ms);
      this.wakeSleep = () => { clearTimeout(timer); this.wakeSleep = undefined; resolve(); };
    });
  }
}
