// Live prices for the cost model: the latest answer of each pool's provider `prices()` (spot prices
// from EC2's DescribeSpotPriceHistory, for instance), refreshed when older than `refreshMs`. A
// failed refresh keeps the previous answer, so a provider outage never stops accounting; the
// sampler stores the price in force with every sample, which is what makes the history.
import type { Price } from '../../providers/provider.ts';
import type { Logger } from '../common/logger.ts';

export interface PriceSource {
  prices(pool: string): Promise<Price[]>;
}

export interface PriceFeed {
  /** Refreshes what is stale; never throws. */
  refresh(now: number): Promise<void>;
  latest(): ReadonlyMap<string, readonly Price[]>;
}

export class ProviderPriceFeed implements PriceFeed {
  private readonly cache = new Map<string, Price[]>();
  private readonly fetchedAt = new Map<string, number>();

  /** `sources`: pool → provider, or a function giving them now (the pools of the policy in force). */
  constructor(
    private readonly sources: ReadonlyMap<string, PriceSource> | (() => Promise<ReadonlyMap<string, PriceSource>>),
    private readonly refreshMs: number,
    private readonly log?: Logger,
  ) {}

  async refresh(now: number): Promise<void> {
    const sources = typeof this.sources === 'function'
      ? await this.sources().catch((e: unknown) => { this.log?.warn({ err: (e as Error).message }, 'cannot list the pools to price'); return new Map<string, PriceSource>(); })
      : this.sources;
    await Promise.all([...sources].map(async ([pool, src]) => {
      if (now - (this.fetchedAt.get(pool) ?? -Infinity) < this.refreshMs) return;
      try {
        this.cache.set(pool, await src.prices(pool));
        this.fetchedAt.set(pool, now);
      } catch (e) {
        this.log?.warn({ pool, err: (e as Error).message }, 'cannot refresh prices; keeping the last ones');
      }
    }));
  }

  latest(): ReadonlyMap<string, readonly Price[]> {
    return this.cache;
  }
}
