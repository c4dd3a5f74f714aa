// Framework rate limiting as Apache Mesos does it (docs/framework-rate-limiting.md, `--rate_limits`,
// `RateLimits` in mesos.proto), plus the master-wide task launch gate (`--max-task-launches-per-second`).
//
// - One limiter per principal listed with a `qps`; frameworks sharing a principal share it.
// - A principal listed without `qps` is not throttled (its `capacity` is ignored).
// - Frameworks without a principal, or whose principal is not listed, share ONE aggregate limiter
//   when `aggregate_default_qps` is set, and are not throttled otherwise.
// - A throttled call waits (FIFO) for its permit; once `capacity` calls of a limiter are waiting,
//   the next one is dropped and the framework is told "Message <call> dropped: capacity(<n>)
//   exceeded" (Mesos' wording).
//
// Mesos' limiter (libprocess RateLimiter) grants one permit, then the next no sooner than 1/qps
// later: a token bucket that holds one token. The launch gate is a token bucket that holds one
// second's worth of launches. Time comes from an injected Clock and timers come from injected
// Timers, so both are tested deterministically.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import type { Clock } from '../common/clock.ts';

// ---------------------------------------------------------------------------------------------
// Configuration (the JSON of Mesos' --rate_limits)

export interface RateLimit {
  principal: string;
  /** Calls per second; absent = not throttled. */
  qps?: number;
  /** Most calls that may wait; absent = unbounded. Ignored without qps. */
  capacity?: number;
}

export interface RateLimits {
  limits: RateLimit[];
  aggregate_default_qps?: number;
  aggregate_default_capacity?: number;
}

const objectError = (what: string) => (iss: { code: string; keys?: string[] }) =>
  iss.code === 'unrecognized_keys' ? `unknown field${iss.keys!.length > 1 ? 's' : ''} ${iss.keys!.map((k) => `'${k}'`).join(', ')}` : `must be ${what}`;
const qps = () => z.number({ error: 'must be a number' }).gt(0, { error: 'must be > 0' });
const capacity = () => z.number({ error: 'must be a positive integer' }).int({ error: 'must be a positive integer' }).gt(0, { error: 'must be a positive integer' });

// Strict objects: a misspelt field (say "aggregate_default_qsp") would otherwise silently leave
// frameworks unthrottled.
const RateLimitSchema = z.strictObject({
  principal: z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).min(1, { error: 'must not be empty' }),
  qps: qps().optional(),
  capacity: capacity().optional(),
}, { error: objectError('an object') });

export const RateLimitsSchema = z.strictObject({
  limits: z.array(RateLimitSchema, { error: 'must be an array' }).default([]).superRefine((limits, ctx) => {
    const seen = new Map<string, number>();
    limits.forEach((l, i) => {
      const first = seen.get(l.principal);
      if (first === undefined) seen.set(l.principal, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'principal'], message: `duplicate principal '${l.principal}' (also limits[${first}])` });
    });
  }),
  aggregate_default_qps: qps().optional(),
  aggregate_default_capacity: capacity().optional(),
}, { error: objectError('a JSON object') });

export class RateLimitsError extends Error {
  override name = 'RateLimitsError';
}

function pathText(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `${s ? '.' : ''}${String(p)}`;
  return s || '(top level)';
}

/** Parses and validates the JSON text; errors name the field: "limits[1].qps: must be > 0". */
export function parseRateLimits(text: string): RateLimits {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RateLimitsError(`not valid JSON: ${(e as Error).message}`);
  }
  const r = RateLimitsSchema.safeParse(json);
  if (!r.success) throw new RateLimitsError(r.error.issues.slice(0, 3).map((i) => `${pathText(i.path)}: ${i.message}`).join('; '));
  return r.data;
}

/**
 * The value of `--rate-limits` as Mesos takes JSON flags: inline JSON, or `file:///path` (an
 * absolute `/path` also works, as in Mesos) naming a file that holds it.
 */
export function loadRateLimits(value: string): RateLimits {
  const v = value.trim();
  if (v.startsWith('file://') || v.startsWith('/')) {
    const path = v.startsWith('file://') ? fileURLToPath(v) : v;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new RateLimitsError(`cannot read ${path}: ${(e as Error).message}`);
    }
    return parseRateLimits(text);
  }
  return parseRateLimits(v);
}

