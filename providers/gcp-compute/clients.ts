// The Compute SDK clients, one InstancesClient + ZoneOperationsClient pair per endpoint. The SDK is
// imported lazily: loading @google-cloud/compute (its protos) takes seconds, and a process whose
// pools never touch GCE should not pay for it.
import type { InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import type { Location } from './config.ts';

export interface GceApi {
  readonly instances: InstancesClient;
  readonly operations: ZoneOperationsClient;
}

type ClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

export class GceClients {
  private readonly byKey = new Map<string, Promise<GceApi>>();

  /** `extra` is merged into every client's options (e.g. a custom authClient). */
  constructor(private readonly extra: Partial<ClientOptions> = {}) {}

  for(loc: Location): Promise<GceApi> {
    const ep = loc.endpoint;
    const key = ep ? `${ep.protocol}://${ep.host}:${ep.port ?? ''}|${loc.insecure}` : `default|${loc.insecure}`;
    let api = this.byKey.get(key);
    if (!api) {
      api = this.create(loc);
      api.catch(() => this.byKey.delete(key));
      this.byKey.set(key, api);
    }
    return api;
  }

  private async create(loc: Location): Promise<GceApi> {
    const sdk = await import('@google-cloud/compute');
    const ep = loc.endpoint;
    // Each client mutates its options object, so build a fresh one per client.
    const options = async (): Promise<ClientOptions> => ({
      // REST transport (the SDK's default for Compute; stated so a future default cannot flip it).
      fallback: true,
      ...(ep ? { apiEndpoint: ep.host, protocol: ep.protocol, ...(ep.port ? { port: ep.port } : {}) } : {}),
      ...(loc.insecure ? { authClient: new (await import('google-auth-library')).PassThroughClient() } : {}),
      ...this.extra,
    });
    return { instances: new sdk.InstancesClient(await options()), operations: new sdk.ZoneOperationsClient(await options()) };
  }

  async close(): Promise<void> {
    const all = [...this.byKey.values()];
    this.byKey.clear();
    for (const p of all) {
      const api = await p.catch(() => undefined);
      if (api) await Promise.all([api.instances.close(), api.operations.close()]);
    }
  }
}
