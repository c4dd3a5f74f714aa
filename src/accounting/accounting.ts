// Accounting as the master runs it: the sampler (leader only: start/stop), the demand-wait hook,
// and the report queries the API serves. I/O lives here and in sample-store.ts; the engines it
// feeds (cost model, report, FOCUS CSV, summary) are pure.
import type { Redis } from 'ioredis';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { Policy } from '../autoscaler/policy-schema.ts';
import type { DemandUnit } from '../master/demand.ts';
import { satisfiedUnits } from './demand-waits.ts';
import type { Coverage, ReadPlan, Window } from './coverage.ts';
import { FocusCsvWriter, clusterBillingAccount, type BillingAccount } from './focus-csv.ts';
import type { AccountingSource } from './master-source.ts';
import type { AccountingMetrics } from './metrics.ts';
import type { PriceFeed } from './price-feed.ts';
import { ReportBuilder, type Report } from './report-engine.ts';
import type { ReportQuery } from './report-query.ts';
import { SampleStore } from './sample-store.ts';
import { AccountingSampler } from './sampler.ts';
import { SummaryBuilder, type OpenDemand, type Summary } from './summary.ts';

export interface AccountingOptions {
  /** Seconds per sample (--accounting-interval, default 60). */
  intervalSeconds: number;
  /** Rollups (what reports read) are kept this long (--accounting-retention, default 90d). */
  retentionMs: number;
  /** Per-interval samples are kept this long (--accounting-sample-retention, default 1d). */
  sampleRetentionMs: number;
  /** Missed intervals older than this are not backfilled after a restart (default 6 h). */
  backfillLimitMs: number;
  /** FOCUS BillingAccountId / BillingAccountName of the CSV (default: the cluster's, clusterBillingAccount). */
  billingAccountId?: string;
  billingAccountName?: string;
}

export const DEFAULT_ACCOUNTING: AccountingOptions = {
  intervalSeconds: 60,
  retentionMs: 90 * 86_400_000,
  sampleRetentionMs: 86_400_000,
  backfillLimitMs: 6 * 3_600_000,
};

export interface AccountingDeps {
  redis: Redis;
  /** The cluster's key prefix (`{spillway:<cluster>}:`). */
  prefix: string;
  /** The cluster's name (default `default`): the default billing account. */
  cluster?: string;
  source: AccountingSource;
  clock: Clock;
  policy: () => Promise<Policy | undefined>;
  /** Demand not yet satisfied, for "still waiting" in the summary. */
  openDemand: () => OpenDemand[];
  prices?: PriceFeed;
  log: Logger;
  metrics?: AccountingMetrics;
}

export class Accounting {
  readonly store: SampleStore;
  readonly sampler: AccountingSampler;

  constructor(private readonly deps: AccountingDeps, readonly options: AccountingOptions = DEFAULT_ACCOUNTING) {
    this.store = new SampleStore(deps.redis, deps.prefix, { retentionMs: options.retentionMs, sampleRetentionMs: options.sampleRetentionMs });
    this.sampler = new AccountingSampler(
      { source: deps.source, store: this.store, clock: deps.clock, policy: deps.policy, prices: deps.prices, log: deps.log, metrics: deps.metrics },
      { intervalSeconds: options.intervalSeconds, backfillLimitMs: options.backfillLimitMs, retentionMs: options.retentionMs },
    );
  }

  /** For Master.demandSatisfied: records how long the satisfied units waited (never throws). */
  readonly onDemandSatisfied = (before: readonly DemandUnit[], after: readonly DemandUnit[], at: number): void => {
    const waits = satisfiedUnits(before, after, at);
    if (!waits.length) return;
    this.deps.metrics?.demandWaits.inc(waits.reduce((a, w) => a + w.units, 0));
    this.store.addWaits(waits).catch((e) => this.deps.log.warn({ err: (e as Error).message }, 'cannot record demand wait times'));
  };

  get billingAccount(): BillingAccount {
    const fallback = clusterBillingAccount(this.deps.cluster ?? 'default');
    return { id: this.options.billingAccountId ?? fallback.id, name: this.options.billingAccountName ?? fallback.name };
  }

  /** What can be read of the window now, and which part of it that covers. */
  private plan(w: Window): Promise<ReadPlan> {
    // The sampler closes an interval at its end (plus a moment to write it): up to two behind.
    return this.store.plan(w, this.deps.clock.now(), 2 * this.options.intervalSeconds * 1000);
  }

  async report(q: Pick<ReportQuery, 'from' | 'to' | 'by' | 'startFloats'>): Promise<Report> {
    const plan = await this.plan(q);
    const builder = new ReportBuilder({ ...plan.window, by: q.by });
    for await (const batch of this.store.rows(plan.steps)) for (const r of batch) builder.add(r);
    return builder.result(plan.coverage);
  }

  /**
   * The window as FOCUS CSV (periods are hours when grouped by hour, else days): the coverage is
   * known before the first line (for a header), then `write` streams the lines.
   */
  async csv(q: Pick<ReportQuery, 'from' | 'to' | 'by' | 'startFloats'>): Promise<{ coverage: Coverage; write: (emit: (chunk: string) => void) => Promise<{ lines: number; billed: number }> }> {
    const plan = await this.plan(q);
    return {
      coverage: plan.coverage,
      write: async (emit) => {
        const writer = new FocusCsvWriter(plan.span, q.by.includes('hour') ? 'hour' : 'day', emit, { account: this.billingAccount, warning: plan.coverage.note });
        writer.header();
        for await (const batch of this.store.rows(plan.steps)) for (const r of batch) writer.add(r);
        writer.end();
        return { lines: writer.lines, billed: writer.billedTotal };
      },
    };
  }

  async summary(window: Window): Promise<Summary> {
    const plan = await this.plan(window);
    const w = plan.window;
    const b = new SummaryBuilder(w);
    for await (const batch of this.store.rows(plan.steps)) for (const r of batch) b.add(r);
    return b.result(await this.store.waits(w.from, w.to), this.deps.openDemand(), this.deps.clock.now(), plan.coverage);
  }
}
