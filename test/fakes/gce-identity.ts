// The metadata server of instances the GCE fake created: a loopback server per instance answering
//   GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=…&format=full
// (header Metadata-Flavor: Google) with an RS256 instance identity token signed by a per-test key,
// whose public half is served as a JWKS like Google's oauth2/v3/certs; and
//   GET /computeMetadata/v1/instance/preempted    FALSE until interrupt(), then TRUE
//   GET /computeMetadata/v1/instance/zone         projects/<number>/zones/<zone>
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { MetadataServer } from './ec2-identity.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const b64url = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');

export class GceIdentitySigner {
  readonly kid = randomBytes(8).toString('hex');
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(private readonly now: () => number = Date.now) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  /** The JWKS text (Google's format: keys with kid, alg RS256, use sig). */
  jwks(): string {
    return JSON.stringify({ keys: [{ ...this.publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'RS256', use: 'sig' }] });
  }

  /** An identity token for `instance` (a GCE instance resource from the fake) and `audience`. */
  token(instance: Json, project: string, zone: string, audience: string): string {
    const iat = Math.floor(this.now() / 1000);
    const claims = {
      aud: audience, azp: '100000000000000000000', exp: iat + 3600, iat, iss: 'https://accounts.google.com', sub: '100000000000000000000',
      google: { compute_engine: {
        instance_creation_timestamp: Math.floor(Date.parse(String(instance.creationTimestamp ?? new Date(0).toISOString())) / 1000),
        instance_id: String(instance.id), instance_name: String(instance.name), project_id: project, project_number: 123456789012, zone,
      } },
    };
    const head = b64url({ alg: 'RS256', kid: this.kid, typ: 'JWT' });
    const body = b64url(claims);
    return `${head}.${body}.${sign('sha256', Buffer.from(`${head}.${body}`), this.privateKey).toString('base64url')}`;
  }
}

export async function startGceMetadata(signer: GceIdentitySigner, instance: Json, project: string, zone: string): Promise<MetadataServer> {
  let preempted = false;
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string) => { res.writeHead(status, { 'content-type': 'text/plain', 'metadata-flavor': 'Google' }); res.end(body); };
    if (req.headers['metadata-flavor'] !== 'Google') return reply(403, 'Missing Metadata-Flavor:Google header.');
    const u = new URL(req.url ?? '/', 'http://metadata');
    if (u.pathname === '/computeMetadata/v1/instance/preempted') return reply(200, preempted ? 'TRUE' : 'FALSE');
    if (u.pathname === '/computeMetadata/v1/instance/zone') return reply(200, `projects/${String(instance.projectNumber ?? '123456789012')}/zones/${zone}`);
    if (u.pathname !== '/computeMetadata/v1/instance/service-accounts/default/identity') return reply(404, 'Not Found');
    const audience = u.searchParams.get('audience');
    if (!audience) return reply(400, 'audience must be given');
    if (u.searchParams.get('format') !== 'full') return reply(400, 'this fake serves format=full only');
    return reply(200, signer.token(instance, project, zone, audience));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    interrupt: () => { preempted = true; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
