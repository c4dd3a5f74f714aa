// Builds the Provider for each pool: one instance per provider kind, shared by that kind's pools,
// wrapped with metrics when a registry is given.
import type { Registry } from 'prom-client';
import type { Provider } from './provider.ts';
import type { Pool } from './pool-config.ts';
import type { ProviderContext } from './context.ts';
import { InvalidConfigError } from './errors.ts';
import { LocalProvider } from './local/local-provider.ts';
import type { Redis } from 'ioredis';
import { StaticProvider, staticStateFile, type MachineState } from './static/static-provider.ts';
import { RedisStateStore } from './state-store.ts';
import { StateFile } from './state-file.ts';
import { MeteredProvider, providerMetrics } from './metered-provider.ts';
import { LazyProvider } from './lazy-provider.ts';

export interface ProviderSetOptions {
  /** Where the local and static providers keep their state files and instance work dirs. */
  stateDir: string;
  metrics?: Registry;
  /** Extra flags for agents the local provider starts. */
  localAgentArgs?: string[];
  /**
   * Keep the static provider's state (which machine is on) in Redis under this prefix, so that a
   * leader on another host knows it; without, it is a file in stateDir (one host).
   */
  redis?: { client: Redis; keyPrefix: string };
}

export class ProviderSet {
  private readonly byKind = new Map<string, Provider>();
  private readonly pools: Map<string, Pool>;

  constructor(pools: readonly Pool[], ctx: ProviderContext, opts: ProviderSetOptions) {
    this.pools = new Map(pools.map((p) => [p.name, p]));
    const metrics = opts.metrics ? providerMetrics(opts.metrics) : undefined;
    const kinds = new Set(pools.map((p) => p.provider));
    for (const kind of kinds) {
      const mine = pools.filter((p) => p.provider === kind);
      const byName = new Map(mine.map((p) => [p.name, p]));
      let provider: Provider;
      if (kind === 'local') provider = new LocalProvider(byName, ctx, { stateDir: opts.stateDir, agentArgs: opts.localAgentArgs });
      else if (kind === 'static') provider = new StaticProvider(byName, ctx, { stateDir: opts.stateDir, ...(opts.redis ? { store: staticStore(opts.redis, opts.stateDir) } : {}) });
      // The cloud SDKs load only if a pool uses them (lazy-provider.ts).
      else if (kind === 'aws-ec2') provider = new LazyProvider(kind, async () => new (await import('./aws-ec2/index.ts')).AwsEc2Provider(byName, ctx));
      else provider = new LazyProvider(kind, async () => (await import('./gcp-compute/gcp-compute-provider.ts')).createGcpComputeProvider(byName, ctx));
      this.byKind.set(kind, metrics ? new MeteredProvider(provider, metrics) : provider);
    }
  }

  pool(name: string): Pool {
    const p = this.pools.get(name);
    if (!p) throw new InvalidConfigError(`unknown pool '${name}' (known: ${[...this.pools.keys()].join(', ') || 'none'})`, 'any');
    return p;
  }

  /** The provider serving a pool. */
  forPool(name: string): Provider {
    return this.byKind.get(this.pool(name).provider)!;
  }

  poolNames(): string[] {
    return [...this.pools.keys()];
  }
}

/** The static provider's state in Redis; the state file an earlier version wrote seeds it. */
function staticStore(redis: { client: Redis; keyPrefix: string }, stateDir: string): RedisStateStore<{ machines: MachineState[] }> {
  const file = new StateFile<{ machines: MachineState[] }>(staticStateFile(stateDir), () => ({ machines: [] }));
  return new RedisStateStore(redis.client, `${redis.keyPrefix}providers:static-machines`, () => file.read());
}

