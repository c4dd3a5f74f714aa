// Everything checked before the first API call (→ InvalidConfigError), and the insert body.
import type { Pool } from '../pool-config.ts';
import type { LaunchSpec } from '../provider.ts';
import { InvalidConfigError } from '../errors.ts';
import { KIND } from './gce-errors.ts';
import type { GceInstance } from './mapping.ts';

/**
 * GCE's limit for one metadata value is 256 KB (and 512 KB for all entries together; user-data is
 * our only entry). We enforce 256 KiB = 262,144 bytes of UTF-8 on the `user-data` value.
 */
export const USER_DATA_LIMIT_BYTES = 256 * 1024;

export type GcpSection = NonNullable<Pool['gcp']>;
type InstanceType = Pool['instanceTypes'][number];

/** Where the SDK connects: host, port and scheme; undefined = Google's public endpoint. */
export interface Endpoint {
  readonly host: string;
  readonly port?: number;
  readonly protocol: 'http' | 'https';
}

export interface Location {
  readonly project: string;
  readonly zone: string;
  readonly endpoint?: Endpoint;
  /** No credentials (google-auth-library PassThroughClient): local fakes only. */
  readonly insecure: boolean;
}

export interface LaunchPlan {
  readonly pool: Pool;
  readonly gcp: GcpSection;
  readonly location: Location;
  readonly type: InstanceType;
  readonly capacityType: 'on-demand' | 'spot';
  readonly userData?: string;
}

function fail(msg: string): never {
  throw new InvalidConfigError(msg, KIND);
}

export function parseEndpoint(apiEndpoint: string | undefined, insecure: boolean, where: string): Endpoint | undefined {
  if (apiEndpoint === undefined || apiEndpoint.trim() === '') {
    if (insecure) fail(`${where}: gcp.insecure needs gcp.apiEndpoint (it is for local fakes only)`);
    return undefined;
  }
  const raw = apiEndpoint.trim();
  let ep: Endpoint;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return fail(`${where}: gcp.apiEndpoint '${raw}' is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`${where}: gcp.apiEndpoint must be http(s), got ${u.protocol}`);
    if (u.pathname !== '/' && u.pathname !== '') fail(`${where}: gcp.apiEndpoint must not have a path (the SDK adds /compute/v1/…)`);
    ep = { host: u.hostname, protocol: u.protocol === 'http:' ? 'http' : 'https', ...(u.port ? { port: Number(u.port) } : {}) };
  } else {
    const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/.exec(raw);
    if (!m) return fail(`${where}: gcp.apiEndpoint '${raw}' is neither host[:port] nor a URL`);
    ep = { host: m[1], protocol: insecure ? 'http' : 'https', ...(m[2] ? { port: Number(m[2]) } : {}) };
  }
  if (ep.port !== undefined && (ep.port < 1 || ep.port > 65535)) fail(`${where}: gcp.apiEndpoint port ${ep.port} is out of range`);
  if (ep.protocol === 'http' && !insecure) fail(`${where}: a plain-http gcp.apiEndpoint needs gcp.insecure: true (credentials would travel in clear text)`);
  return ep;
}

/** The pool's GCE location; throws InvalidConfigError for anything missing. */
export function poolLocation(pools: ReadonlyMap<string, Pool>, poolName: string): { pool: Pool; gcp: GcpSection; location: Location } {
  const pool = pools.get(poolName);
  if (!pool || pool.provider !== KIND) return fail(`no ${KIND} pool named '${poolName}'`);
  const gcp = pool.gcp ?? fail(`pool ${poolName}: provider ${KIND} needs a 'gcp' section`);
  const project = gcp.project?.trim();
  const zone = gcp.zone?.trim();
  if (!project) fail(`pool ${poolName}: gcp.project is missing`);
  if (!zone) fail(`pool ${poolName}: gcp.zone is missing`);
  const insecure = gcp.insecure === true;
  const endpoint = parseEndpoint(gcp.apiEndpoint, insecure, `pool ${poolName}`);
  return { pool, gcp, location: { project, zone, insecure, ...(endpoint ? { endpoint } : {}) } };
}

export function planLaunch(pools: ReadonlyMap<string, Pool>, poolName: string, count: number, spec: LaunchSpec): LaunchPlan {
  const { pool, gcp, location } = poolLocation(pools, poolName);
  if (!Number.isInteger(count) || count <= 0) fail(`pool ${poolName}: count must be a whole number > 0, got ${count}`);
  if (typeof spec.token !== 'string' || spec.token.trim() === '') fail(`pool ${poolName}: launch token is empty`);
  if (!gcp.sourceImage?.trim()) fail(`pool ${poolName}: gcp.sourceImage is missing`);
  const type = pool.instanceTypes.find((t) => t.name === spec.instanceType)
    ?? fail(`pool ${poolName}: instance type '${spec.instanceType}' is not in its instanceTypes (${pool.instanceTypes.map((t) => t.name).join(', ') || 'none'})`);
  if (spec.zone !== undefined && spec.zone !== location.zone) fail(`pool ${poolName}: zone '${spec.zone}' differs from the pool's zone '${location.zone}'`);
  const capacityType = spec.capacityType ?? pool.capacityType;
  if (capacityType !== 'on-demand' && capacityType !== 'spot') fail(`pool ${poolName}: capacity type '${String(capacityType)}' is neither on-demand nor spot`);
  if (spec.userData !== undefined) {
    const bytes = Buffer.byteLength(spec.userData, 'utf8');
    if (bytes > USER_DATA_LIMIT_BYTES) fail(`pool ${poolName}: user-data is ${bytes} bytes; GCE allows at most ${USER_DATA_LIMIT_BYTES} bytes (256 KiB) per metadata value`);
  }
  return { pool, gcp, location, type, capacityType, ...(spec.userData !== undefined ? { userData: spec.userData } : {}) };
}

const regionOf = (zone: string) => zone.replace(/-[a-z]$/, '');

/** The instances.insert body for one instance of a launch. */
export function instanceResource(plan: LaunchPlan, name: string, labels: Record<string, string>): GceInstance {
  const { gcp, location, type } = plan;
  const nic: { network?: string; subnetwork?: string } = {};
  if (gcp.network) nic.network = gcp.network.includes('/') ? gcp.network : `global/networks/${gcp.network}`;
  if (gcp.subnetwork) nic.subnetwork = gcp.subnetwork.includes('/') ? gcp.subnetwork : `regions/${regionOf(location.zone)}/subnetworks/${gcp.subnetwork}`;
  if (!nic.network && !nic.subnetwork) nic.network = 'global/networks/default';
  const spot = plan.capacityType === 'spot';
  return {
    name,
    machineType: `zones/${location.zone}/machineTypes/${type.name}`,
    labels,
    disks: [{ boot: true, autoDelete: true, type: 'PERSISTENT', initializeParams: { sourceImage: gcp.sourceImage } }],
    // Private address only: agents reach the master over the hybrid link, not the internet.
    networkInterfaces: [nic],
    ...(gcp.serviceAccount ? { serviceAccounts: [{ email: gcp.serviceAccount, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }] } : {}),
    ...(plan.userData !== undefined ? { metadata: { items: [{ key: 'user-data', value: plan.userData }] } } : {}),
    scheduling: spot
      ? { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', automaticRestart: false, onHostMaintenance: 'TERMINATE' }
      // GPU machine types cannot live-migrate: GCE requires TERMINATE on host maintenance.
      : { provisioningModel: 'STANDARD', ...(type.gpus ? { onHostMaintenance: 'TERMINATE', automaticRestart: true } : {}) },
  };
}
