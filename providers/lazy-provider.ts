// Loads a provider adapter's module on first use. The cloud SDKs are heavy (importing
// @google-cloud/compute costs seconds of CPU, @aws-sdk/client-ec2 about one), and every `spillway`
// process — agents and client commands included — built a ProviderSet's adapters eagerly. A
// cluster without cloud pools now never loads them; one with them pays once, at the first call.
// The adapters check their pools' configuration on first use already, so nothing is checked later.
import type { InterruptionNotice, Instance, LaunchSpec, Price, Provider } from './provider.ts';

export class LazyProvider implements Provider {
  private loaded: Promise<Provider> | undefined;

  constructor(readonly kind: string, private readonly load: () => Promise<Provider>) {}

  private get provider(): Promise<Provider> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  async launch(pool: string, count: number, spec: LaunchSpec): Promise<Instance[]> {
    return (await this.provider).launch(pool, count, spec);
  }

  async terminate(ids: readonly string[]): Promise<void> {
    return (await this.provider).terminate(ids);
  }

  async list(pool: string): Promise<Instance[]> {
    return (await this.provider).list(pool);
  }

  async prices(pool: string): Promise<Price[]> {
    return (await this.provider).prices(pool);
  }

  /** The adapter's notices; none when it has no notion of interruptions. */
  async interruptions(pool: string): Promise<InterruptionNotice[]> {
    const p = await this.provider;
    return p.interruptions ? p.interruptions(pool) : [];
  }
}
