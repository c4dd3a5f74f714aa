// Wires the autoscaler into a master process: the leader-only loop (evaluate and queue) and the
// worker pool (run the jobs; any replica). Both take their Redis connection, the Clock and the
// leader's URL, so a standby replica can run the workers alone.
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { ClusterSource } from './cluster-source.ts';
import { DecisionLog } from './decision-log.ts';
import { AutoscalerLoop } from './loop.ts';
import { PolicyProviders, type ProviderFactory } from './providers.ts';
import { AutoscalerQueues } from './queues.ts';
import { AutoscalerRecords } from './records.ts';
import { WorkerPool } from './workers.ts';

export interface AutoscalerOptions {
  /** Seconds between evaluations (default 10). */
  intervalSeconds?: number;
  /** Run the worker pool in this process (default true). */
  workers?: boolean;
  /** BullMQ lock duration (ms): how soon a job of a dead worker is handed on (default 30 s). */
  lockDurationMs?: number;
  /** How often a drain job polls for DRAINED (ms, default 1000). */
  drainPollMs?: number;
  /** Job attempts and the first retry delay (ms). */
  attempts?: number;
  backoffMs?: number;
}

export interface AutoscalerDeps extends AutoscalerOptions {
  /** Leader-only view; absent in a replica that only runs workers. */
  source?: ClusterSource;
  redis: Redis;
  cluster: string;
  clock: Clock;
  leaderUrl: () => string;
  providerFactory: ProviderFactory;
  log: Logger;
  metrics: Registry;
}

export class Autoscaler {
  readonly providers: PolicyProviders;
  readonly queues: AutoscalerQueues;
  readonly records: AutoscalerRecords;
  readonly decisions: DecisionLog;
  readonly loop: AutoscalerLoop | undefined;
  readonly workers: WorkerPool | undefined;
  readonly metrics: Registry;

  constructor(deps: AutoscalerDeps) {
    this.metrics = deps.metrics;
    this.providers = new PolicyProviders(deps.redis, deps.cluster, deps.providerFactory);
    this.queues = new AutoscalerQueues(deps.redis, deps.cluster, { attempts: deps.attempts, backoffMs: deps.backoffMs });
    this.records = new AutoscalerRecords(deps.redis, deps.cluster);
    this.decisions = new DecisionLog(deps.redis, deps.cluster);
    const log = deps.log.child({ component: 'autoscaler' });
    this.loop = deps.source
      ? new AutoscalerLoop({
        source: deps.source, redis: deps.redis, cluster: deps.cluster, clock: deps.clock, providers: this.providers, queues: this.queues,
        leaderUrl: deps.leaderUrl, log, metrics: deps.metrics, intervalMs: (deps.intervalSeconds ?? 10) * 1000,
      })
      : undefined;
    this.workers = deps.workers === false ? undefined : new WorkerPool({
      redis: deps.redis, cluster: deps.cluster, clock: deps.clock, leaderUrl: deps.leaderUrl, providers: this.providers, log,
      metrics: deps.metrics, queues: this.queues, lockDurationMs: deps.lockDurationMs,
      stalledIntervalMs: deps.lockDurationMs, drainPollMs: deps.drainPollMs,
    });
  }

  start(): void {
    this.workers?.start();
    this.loop?.start();
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
    await this.workers?.stop();
    await this.queues.close();
  }
}
