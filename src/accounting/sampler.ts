// The accounting sampler: every interval (default 60 s), one sample per agent — on the leader only.
// `start()`/`stop()` are what leader election hangs it on; `tick()` does one round and is what
// tests drive with an injected clock. Intervals are aligned to the epoch ([k·I, (k+1)·I)) and the
// end of the last one sampled is kept in Redis (acct:cursor), so a restarted or new leader goes on
// from there: the intervals it missed are sampled from the state it recovered (up to
// `backfillLimitMs`; older ones are a gap, logged, counted and recorded for reports), none is
// sampled twice.
import type { Clock } from '../common/clock.ts';
import { Periodic } from '../common/periodic.ts';
import type { Logger } from '../common/logger.ts';
import type { Policy } from '../autoscaler/policy-schema.ts';
import { DEFAULT_BILLING, DEFAULT_COST_SPLIT, type BillingRule, type CostModelConfig } from './cost-model.ts';
import type { AccountingSource } from './master-source.ts';
import { classifyAgent } from './pool-match.ts';
import type { PriceFeed } from './price-feed.ts';
import { HOUR } from './rows.ts';
import { buildSample, type Sample } from './sample.ts';
import type { SampleStore } from './sample-store.ts';
import type { AccountingMetrics } from './metrics.ts';

const UNIT_SECONDS = { second: 1, minute: 60, hour: 3600 } as const;

/** The cost model a policy asks for (defaults where it says nothing). */
export function costModelOf(policy: Policy | undefined): CostModelConfig {
  const billing: Record<string, BillingRule> = { ...DEFAULT_BILLING };
  for (const [kind, rule] of Object.entries(policy?.accounting?.billing ?? {})) {
    if (rule) billing[kind] = { granularitySeconds: UNIT_SECONDS[rule.per], minimumSeconds: rule.minimumSeconds };
  }
  return { split: policy?.accounting?.costSplit ?? DEFAULT_COST_SPLIT, billing, currency: policy?.budget.currency ?? 'USD' };
}

export interface SamplerOptions {
  intervalSeconds: number;
  /** Missed intervals older than this (e.g. after a long outage) are not backfilled. */
  backfillLimitMs: number;
  /** Demand wait samples and recorded gaps older than this are dropped. */
  retentionMs: number;
}

export interface SamplerDeps {
  source: AccountingSource;
  store: SampleStore;
  clock: Clock;
  /** The policy in force (pools, prices, accounting settings), read each round. */
  policy: () => Promise<Policy | undefined>;
  prices?: PriceFeed;
  log: Logger;
  metrics?: AccountingMetrics;
}

export interface TickResult {
  intervals: number;
  samples: number;
  written: number;
  rolled: number;
}

export class AccountingSampler {
  private cursor: number | undefined;
  /** Checks at least every second whether an interval ended; a slow round skips ticks, never queues them. */
  private readonly rounds: Periodic;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly warned = new Set<string>();
  /** With no cursor in Redis (the first master ever), sampling begins at the interval holding this. */
  private readonly createdAt: number;

  constructor(private readonly deps: SamplerDeps, readonly opts: SamplerOptions) {
    this.createdAt = deps.clock.now();
    if (!(opts.intervalSeconds > 0)) throw new Error(`accounting interval: ${opts.intervalSeconds} is not a positive number of seconds`);
    this.rounds = new Periodic(
      () => this.tick().catch((e: unknown) => this.deps.log.error({ err: e }, 'accounting round failed')),
      Math.min(1000, this.intervalMs), { immediately: false },
    );
  }

  get intervalMs(): number {
    return this.opts.intervalSeconds * 1000;
  }

  get running(): boolean {
    return this.rounds.running;
  }

  /** Starts sampling (call on becoming leader). */
  start(): void {
    this.rounds.start();
  }

  /** Stops sampling (call on losing leadership or at shutdown); waits for a round in progress. */
  async stop(): Promise<void> {
    this.rounds.cancel();
    await this.chain.catch(() => {});
    this.cursor = undefined; // a later start reads the cursor again: another leader may have moved it
  }

  /** Samples every interval that ended since the last one sampled, then rolls up closed hours. */
  tick(): Promise<TickResult> {
    const next = this.chain.catch(() => {}).then(() => this.round());
    this.chain = next;
    return next;
  }

  private async round(): Promise<TickResult> {
    const { store, clock, log, metrics } = this.deps;
    const end = metrics?.roundSeconds.startTimer();
    const now = clock.now();
    const I = this.intervalMs;
    if (this.cursor === undefined) {
      await store.noteRetention(now);
      this.cursor = await store.cursor();
      if (this.cursor === undefined) {
        this.cursor = Math.floor(this.createdAt / I) * I;
        await store.markSince(this.cursor); // reports say that earlier times were never sampled
      }
    }
    if (now - this.cursor > this.opts.backfillLimitMs + I) {
      const resume = Math.floor((now - this.opts.backfillLimitMs) / I) * I;
      log.warn({ from: new Date(this.cursor).toISOString(), to: new Date(resume).toISOString() }, 'accounting gap: intervals older than the backfill limit were not sampled');
      metrics?.gapSeconds.inc((resume - this.cursor) / 1000);
      await store.addGap(this.cursor, resume);
      this.cursor = resume;
    }
    const starts: number[] = [];
    for (let s = this.cursor; s + I <= now; s += I) starts.push(s);
    let samples: Sample[] = [];
    let written = 0;
    if (starts.length) {
      const policy = await this.deps.policy();
      const model = costModelOf(policy);
      await this.deps.prices?.refresh(now);
      const live = this.deps.prices?.latest() ?? new Map();
      const agents = this.deps.source.agents();
      const classes = agents.map((a) => classifyAgent({ id: a.id, hostname: a.hostname, attributes: a.attributes, total: a.total }, policy?.pools ?? [], live));
      for (const c of classes) {
        if (c.warning && !this.warned.has(c.warning)) { this.warned.add(c.warning); log.warn({ pool: c.pool }, c.warning); }
      }
      samples = starts.flatMap((s) => agents.flatMap((a, i) => buildSample(a, classes[i], s, this.opts.intervalSeconds, model) ?? []));
      const cursor = starts[starts.length - 1] + I;
      written = await store.writeSamples(samples, cursor, now);
      this.cursor = cursor;
      metrics?.samples.inc(written);
    }
    const rolled = await this.roll(now);
    end?.();
    return { intervals: starts.length, samples: samples.length, written, rolled };
  }

  /** Rolls up hours whose last interval was sampled a grace period ago; returns hours committed. */
  async roll(now = this.deps.clock.now()): Promise<number> {
    const { store, metrics } = this.deps;
    const grace = 2 * this.intervalMs;
    let rolled = 0;
    const pending = await store.pendingHours();
    for (const p of pending) {
      if (p.hour + HOUR + grace > now) continue;
      if (await store.roll(p.hour, p.score, now)) rolled++;
    }
    metrics?.pendingHours.set(pending.length - rolled);
    await store.trim(now - this.opts.retentionMs);
    return rolled;
  }
}
