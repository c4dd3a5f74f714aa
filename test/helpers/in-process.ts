// An in-process master on a private Redis, for tests of the master's APIs, without the autoscaler
// (test/helpers/autoscale.ts has one with it). Process-level tests use cluster.ts.
import { silentLogger } from '../../src/common/logger.ts';
import { runMaster, type MasterProcessOptions, type RunningMaster } from '../../src/master/run-master.ts';
import type { MasterConfig } from '../../src/master/master.ts';
import type { RedisProcess } from '../../src/up/redis-process.ts';
import { testRedis } from './redis.ts';

export interface InProcessMaster extends RunningMaster {
  redis: RedisProcess;
  shutdown(): Promise<void>;
}

export const FAST_MASTER: Partial<MasterConfig> = {
  allocationIntervalMs: 100,
  heartbeatIntervalSeconds: 1,
  agentPingIntervalSeconds: 1,
  maxAgentPingTimeouts: 5,
  statusUpdateRetrySeconds: 1,
};

/** `limits`: rate limits and the launch gate (process options, not MasterConfig). */
export async function inProcessMaster(
  config: Partial<MasterConfig> = {}, bodyLimit?: string,
  limits: Pick<MasterProcessOptions, 'rateLimits' | 'maxTaskLaunchesPerSecond'> = {},
): Promise<InProcessMaster> {
  const redis = await testRedis();
  const m = await runMaster({ redisUrl: redis.url, host: '127.0.0.1', port: 0, config: { ...FAST_MASTER, ...config }, log: silentLogger, bodyLimit, ...limits, autoscaler: false });
  return {
    ...m,
    redis,
    async shutdown() {
      await m.stop();
      await redis.stop();
    },
  };
}