// ---------------------------------------------------------------------------------------------
// Time seams

/** Timers, injected next to the Clock so tests can drive both. */
export interface Timers {
  /** Runs fn after ms; returns a function that cancels it. */
  set(fn: () => void, ms: number): () => void;
}

export const systemTimers: Timers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Epoch milliseconds that never go backwards (wall-clock steps do not free or stall tokens). */
export const monotonicClock: Clock = { now: () => performance.timeOrigin + performance.now() };

// ---------------------------------------------------------------------------------------------
// Token bucket

const EPSILON = 1e-9;

/**
 * Tokens accrue at `rate` per second up to `burst`. Taking n ≤ burst needs n tokens; taking more
 * than the burst needs a full bucket and leaves the bucket in debt by the excess, so the long-run
 * rate never exceeds `rate` and a large request cannot wait forever.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(readonly rate: number, readonly burst: number, private readonly clock: Clock) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive number, not ${rate}`);
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be at least 1, not ${burst}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    const dt = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst, this.tokens + (dt * this.rate) / 1000);
  }

  /** Tokens in the bucket now (negative while in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Milliseconds until take(n) would succeed (0 = now). */
  msUntil(n: number): number {
    this.refill();
    const deficit = Math.min(n, this.burst) - this.tokens;
    return deficit <= EPSILON ? 0 : Math.ceil((deficit * 1000) / this.rate);
  }

  /** Takes n tokens if it can now. */
  tryTake(n: number): boolean {
    if (this.msUntil(n) > 0) return false;
    this.tokens -= n;
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// A FIFO of waiters in front of a bucket

export class CapacityExceededError extends Error {
  override name = 'CapacityExceededError';
  constructor(readonly capacity: number) {
    super(`capacity(${capacity}) exceeded`);
  }
}

export class ThrottleClosedError extends Error {
  override name = 'ThrottleClosedError';
  constructor() {
    super('the master is stopping');
  }
}

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface ThrottleOptions {
  /** Permits per second. */
  rate: number;
  /** Permits the bucket holds (default 1: Mesos' RateLimiter spaces every permit by 1/rate). */
  burst?: number;
  /** Most waiters at once; one more is refused with CapacityExceededError. Default unbounded. */
  capacity?: number;
  clock?: Clock;
  timers?: Timers;
}

export class Throttle {
  readonly capacity: number | undefined;
  private readonly bucket: TokenBucket;
  private readonly timers: Timers;
  private readonly queue: (Waiter | undefined)[] = [];
  private head = 0;
  private cancelTimer: (() => void) | undefined;
  private closed = false;

  constructor(opts: ThrottleOptions) {
    this.capacity = opts.capacity;
    this.bucket = new TokenBucket(opts.rate, opts.burst ?? 1, opts.clock ?? monotonicClock);
    this.timers = opts.timers ?? systemTimers;
  }

  get rate(): number {
    return this.bucket.rate;
  }

  /** Calls waiting for their permits. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /**
   * Resolves when n permits are granted, in arrival order. Granted at once when nobody waits and
   * the bucket has them; rejects at once with CapacityExceededError when `capacity` are waiting.
   */
  acquire(n = 1): Promise<void> {
    if (this.closed) return Promise.reject(new ThrottleClosedError());
    if (this.waiting === 0 && this.bucket.tryTake(n)) return Promise.resolve();
    if (this.capacity !== undefined && this.waiting >= this.capacity) return Promise.reject(new CapacityExceededError(this.capacity));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ n, resolve, reject });
      if (!this.cancelTimer) this.arm();
    });
  }

  /** Rejects every waiter with ThrottleClosedError and stops the timer. */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const waiters = this.queue.splice(this.head);
    this.queue.length = 0;
    this.head = 0;
    for (const w of waiters) w?.reject(new ThrottleClosedError());
  }

  private arm(): void {
    const w = this.queue[this.head];
    if (!w) return;
    // A real timer may fire a hair before the bucket agrees; wait at least 1 ms more then.
    this.cancelTimer = this.timers.set(() => this.pump(), Math.max(1, this.bucket.msUntil(w.n)));
  }

  private pump(): void {
    this.cancelTimer = undefined;
    for (;;) {
      const w = this.queue[this.head];
      if (!w || !this.bucket.tryTake(w.n)) break;
      this.queue[this.head++] = undefined;
      w.resolve();
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.arm();
  }
}

