// The providers for the pools of the policy in force, built once per policy version and shared by
// the loop and the workers of one process. Any replica can build them: the policy is read from
// Redis (`policy_versions`), not from the leader's memory.
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Provider } from '../../providers/provider.ts';
import type { Pool } from '../../providers/pool-config.ts';
import type { ProviderContext } from '../../providers/context.ts';
import { ProviderSet } from '../../providers/registry.ts';
import { keyPrefix } from '../store/redis-store.ts';
import { POLICY_LIST, type PolicyVersion } from './policy-store.ts';

/** What the autoscaler needs of a ProviderSet (tests pass their own). */
export interface ProviderLookup {
  forPool(name: string): Provider;
}

export type ProviderFactory = (pools: readonly Pool[]) => ProviderLookup;

export interface ProviderFactoryOptions {
  ctx: ProviderContext;
  stateDir: string;
  metrics?: Registry;
  localAgentArgs?: string[];
  /** Shared provider state (static machines) in this Redis, for masters on several hosts. */
  redis?: Redis;
}

/** The real factory: a ProviderSet (local, static, aws-ec2, gcp-compute), metered. */
export function providerSetFactory(o: ProviderFactoryOptions): ProviderFactory {
  const redis = o.redis ? { client: o.redis, keyPrefix: keyPrefix(o.ctx.cluster) } : undefined;
  return (pools) => new ProviderSet(pools, o.ctx, { stateDir: o.stateDir, metrics: o.metrics, localAgentArgs: o.localAgentArgs, ...(redis ? { redis } : {}) });
}

/** Reads the policy in force straight from Redis (any replica can). */
export async function readCurrentPolicy(redis: Redis, cluster: string): Promise<PolicyVersion | undefined> {
  const head = await redis.lindex(`${keyPrefix(cluster)}${POLICY_LIST}`, 0);
  return head ? (JSON.parse(head) as PolicyVersion) : undefined;
}

export class PolicyProviders {
  private built: { version: number; lookup: ProviderLookup } | undefined;

  constructor(private readonly redis: Redis, private readonly cluster: string, private readonly factory: ProviderFactory) {}

  /** The policy in force and its providers (undefined when no policy was applied). */
  async current(): Promise<{ policy: PolicyVersion; providers: ProviderLookup } | undefined> {
    const policy = await readCurrentPolicy(this.redis, this.cluster);
    if (!policy) return undefined;
    if (this.built?.version !== policy.version) this.built = { version: policy.version, lookup: this.factory(policy.policy.pools) };
    return { policy, providers: this.built.lookup };
  }
}
