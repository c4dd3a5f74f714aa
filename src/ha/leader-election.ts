// Leader election on a lease (see leader-lease.ts). One LeaderElection per master process: it
// tries to acquire the lease, renews it while it leads and emits `elected` / `deposed`, which the
// replica (replica.ts) turns into starting and stopping a master term.
//
// Safety does not rest on timing: every acquisition bumps the fencing epoch and every write of a
// term is fenced by it (fenced-batch.lua). Timing keeps a stalled leader from *serving*: the
// leader trusts its lease only until `sent + lease − margin`, measured on its own clock from when
// it sent the acquire/renew that succeeded, so it stops answering as leader before Redis can hand
// the lease to a standby. A leader frozen past that (SIGSTOP, a long GC pause) is deposed the
// moment it runs again, before it renews.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../common/clock.ts';
import { silentLogger, type Logger } from '../common/logger.ts';
import type { LeaderLease, LeaseHolder } from './leader-lease.ts';

export interface LeaderElectionOptions {
  lease: LeaderLease;
  /** host:port this master advertises (standbys redirect clients there). */
  address: string;
  /** Lease length; a dead leader is replaced within about this long. */
  leaseMs: number;
  /** How often the leader renews (default lease/3). */
  renewIntervalMs?: number;
  /** Unique per process (default a random UUID). */
  token?: string;
  /** Default: a monotonic clock, so a wall-clock step (NTP) cannot stretch the lease. */
  clock?: Clock;
  log?: Logger;
  /** For jitter; injectable for tests. */
  random?: () => number;
}

export interface LeaderElectionEvents {
  /** This master now leads with this fencing epoch. */
  elected: [epoch: number];
  /** This master no longer leads (reason for the log). */
  deposed: [reason: string];
  /** The leader as last seen in Redis changed (undefined: nobody holds the lease, or Redis is unreachable). */
  leader: [holder: LeaseHolder | undefined];
}

/** How often a standby looks at the lease at most, so a released lease is taken soon. */
const STANDBY_POLL_MS = 500;

type Role = 'idle' | 'candidate' | 'leader' | 'stopped';

