// One `spillway master` replica: an HTTP server on its port, a leader election on the shared
// Redis, and — while it leads — a master *term*: a fresh Master loaded from Redis, writing through
// a TermStore fenced by the term's epoch. Standbys (and a leader still loading) answer API calls
// the way Mesos' non-leading masters do:
//
//   307 Temporary Redirect, Location: //<leader host:port><path>   when a leader is known
//   503 Service Unavailable "No leader elected"                   when none is
//   503 "Master has not finished recovery"                        while this replica loads its term
//
// `/health`, `/metrics`, `/v1/leader` and `/master/redirect` are answered by every replica for
// itself. Losing the Redis connection ends the term at once (the replica becomes a standby): the
// next term reloads everything from Redis, so the mirror never drifts from what was really
// written, and the fencing epoch makes any write of the old term that is still in flight fail.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Registry } from 'prom-client';
import { systemClock, type Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { createMasterApp, newMasterServer, type HttpOptions, type MasterApp } from '../http/server.ts';
import type { TlsMaterial } from '../http/tls.ts';
import { ExtraListeners, urlFor, type ListenAddress } from '../http/listeners.ts';
import type { Master } from '../master/master.ts';
import { WriteRefusedError, type Store } from '../store/store.ts';
import { LeaderElection, withTimeout } from './leader-election.ts';
import { RedisLeaderLease, type LeaseHolder } from './leader-lease.ts';
import { TermStore } from './term-store.ts';

/**
 * Leader-only work: `start` runs when this replica starts leading — after the term's master has
 * loaded the state, before the APIs open — and `stop` when the term ends, before its master stops.
 */
export type LeadershipStart = (master: Master, term: { epoch: number; url: string }) => void | Promise<void>;
export type LeadershipStop = () => void | Promise<void>;
export interface LeadershipHook { start: LeadershipStart; stop: LeadershipStop }

export interface ReplicaOptions {
  /** The process's Redis connection for the terms' reads and writes (see redis-connection.ts). */
  redis: Redis;
  /**
   * A second connection for the lease, so a renewal never waits behind a term's big batches on
   * the same socket (default: the first one). The replica closes both on stop.
   */
  leaseRedis?: Redis;
  cluster: string;
  host: string;
  port: number;
  /** More addresses to serve on (`--listen`), e.g. a network namespace bridge; port defaults to the primary's. */
  listen?: ListenAddress[];
  /** host:port clients are redirected to while this replica leads (default: host and bound port). */
  advertise?: string;
  leaseMs: number;
  log: Logger;
  clock?: Clock;
  /** Builds the Master of a term on the term's store; `onFatal` must be passed to it. */
  createMaster(store: Store, onFatal: (e: Error) => void): Master;
  /** HTTP options of a term's APIs, or a function of the term's master (read after the hooks started). */
  http?: TermHttpOptions | ((master: Master) => TermHttpOptions);
  /** Leader-only work registered before the first election (more with `onLeadership`). */
  leadership?: LeadershipHook[];
  /** Serve HTTPS with this certificate (every address of this replica). */
  tls?: TlsMaterial;
}

export type TermHttpOptions = Pick<HttpOptions, 'bodyLimit' | 'rateLimits' | 'autoscaler' | 'accounting' | 'agentAuth' | 'bootstrap'>;

interface Term {
  epoch: number;
  store: TermStore;
  master: Master;
  /** Created once the leader-only work started. */
  app?: MasterApp;
  started: LeadershipHook[];
}

type Phase = 'standby' | 'recovering' | 'leader' | 'stopped';

const HOOK_STOP_TIMEOUT_MS = 10_000;

export class Replica {
  readonly election: LeaderElection;
  readonly server: Server;
  /** http://<advertised address> */
  readonly url: string;
  /** Every address served: the primary first, then the `listen` ones. */
  urls: string[] = [];
  private extra: ExtraListeners | undefined;
  readonly metrics = new Registry();
  private phase: Phase = 'standby';
  private term: Term | undefined;
  private transitions: Promise<void> = Promise.resolve();
  private readonly hooks: Set<LeadershipHook>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leaderGauge: Gauge;
  private readonly epochGauge: Gauge;
  private readonly elections: Counter;
  private readonly depositions: Counter;
  private readonly redirects: Counter;
  private settled!: () => void;
  private readonly firstOutcome = new Promise<void>((r) => { this.settled = r; });

  private constructor(private readonly opts: ReplicaOptions, server: Server, readonly address: string) {
    this.server = server;
    this.url = `${opts.tls ? 'https' : 'http'}://${address}`;
    this.clock = opts.clock ?? systemClock;
    this.hooks = new Set(opts.leadership ?? []);
    this.log = opts.log;
    this.election = new LeaderElection({ lease: new RedisLeaderLease(opts.leaseRedis ?? opts.redis, opts.cluster), address, leaseMs: opts.leaseMs, log: opts.log });
    const registers = [this.metrics];
    this.leaderGauge = new Gauge({ name: 'spillway_leader', help: '1 while this master replica leads', registers });
    this.epochGauge = new Gauge({ name: 'spillway_leader_epoch', help: 'Fencing epoch of the current or last term of this replica', registers });
    this.elections = new Counter({ name: 'spillway_leader_elections_total', help: 'Times this replica was elected leader', registers });
    this.depositions = new Counter({ name: 'spillway_leader_depositions_total', help: 'Times this replica stopped leading', registers });
    this.redirects = new Counter({ name: 'spillway_redirects_total', help: 'Requests answered 307 (to the leader) or 503 (no leader) by this replica', labelNames: ['status'], registers });
  }

  /** Listens, connects the election and resolves once this replica knows whether it leads. */
  static async start(opts: ReplicaOptions): Promise<Replica> {
    let replica: Replica | undefined;
    const handle = (req: IncomingMessage, res: ServerResponse): void => replica!.handle(req, res);
    const newServer = (): Server => newMasterServer(handle, opts.tls);
    const scheme = opts.tls ? 'https' : 'http';
    const server = newServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    replica = new Replica(opts, server, opts.advertise ?? advertisedAddress(opts.host, port));
    replica.urls = [urlFor(opts.host, port, scheme)];
    if (opts.listen?.length) {
      const extra = new ExtraListeners(newServer, opts.log, scheme);
      replica.extra = extra;
      try {
        for (const l of opts.listen) replica.urls.push(await extra.add(l.host, l.port ?? port));
      } catch (e) {
        await extra.close();
        server.close();
        throw e;
      }
    }
    replica.wire();
    replica.election.start();
    await replica.firstOutcome;
    return replica;
  }

  /** The current term's HTTP app (join tokens, bootstrap) while this replica leads. */
  get app(): MasterApp | undefined {
    return this.master ? this.term?.app : undefined;
  }

  /** The current term's master while this replica leads. */
  get master(): Master | undefined {
    return this.phase === 'leader' && this.election.isLeader() ? this.term?.master : undefined;
  }

  get state(): Phase {
    return this.phase;
  }

  /**
   * Runs `start(master)` whenever this replica starts leading (at once if it leads now) and
   * `stop()` when it stops; returns a function that unregisters both (stopping if started).
   */
  onLeadership(start: LeadershipStart, stop: LeadershipStop): () => Promise<void> {
    const hook = { start, stop };
    this.hooks.add(hook);
    const t = this.term;
    if (t) this.transitions = this.transitions.then(() => this.startHook(t, hook));
    return async () => {
      this.hooks.delete(hook);
      const cur = this.term;
      const i = cur?.started.findIndex((s) => s === hook) ?? -1;
      if (cur && i >= 0) {
        cur.started.splice(i, 1);
        await this.stopHook(hook);
      }
    };
  }

  /** Resolves once the leadership changes under way (term start or end, leader-only work) are done. */
  async idle(): Promise<void> {
    let last: Promise<void> | undefined;
    while (last !== this.transitions) {
      last = this.transitions;
      await last;
    }
  }

  /** Resolves when this replica leads (with its master). */
  async whenLeader(): Promise<Master> {
    for (;;) {
      const m = this.master;
      if (m) return m;
      await new Promise((r) => setTimeout(r, 20));
      if (this.phase === 'stopped') throw new Error('replica stopped');
    }
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.transitions = this.transitions.then(() => this.endTerm('stopping'));
    await this.transitions;
    this.phase = 'stopped';
    await this.election.stop();
    await this.extra?.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    for (const r of new Set([this.opts.redis, this.opts.leaseRedis ?? this.opts.redis])) await r.quit().catch(() => r.disconnect());
  }

  private wire(): void {
    for (const redis of new Set([this.opts.redis, this.opts.leaseRedis ?? this.opts.redis])) {
      redis.on('error', (e: Error) => this.log.warn({ err: e.message }, 'redis connection problem'));
      // Without Redis a leader can neither write nor prove it still leads: end the term now and
      // reload from Redis when it is back (the lease usually still names us, so we re-take it at once).
      redis.on('close', () => this.election.stepDown('lost the Redis connection'));
    }
    this.election.on('elected', (epoch) => {
      this.elections.inc();
      this.epochGauge.set(epoch);
      this.transitions = this.transitions.then(() => this.startTerm(epoch));
    });
    this.election.on('deposed', (reason) => {
      this.depositions.inc();
      this.leaderGauge.set(0);
      this.transitions = this.transitions.then(() => this.endTerm(reason));
    });
    this.election.on('leader', (holder) => {
      if (holder?.token !== this.election.token) this.settled();
      this.log.info({ leader: holder?.address ?? null, epoch: holder?.epoch }, holder ? 'leading master' : 'no leading master known');
    });
  }

  private async startTerm(epoch: number): Promise<void> {
    if (this.phase === 'stopped' || !this.election.isLeader() || this.election.epoch !== epoch) return;
    this.phase = 'recovering';
    const store = new TermStore(this.opts.redis, this.opts.cluster, epoch);
    // A write refused after this term retired (the replica is standing by or stopping) is expected;
    // only a live term's fenced write means another master took over.
    const master = this.opts.createMaster(store, (e) => { if (!store.isRetired) this.election.stepDown(e instanceof WriteRefusedError ? e.message : `fenced: ${e.message}`); });
    const begun = this.clock.now();
    try {
      await master.start();
    } catch (e) {
      store.retire();
      await master.stop();
      this.phase = 'standby';
      this.log.error({ err: e, epoch }, 'could not load the state from Redis; standing by');
      this.election.stepDown('recovery failed');
      return;
    }
    if (!this.election.isLeader() || this.election.epoch !== epoch) {
      store.retire();
      await master.stop();
      this.phase = 'standby';
      return;
    }
    const term: Term = { epoch, store, master, started: [] };
    this.term = term; // still 'recovering' to clients until the APIs open below
    for (const hook of this.hooks) await this.startHook(term, hook);
    const http = typeof this.opts.http === 'function' ? this.opts.http(master) : this.opts.http;
    term.app = createMasterApp(master, this.log, { ...http, tls: this.opts.tls, selfUrl: () => this.url });
    if (this.term !== term) return;
    this.phase = 'leader';
    this.leaderGauge.set(1);
    this.log.info({ epoch, recoveryMs: this.clock.now() - begun, url: this.url }, 'leading: serving the APIs');
    this.settled();
  }

  private async endTerm(reason: string): Promise<void> {
    const t = this.term;
    this.term = undefined;
    if (this.phase !== 'stopped') this.phase = 'standby';
    if (!t) return;
    t.store.retire(); // first: nothing of this term reaches Redis from here on
    for (const hook of t.started.splice(0).reverse()) await this.stopHook(hook);
    await t.master.stop(); // closes the agents' and frameworks' streams: they go find the leader
    t.app?.close();
    this.log.warn({ epoch: t.epoch, reason }, 'no longer leading: standing by');
  }

  private async startHook(t: Term, hook: LeadershipHook): Promise<void> {
    if (this.term !== t || t.started.includes(hook)) return;
    try {
      await hook.start(t.master, { epoch: t.epoch, url: this.url });
      t.started.push(hook);
    } catch (e) {
      this.log.error({ err: e }, 'leader-only task failed to start');
    }
  }

  private async stopHook(hook: { stop: LeadershipStop }): Promise<void> {
    try {
      // Bounded: leader-only work stuck on a dead Redis must not keep the replica from standing by.
      await withTimeout(Promise.resolve(hook.stop()), HOOK_STOP_TIMEOUT_MS, 'leader-only work did not stop');
    } catch (e) {
      this.log.error({ err: e }, 'leader-only task failed to stop');
    }
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/health') return void plain(res, 200, 'OK');
    if (path === '/metrics') return void this.serveMetrics(res);
    if (path === '/v1/leader') return void this.serveLeader(res);
    if (path === '/master/redirect' || path === '/redirect') return void this.redirect(res, '', true);
    const t = this.term;
    if (t?.app && this.phase === 'leader' && this.election.isLeader()) return t.app.handle(req, res);
    if (this.phase === 'recovering') {
      this.redirects.inc({ status: '503' });
      return void plain(res, 503, 'Master has not finished recovery');
    }
    this.redirect(res, url, false);
  }

  /** 307 to the leader (Mesos: `Location: //host:port/path`), or 503 when none is known. */
  private redirect(res: ServerResponse, path: string, evenToSelf: boolean): void {
    const leader = this.knownLeader(evenToSelf);
    if (!leader) {
      this.redirects.inc({ status: '503' });
      return void plain(res, 503, 'No leader elected');
    }
    this.redirects.inc({ status: '307' });
    res.writeHead(307, { Location: `//${leader.address}${path}`, 'Content-Length': '0' }).end();
  }

  /** The leader to send clients to; never this replica unless it leads now. */
  private knownLeader(evenToSelf: boolean): LeaseHolder | undefined {
    const h = this.election.leader;
    if (!h) return undefined;
    if (h.token === this.election.token) return evenToSelf && this.election.isLeader() && this.phase === 'leader' ? h : undefined;
    // A lease on our own address with another token is a predecessor's on this host:port that
    // died (or stopped) holding it: sending clients there would send them back here, in a loop.
    if (h.address === this.address) return undefined;
    return h;
  }

  private serveLeader(res: ServerResponse): void {
    const h = this.knownLeader(true);
    const body = {
      leader: h ? { address: h.address, url: `http://${h.address}`, epoch: h.epoch, elected_at: new Date(h.since).toISOString() } : null,
      self: { address: this.address, url: this.url, state: this.phase === 'leader' && this.election.isLeader() ? 'leader' : this.phase, epoch: this.election.epoch || null },
    };
    const text = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
  }

  private serveMetrics(res: ServerResponse): void {
    const master = this.master;
    Promise.all([this.metrics.metrics(), master ? master.metrics.registry.metrics() : Promise.resolve('')]).then(([own, term]) => {
      const text = term ? `${own}\n${term}` : own;
      res.writeHead(200, { 'Content-Type': this.metrics.contentType, 'Content-Length': Buffer.byteLength(text) }).end(text);
    }, (e: Error) => plain(res, 500, e.message));
  }
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

/** host:port to advertise: the listen address, or this machine's name when listening on all addresses. */
export function advertisedAddress(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}
