// Starts the autoscaler inside a master process: the loop on the master's mirror (this master is
// the leader) and the worker pool, on the master's Redis connection and clock, with the real
// providers for the policy's pools.
import type { Redis } from 'ioredis';
import type { Logger } from '../common/logger.ts';
import type { Master } from '../master/master.ts';
import { Autoscaler, type AutoscalerOptions } from './autoscaler.ts';
import { masterSource } from './cluster-source.ts';
import { providerSetFactory, type ProviderFactory } from './providers.ts';

export interface MasterAutoscalerOptions extends AutoscalerOptions {
  /** Where the local and static providers keep state and instance work dirs (default .spillway/providers). */
  stateDir?: string;
  /** Extra flags for agents the local provider starts. */
  localAgentArgs?: string[];
  /** Replaces the real providers (tests). */
  providerFactory?: ProviderFactory;
}

export function startAutoscaler(master: Master, redis: Redis, url: () => string, log: Logger, o: MasterAutoscalerOptions): Autoscaler {
  const cluster = master.config.cluster;
  const providerFactory = o.providerFactory ?? providerSetFactory({
    ctx: { cluster, masterUrl: url(), log: log.child({ component: 'provider' }), clock: master.clock },
    stateDir: o.stateDir ?? '.spillway/providers', metrics: master.metrics.registry, localAgentArgs: o.localAgentArgs, redis,
  });
  const a = new Autoscaler({
    ...o, source: masterSource(master), redis, cluster, clock: master.clock, leaderUrl: url, providerFactory, log, metrics: master.metrics.registry,
  });
  a.start();
  return a;
}
