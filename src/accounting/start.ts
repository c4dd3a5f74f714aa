// Builds the master's accounting: the store on the master's Redis connection, the sampler fed by
// the master's mirror and the applied policy, the demand-wait hook — and starts the sampler.
import { currentPolicy } from '../autoscaler/policy-store.ts';
import type { Logger } from '../common/logger.ts';
import type { Master } from '../master/master.ts';
import { keyPrefix, type RedisStore } from '../store/redis-store.ts';
import { Accounting, DEFAULT_ACCOUNTING, type AccountingOptions } from './accounting.ts';
import { masterSource } from './master-source.ts';
import { AccountingMetrics } from './metrics.ts';
import type { PriceFeed } from './price-feed.ts';

export { Accounting, type AccountingOptions } from './accounting.ts';

export function startAccounting(master: Master, store: RedisStore, log: Logger, options: Partial<AccountingOptions> = {}, prices?: PriceFeed): Accounting {
  const accounting = new Accounting({
    redis: store.client,
    prefix: keyPrefix(master.config.cluster),
    cluster: master.config.cluster,
    source: masterSource(master),
    clock: master.clock,
    policy: async () => (await currentPolicy(store))?.policy,
    openDemand: () => [...master.demands.values()].flat().map((u) => ({ role: u.role, units: u.count, since: u.since })),
    prices,
    log: log.child({ component: 'accounting' }),
    metrics: new AccountingMetrics(master.metrics.registry),
  }, { ...DEFAULT_ACCOUNTING, ...options });
  master.demandSatisfied = accounting.onDemandSatisfied;
  accounting.sampler.start();
  return accounting;
}