// ---------------------------------------------------------------------------------------------
// Per-principal limiters for scheduler calls

export interface LimiterOptions {
  clock?: Clock;
  timers?: Timers;
}

/** The limiter a framework's calls go through; `key` names it in logs and metrics. */
export interface PrincipalLimiter {
  key: string;
  throttle: Throttle;
}

export const AGGREGATE_DEFAULT = '(aggregate default)';

export class FrameworkRateLimiter {
  /** principal → its limiter, or undefined for a principal listed without qps (not throttled). */
  private readonly byPrincipal = new Map<string, PrincipalLimiter | undefined>();
  private readonly aggregate: PrincipalLimiter | undefined;

  constructor(readonly config: RateLimits, opts: LimiterOptions = {}) {
    for (const l of config.limits) {
      this.byPrincipal.set(l.principal, l.qps === undefined ? undefined : {
        key: l.principal,
        throttle: new Throttle({ rate: l.qps, capacity: l.capacity, ...opts }),
      });
    }
    if (config.aggregate_default_qps !== undefined) {
      this.aggregate = {
        key: AGGREGATE_DEFAULT,
        throttle: new Throttle({ rate: config.aggregate_default_qps, capacity: config.aggregate_default_capacity, ...opts }),
      };
    }
  }

  /**
   * Mesos' rule (Master::consume): a principal listed in `limits` uses its own limiter, or none if
   * it has no qps; a framework without a principal or with an unlisted one uses the aggregate
   * default limiter if `aggregate_default_qps` is set, and is not throttled otherwise.
   */
  limiterFor(principal: string | undefined): PrincipalLimiter | undefined {
    if (principal !== undefined && this.byPrincipal.has(principal)) return this.byPrincipal.get(principal);
    return this.aggregate;
  }

  /** Every limiter that throttles (for metrics). */
  limiters(): PrincipalLimiter[] {
    const all = [...this.byPrincipal.values()].filter((l): l is PrincipalLimiter => l !== undefined);
    return this.aggregate ? [...all, this.aggregate] : all;
  }

  close(): void {
    for (const l of this.limiters()) l.throttle.close();
  }
}

/** Mesos' FrameworkErrorMessage text for a dropped call (Master::exceededCapacity). */
export function capacityExceededMessage(callType: string, capacity: number): string {
  return `Message ${callType} dropped: capacity(${capacity}) exceeded`;
}

// ---------------------------------------------------------------------------------------------
// Launch gate (--max-task-launches-per-second)

export interface LaunchGate {
  /** Launches per second, or undefined when unlimited. */
  readonly perSecond: number | undefined;
  /**
   * Resolves when n task launches may go ahead (FIFO between callers). The bucket holds one
   * second's worth of launches (at least 1); a batch larger than that waits for a full bucket and
   * the launches after it wait off the excess. Immediate when unlimited or n is 0.
   */
  take(n: number): Promise<void>;
  /** Rejects pending takes (ThrottleClosedError); later takes reject too. */
  close(): void;
}

export function createLaunchGate(perSecond: number | undefined, opts: LimiterOptions = {}): LaunchGate {
  const check = (n: number) => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`launch count must be a non-negative integer, not ${n}`);
  };
  if (perSecond === undefined) {
    let closed = false;
    return {
      perSecond,
      take: async (n) => {
        check(n);
        if (closed) throw new ThrottleClosedError();
      },
      close: () => { closed = true; },
    };
  }
  const throttle = new Throttle({ rate: perSecond, burst: Math.max(1, perSecond), ...opts });
  return {
    perSecond,
    take: async (n) => {
      check(n);
      if (n > 0) await throttle.acquire(n);
    },
    close: () => throttle.close(),
  };
}
