// The decision log: every evaluation (and every finding of the reconciler, spot notice, boot
// timeout or failed launch) appends one record to a capped Redis stream,
// `{spillway:<cluster>}:autoscaler:decisions` (XADD MAXLEN ~). A record says what the autoscaler
// saw, what it did and why — and why not. Stream ids order the records; `since` reads after one.
import type { Redis } from 'ioredis';
import { keyPrefix } from '../store/redis-store.ts';

/** Records kept, about (Redis trims whole nodes: MAXLEN ~). */
export const DECISIONS_KEPT = 10_000;

export type DecisionKind = 'evaluation' | 'launch' | 'launch-failed' | 'boot-timeout' | 'registered' | 'drain' | 'release'
  | 'vanished' | 'unknown-instance' | 'interruption';

export interface DecisionAction {
  /** launch | power-on | drain | release | terminate | adopt | mark-gone | replace */
  readonly type: string;
  readonly pool?: string;
  readonly instanceType?: string;
  readonly count?: number;
  readonly agentId?: string;
  readonly instanceId?: string;
  readonly jobId?: string;
  /** One sentence: what and why. */
  readonly reason: string;
}

export interface Decision {
  readonly kind: DecisionKind;
  /** ms since the epoch (the autoscaler's clock). */
  readonly at: number;
  /** One line for people: what happened. */
  readonly summary: string;
  /** What the evaluation saw (counts; small). */
  readonly inputs?: Record<string, unknown>;
  readonly actions: readonly DecisionAction[];
  /** Why not: demand left unmet, options ruled out, agents kept, findings not acted on. */
  readonly notes: readonly string[];
}

export interface StoredDecision extends Decision {
  /** Stream id, e.g. `1700000000000-0`. */
  readonly id: string;
}

export class DecisionLog {
  readonly key: string;

  constructor(private readonly redis: Redis, cluster: string) {
    this.key = `${keyPrefix(cluster)}autoscaler:decisions`;
  }

  async append(d: Decision): Promise<string> {
    const id = await this.redis.xadd(this.key, 'MAXLEN', '~', DECISIONS_KEPT, '*', 'd', JSON.stringify(d));
    return id ?? '';
  }

  /**
   * Records after `since` (a stream id; exclusive), oldest first, at most `limit`. Without `since`,
   * the newest `limit` records, oldest first.
   */
  async read(opts: { since?: string; limit: number }): Promise<StoredDecision[]> {
    const raw = opts.since
      ? await this.redis.xrange(this.key, `(${opts.since}`, '+', 'COUNT', opts.limit)
      : (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', opts.limit)).reverse();
    return raw.map(([id, fields]) => ({ id, ...(JSON.parse(fields[fields.indexOf('d') + 1]) as Decision) }));
  }
}

/** A stream id at a time (ms), for `since=` given as a time. */
export function streamIdAt(ms: number): string {
  return `${Math.max(0, Math.floor(ms))}-0`;
}
