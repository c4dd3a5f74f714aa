// The instance metadata service (IMDSv2) of instances the EC2 fake launched: a loopback server per
// instance serving its instance identity document and the document's base64 RSA-SHA256 signature,
// signed with a per-test key whose self-signed certificate plays AWS' regional RSA certificate.
//   PUT /latest/api/token                             (X-aws-ec2-metadata-token-ttl-seconds) → token
//   GET /latest/dynamic/instance-identity/document    (X-aws-ec2-metadata-token)
//   GET /latest/dynamic/instance-identity/signature
//   GET /latest/meta-data/placement/availability-zone, /latest/meta-data/placement/region
//   GET /latest/meta-data/spot/instance-action         404 until interrupt(), then {"action","time"}
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, sign } from 'node:crypto';
import type { FakeInstance } from './ec2-fake.ts';
import { selfSignedSigner, type TestCert } from '../helpers/test-pki.ts';

export class Ec2IdentitySigner {
  readonly cert: TestCert;

  constructor(readonly region: string, readonly accountId: string) {
    this.cert = selfSignedSigner(`ec2 identity ${region} (test)`);
  }

  /** The identity document EC2 would serve this instance (pretty-printed, as EC2 does). */
  document(i: FakeInstance): string {
    return JSON.stringify({
      accountId: this.accountId, architecture: 'x86_64', availabilityZone: i.zone, billingProducts: null, devpayProductCodes: null,
      marketplaceProductCodes: null, imageId: i.imageId ?? 'ami-0123456789abcdef0', instanceId: i.id, instanceType: i.instanceType,
      kernelId: null, pendingTime: new Date(i.launchTime).toISOString().replace(/\.\d+Z$/, 'Z'), privateIp: i.privateIp, ramdiskId: null,
      region: this.region, version: '2017-09-30',
    }, null, 2);
  }

  signature(document: string): string {
    // EC2 wraps the base64 at 64 columns.
    return sign('sha256', Buffer.from(document), this.cert.keyPem).toString('base64').replace(/(.{64})/g, '$1\n').trim();
  }
}

export interface MetadataServer {
  url: string;
  /**
   * The cloud announces it takes the VM back (EC2: a Spot interruption at `at`, default in 2 min).
   * One server may stand for several VMs (agents given the same --metadata-url): the notice is for
   * those already talking to it — IMDSv2 sessions opened before the call — not for VMs started later.
   */
  interrupt(notice?: { action?: string; at?: Date }): void;
  close(): Promise<void>;
}

/** IMDS for one instance; `tamper` changes the document after signing (a forged proof). */
export async function startEc2Metadata(signer: Ec2IdentitySigner, instance: FakeInstance, opts: { tamper?: (doc: string) => string } = {}): Promise<MetadataServer> {
  const tokens = new Set<string>();
  const doc = signer.document(instance);
  const sig = signer.signature(doc);
  const served = opts.tamper ? opts.tamper(doc) : doc;
  let instanceAction: { body: string; sessions: Set<string> } | undefined;
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string) => { res.writeHead(status, { 'content-type': 'text/plain' }); res.end(body); };
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return reply(400, 'Missing TTL header');
      const t = randomBytes(24).toString('base64url');
      tokens.add(t);
      return reply(200, t);
    }
    if (req.method !== 'GET') return reply(405, 'Method Not Allowed');
    if (!tokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return reply(401, 'Unauthorized');
    if (req.url === '/latest/dynamic/instance-identity/document') return reply(200, served);
    if (req.url === '/latest/dynamic/instance-identity/signature') return reply(200, sig);
    if (req.url === '/latest/meta-data/placement/availability-zone') return reply(200, instance.zone);
    if (req.url === '/latest/meta-data/placement/region') return reply(200, signer.region);
    if (req.url === '/latest/meta-data/spot/instance-action' && instanceAction?.sessions.has(String(req.headers['x-aws-ec2-metadata-token']))) {
      return reply(200, instanceAction.body);
    }
    return reply(404, 'Not Found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    interrupt: (notice = {}) => {
      // EC2 gives the time to the second, as "2026-12-02T18:00:00Z".
      const at = notice.at ?? new Date(Date.now() + 120_000);
      instanceAction = { body: JSON.stringify({ action: notice.action ?? 'terminate', time: at.toISOString().replace(/\.\d+Z$/, 'Z') }), sessions: new Set(tokens) };
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