export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  readonly token: string;
  readonly address: string;
  private readonly lease: LeaderLease;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly marginMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private role: Role = 'idle';
  private currentEpoch = 0;
  private validUntil = 0;
  private known: LeaseHolder | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** start() runs the steps on timers; without it the owner calls tick() (tests). */
  private looping = false;
  private ticking: Promise<void> | undefined;
  /**
   * Until the first acquire attempt got an answer: a lease held at our own address is a dead
   * predecessor's (we hold the listening socket) and is taken at once. Only then — a replica that
   * has run a while never takes a lease from a live holder, even one misconfigured with our address.
   */
  private starting = true;

  constructor(opts: LeaderElectionOptions) {
    super();
    if (!(opts.leaseMs > 0)) throw new Error('leaseMs must be positive');
    this.lease = opts.lease;
    this.address = opts.address;
    this.leaseMs = opts.leaseMs;
    this.renewMs = opts.renewIntervalMs ?? Math.max(10, Math.floor(opts.leaseMs / 3));
    if (this.renewMs >= this.leaseMs) throw new Error('the renew interval must be shorter than the lease');
    // Room for the renewal's own round trip and for clocks that run a little apart.
    this.marginMs = Math.max(10, Math.floor(opts.leaseMs / 10));
    this.token = opts.token ?? randomUUID();
    this.clock = opts.clock ?? monotonicClock;
    this.log = opts.log ?? silentLogger;
    this.random = opts.random ?? Math.random;
  }

  /** Leads now: holds the lease and its local validity has not run out. */
  isLeader(): boolean {
    return this.role === 'leader' && this.clock.now() < this.validUntil;
  }

  /** The fencing epoch of the current (or last) term. */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** The leader as last seen in Redis (this master itself while it leads). */
  get leader(): LeaseHolder | undefined {
    return this.known;
  }

  /** Starts campaigning: acquire now, then keep renewing or retrying in the background. */
  start(): void {
    if (this.role !== 'idle') return;
    this.role = 'candidate';
    this.looping = true;
    this.schedule(0);
  }

  /**
   * One step of the election (acquire, or check and renew); returns ms until the next step.
   * `start()` runs it in the background; tests call it directly (with a ManualClock) instead.
   */
  async tick(): Promise<number> {
    if (this.role === 'idle') this.role = 'candidate';
    if (this.role === 'leader') return this.renewStep();
    if (this.role === 'candidate') return this.acquireStep();
    return this.renewMs;
  }

  /** Gives up leadership now (fenced, or Redis lost): the lease is left to expire or be re-taken. */
  stepDown(reason: string): void {
    if (this.role !== 'leader') return;
    this.role = 'candidate';
    this.validUntil = 0;
    this.log.warn({ epoch: this.currentEpoch, reason }, 'stepping down as leader');
    this.emit('deposed', reason);
    this.schedule(this.jitter(this.renewMs));
  }

  /** Stops campaigning; a leader releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    const wasLeader = this.role === 'leader';
    // Stepped down a moment ago but the lease may still name us: release it anyway (it is a
    // compare-and-delete on our token), or standbys wait out the whole lease.
    const mayHoldLease = wasLeader || this.known?.token === this.token;
    this.role = 'stopped';
    clearTimeout(this.timer);
    await this.ticking;
    if (wasLeader) this.emit('deposed', 'stopping');
    if (mayHoldLease) {
      await withTimeout(this.lease.release(this.token), this.renewMs).catch((e: Error) => this.log.warn({ err: e.message }, 'could not release the leader lease; it will expire'));
    }
  }

  private async acquireStep(): Promise<number> {
    const sentAt = this.clock.now();
    let r;
    try {
      r = await withTimeout(this.lease.acquire(this.token, this.address, this.leaseMs, this.starting), this.renewMs);
      this.starting = false;
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'leader lease: acquire failed');
      this.see(undefined);
      return this.jitter(this.renewMs);
    }
    if (this.role !== 'candidate') return this.renewMs; // stopped meanwhile
    if (!r.acquired) {
      this.see(r.holder);
      // Try again right when the lease runs out (a dead leader is replaced without delay), and
      // every STANDBY_POLL_MS anyway: a leader that shut down cleanly released it early.
      return Math.min(this.renewMs, STANDBY_POLL_MS, r.holder.ttlMs + 1 + this.jitter(Math.min(50, this.renewMs / 4)));
    }
    this.role = 'leader';
    this.currentEpoch = r.epoch;
    this.validUntil = sentAt + this.leaseMs - this.marginMs;
    this.see({ token: this.token, address: this.address, epoch: r.epoch, since: sentAt, ttlMs: this.leaseMs });
    this.log.info({ epoch: r.epoch, address: this.address }, 'elected leader');
    this.emit('elected', r.epoch);
    return this.renewMs;
  }

  private async renewStep(): Promise<number> {
    const sentAt = this.clock.now();
    if (sentAt >= this.validUntil) {
      this.stepDown('the lease ran out before it could be renewed (this process stalled or Redis was unreachable)');
      return this.renewMs;
    }
    let ok: boolean;
    try {
      ok = await withTimeout(this.lease.renew(this.token, this.currentEpoch, this.address, this.leaseMs), Math.max(1, this.validUntil - sentAt));
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'leader lease: renewal failed; retrying while the lease lasts');
      return Math.max(1, Math.min(this.renewMs / 4, this.validUntil - this.clock.now()));
    }
    if (this.role !== 'leader') return this.renewMs;
    if (!ok) {
      this.stepDown('another master holds the lease or the fencing epoch moved on');
      return this.renewMs;
    }
    this.validUntil = sentAt + this.leaseMs - this.marginMs;
    return this.renewMs;
  }

  private see(holder: LeaseHolder | undefined): void {
    const changed = holder?.token !== this.known?.token || holder?.epoch !== this.known?.epoch || holder?.address !== this.known?.address;
    this.known = holder;
    if (changed) this.emit('leader', holder);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.role === 'stopped' || !this.looping) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().then((next) => this.schedule(next), (e: Error) => {
        this.log.error({ err: e }, 'leader election step failed');
        this.schedule(this.renewMs);
      });
    }, ms);
  }

  /** A delay in [ms/2, ms): spreads the replicas' attempts apart. */
  private jitter(ms: number): number {
    return ms / 2 + this.random() * (ms / 2);
  }
}

/** Milliseconds that only ever move forward (from the process's start, offset to look like epoch ms). */
const monotonicClock: Clock = { now: () => performance.timeOrigin + performance.now() };

/** Rejects when `p` does not settle within `ms` (a Redis call on a dead connection may never settle). */
export function withTimeout<T>(p: Promise<T>, ms: number, what = 'no answer from Redis'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} within ${Math.round(ms)} ms`)), ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}
