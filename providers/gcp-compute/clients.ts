// The Compute SDK clients, one InstancesClient + ZoneOperationsClient pair per endpoint.
//
// The SDK is imported lazily, and only the two client modules: the package root also compiles
// build/protos/protos.js (30 MB) and every v1/v1beta/v1small client, which takes many seconds —
// a process whose pools never touch GCE should not pay for it, and one that does pays less. If a
// future SDK moves those files, the package root is the fallback.
import type { InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import type { Location } from './config.ts';

interface Sdk {
  InstancesClient: typeof InstancesClient;
  ZoneOperationsClient: typeof ZoneOperationsClient;
}

let sdk: Promise<Sdk> | undefined;

function loadSdk(): Promise<Sdk> {
  sdk ??= (async () => {
    try {
      const [i, o] = await Promise.all([
        import('@google-cloud/compute/build/src/v1/instances_client.js'),
        import('@google-cloud/compute/build/src/v1/zone_operations_client.js'),
      ]);
      if (typeof i.InstancesClient === 'function' && typeof o.ZoneOperationsClient === 'function') {
        return { InstancesClient: i.InstancesClient, ZoneOperationsClient: o.ZoneOperationsClient };
      }
    } catch { /* layout changed: use the package root */ }
    const root = await import('@google-cloud/compute');
    return { InstancesClient: root.InstancesClient, ZoneOperationsClient: root.ZoneOperationsClient };
  })();
  return sdk;
}

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
    const { InstancesClient, ZoneOperationsClient } = await loadSdk();
    const ep = loc.endpoint;
    // Each client mutates its options object, so build a fresh one per client.
    const options = async (): Promise<ClientOptions> => ({
      // REST transport (the SDK's default for Compute; stated so a future default cannot flip it).
      fallback: true,
      ...(ep ? { apiEndpoint: ep.host, protocol: ep.protocol, ...(ep.port ? { port: ep.port } : {}) } : {}),
      ...(loc.insecure ? { authClient: new (await import('google-auth-library')).PassThroughClient() } : {}),
      ...this.extra,
    });
    return { instances: new InstancesClient(await options()), operations: new ZoneOperationsClient(await options()) };
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
