// The cloud metadata servers an agent on a rented VM talks to (instance identity, interruption
// notices): where they are and how EC2's IMDSv2 session token is obtained.
export type MetadataProvider = 'aws-ec2' | 'gcp-compute';

export const DEFAULT_METADATA_URLS: Record<MetadataProvider, string> = {
  'aws-ec2': 'http://169.254.169.254', 'gcp-compute': 'http://metadata.google.internal',
};

/** The metadata server's base URL, without a trailing slash. */
export function metadataBase(provider: MetadataProvider, url?: string): string {
  return (url ?? DEFAULT_METADATA_URLS[provider]).replace(/\/+$/, '');
}

/** An IMDSv2 session token (`PUT /latest/api/token`) good for `ttlSeconds`. */
export async function imdsV2Token(base: string, ttlSeconds: number, timeoutMs: number): Promise<string> {
  const res = await fetch(`${base}/latest/api/token`, {
    method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(ttlSeconds) }, signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`PUT ${base}/latest/api/token: ${res.status} ${body.slice(0, 200)}`);
  return body;
}

/**
 * Where the VM runs, from its metadata server: EC2 `placement/availability-zone` and `region`,
 * GCE `instance/zone` (`projects/<n>/zones/<zone>`; the region is the zone less its letter). For
 * the `zone` and `region` attributes finance reports and spot prices need (src/accounting).
 */
export async function fetchPlacement(provider: MetadataProvider, url: string | undefined, timeoutMs: number): Promise<{ zone: string; region: string }> {
  const base = metadataBase(provider, url);
  const get = async (path: string, headers: Record<string, string>): Promise<string> => {
    const res = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).trim();
    if (!res.ok || !body) throw new Error(`GET ${base}${path}: ${res.status} ${body.slice(0, 200)}`);
    return body;
  };
  if (provider === 'aws-ec2') {
    const headers = { 'X-aws-ec2-metadata-token': await imdsV2Token(base, 60, timeoutMs) };
    const [zone, region] = await Promise.all([
      get('/latest/meta-data/placement/availability-zone', headers), get('/latest/meta-data/placement/region', headers),
    ]);
    return { zone, region };
  }
  const zone = (await get('/computeMetadata/v1/instance/zone', { 'Metadata-Flavor': 'Google' })).split('/').pop()!;
  return { zone, region: zone.replace(/-[a-z]$/, '') };
}
