// The instance identity proof an agent on a cloud VM presents when it joins with a token, fetched
// from the VM's metadata server (src/auth/instance-identity.ts checks it on the master):
//   aws-ec2      IMDSv2: PUT /latest/api/token, then /latest/dynamic/instance-identity/document
//                and /signature (base64 RSA-SHA256), default http://169.254.169.254
//   gcp-compute  /computeMetadata/v1/instance/service-accounts/default/identity?audience=…&format=full
//                with Metadata-Flavor: Google, default http://metadata.google.internal
import type { Logger } from 'pino';
import { imdsV2Token, metadataBase, type MetadataProvider } from './metadata-server.ts';

export interface IdentitySource {
  provider: MetadataProvider;
  metadataUrl?: string;
  audience?: string;
}

const TIMEOUT_MS = 5000;

async function text(url: string, init: RequestInit): Promise<string> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const body = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${body.slice(0, 200)}`);
  return body;
}

export async function fetchIdentityProof(src: IdentitySource): Promise<object> {
  const base = metadataBase(src.provider, src.metadataUrl);
  if (src.provider === 'aws-ec2') {
    const token = await imdsV2Token(base, 300, TIMEOUT_MS);
    const headers = { 'X-aws-ec2-metadata-token': token };
    const [document, signature] = await Promise.all([
      text(`${base}/latest/dynamic/instance-identity/document`, { headers }),
      text(`${base}/latest/dynamic/instance-identity/signature`, { headers }),
    ]);
    return { aws: { document, signature: signature.trim() } };
  }
  const q = new URLSearchParams({ audience: src.audience ?? 'spillway', format: 'full' });
  const token = await text(`${base}/computeMetadata/v1/instance/service-accounts/default/identity?${q}`, { headers: { 'Metadata-Flavor': 'Google' } });
  return { gcp: { token: token.trim() } };
}

/** A few tries (the metadata server may lag right after boot); undefined when it never answers. */
export async function identityProofWithRetries(src: IdentitySource, log: Logger, tries = 5): Promise<object | undefined> {
  for (let i = 1; ; i++) {
    try {
      return await fetchIdentityProof(src);
    } catch (e) {
      log.warn({ err: (e as Error).message, attempt: i, provider: src.provider }, 'cannot fetch the instance identity proof');
      if (i >= tries) return undefined;
      await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
}
