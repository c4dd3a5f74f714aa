// Metrics as a decorator (after Karpenter): wraps any Provider with call latency and error
// counters by kind, instead of sprinkling metrics inside each adapter.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Instance, LaunchSpec, Price, Provider } from './provider.ts';
import { ProviderError } from './errors.ts';

export interface ProviderMetrics {
  calls: Histogram<'provider' | 'method'>;
  errors: Counter<'provider' | 'method' | 'kind'>;
}

const byRegistry = new WeakMap<Registry, ProviderMetrics>();

/** The provider metrics on a registry, made once (a registry refuses a metric name twice). */
export function providerMetrics(registry: Registry): ProviderMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const m: ProviderMetrics = {
    calls: new Histogram({ name: 'spillway_provider_call_seconds', help: 'Provider API call latency', labelNames: ['provider', 'method'], registers: [registry], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120] }),
    errors: new Counter({ name: 'spillway_provider_errors_total', help: 'Provider call failures by kind', labelNames: ['provider', 'method', 'kind'], registers: [registry] }),
  };
  byRegistry.set(registry, m);
  return m;
}

export class MeteredProvider implements Provider {
  readonly kind: string;
  readonly interruptions?: Provider['interruptions'];

  constructor(private readonly inner: Provider, private readonly m: ProviderMetrics) {
    this.kind = inner.kind;
    if (inner.interruptions) this.interruptions = (pool) => this.measure('interruptions', () => inner.interruptions!(pool));
  }

  launch(pool: string, count: number, spec: LaunchSpec): Promise<Instance[]> {
    return this.measure('launch', () => this.inner.launch(pool, count, spec));
  }

  terminate(ids: readonly string[]): Promise<void> {
    return this.measure('terminate', () => this.inner.terminate(ids));
  }

  list(pool: string): Promise<Instance[]> {
    return this.measure('list', () => this.inner.list(pool));
  }

  prices(pool: string): Promise<Price[]> {
    return this.measure('prices', () => this.inner.prices(pool));
  }

  private async measure<T>(method: string, fn: () => Promise<T>): Promise<T> {
    const end = this.m.calls.startTimer({ provider: this.kind, method });
    try {
      return await fn();
    } catch (e) {
      this.m.errors.inc({ provider: this.kind, method, kind: e instanceof ProviderError ? e.kind : 'other' });
      throw e;
    } finally {
      end();
    }
  }
}
