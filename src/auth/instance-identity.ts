// Checks the identity proofs cloud instances present when they join, so a join token copied off a
// VM is useless anywhere else:
//   aws-ec2      the instance identity document (JSON) and its base64 RSA-SHA256 signature from
//                IMDS (`/latest/dynamic/instance-identity/document` and `/signature`), verified
//                with AWS' per-region RSA public certificates (`--aws-identity-certs FILE`, PEM).
//   gcp-compute  the instance identity token (an RS256 JWT, `format=full`) from the metadata
//                server, verified with Google's JWKS (`--gcp-identity-jwks FILE|URL`), its audience
//                and expiry checked.
// A kind is verified only when its keys are configured; the master says which at start.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import type { Clock } from '../common/clock.ts';

export class IdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

export const IdentityProofSchema = z.object({
  aws: z.object({ document: z.string().min(2).max(8192), signature: z.string().min(1).max(4096) }).strict().optional(),
  gcp: z.object({ token: z.string().min(1).max(8192) }).strict().optional(),
}).strict();
export type IdentityProof = z.infer<typeof IdentityProofSchema>;

export interface VerifiedIdentity {
  provider: 'aws-ec2' | 'gcp-compute';
  /** EC2 instance id; GCE instance name (what the gcp-compute provider calls an instance's id). */
  instanceId: string;
  /** AWS region / GCE zone. */
  location: string;
  /** AWS account id / GCP project id. */
  account: string;
}

export interface IdentityVerifierOptions {
  /** PEM text with one or more certificates (or public keys) that sign EC2 identity documents. */
  awsCertificates?: string;
  /** Google's JWKS: a JSON text, or a URL fetched (and cached for an hour) when needed. */
  gcpJwks?: { json: string } | { url: string };
  /** The audience the GCP token must carry (agents ask for it). */
  gcpAudience: string;
  clock: Clock;
}

const AwsDocumentSchema = z.looseObject({ instanceId: z.string().min(1), region: z.string().min(1), accountId: z.string().min(1) });
const GcpClaimsSchema = z.looseObject({
  iss: z.enum(['https://accounts.google.com', 'accounts.google.com']),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number(),
  google: z.looseObject({
    compute_engine: z.looseObject({ instance_name: z.string().min(1), instance_id: z.string().optional(), zone: z.string().min(1), project_id: z.string().min(1) }),
  }),
});
const JwksSchema = z.object({ keys: z.array(z.looseObject({ kid: z.string().optional(), kty: z.string() })) });

/** Every PEM block of a file (certificates or public keys) as a public key. */
export function publicKeysFromPem(pem: string, what: string): KeyObject[] {
  const blocks = pem.match(/-----BEGIN (?:CERTIFICATE|PUBLIC KEY)-----[\s\S]+?-----END (?:CERTIFICATE|PUBLIC KEY)-----/g) ?? [];
  if (!blocks.length) throw new IdentityError(`${what}: no PEM certificate or public key found`);
  return blocks.map((b, i) => {
    try {
      return createPublicKey(b);
    } catch (e) {
      throw new IdentityError(`${what}: PEM block ${i + 1}: ${(e as Error).message}`);
    }
  });
}

export function parseJwks(json: string, what: string): Map<string, KeyObject> {
  let parsed: z.infer<typeof JwksSchema>;
  try {
    parsed = JwksSchema.parse(JSON.parse(json));
  } catch (e) {
    throw new IdentityError(`${what}: not a JWKS ({"keys": [...]}): ${(e as Error).message.split('\n')[0]}`);
  }
  const keys = new Map<string, KeyObject>();
  parsed.keys.forEach((k, i) => {
    try {
      keys.set(k.kid ?? `#${i}`, createPublicKey({ key: k as Record<string, string> & { kty: string }, format: 'jwk' }));
    } catch (e) {
      throw new IdentityError(`${what}: key ${k.kid ?? i}: ${(e as Error).message}`);
    }
  });
  return keys;
}

const b64urlJson = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

export class IdentityVerifier {
  private readonly awsKeys: KeyObject[] | undefined;
  private gcpKeys: { keys: Map<string, KeyObject>; until: number } | undefined;

  constructor(private readonly opts: IdentityVerifierOptions) {
    this.awsKeys = opts.awsCertificates ? publicKeysFromPem(opts.awsCertificates, 'AWS identity certificates') : undefined;
    if (opts.gcpJwks && 'json' in opts.gcpJwks) this.gcpKeys = { keys: parseJwks(opts.gcpJwks.json, 'GCP identity JWKS'), until: Infinity };
  }

  /** Loads the key sources named by the master's flags (files read now, URLs when first needed). */
  static fromFiles(o: { awsCertsFile?: string; gcpJwks?: string; gcpAudience: string; clock: Clock }): IdentityVerifier {
    const read = (file: string, flag: string): string => {
      try {
        return readFileSync(file, 'utf8');
      } catch (e) {
        throw new IdentityError(`${flag}: cannot read ${file}: ${(e as Error).message}`);
      }
    };
    return new IdentityVerifier({
      awsCertificates: o.awsCertsFile ? read(o.awsCertsFile, '--aws-identity-certs') : undefined,
      gcpJwks: o.gcpJwks === undefined ? undefined : /^https?:\/\//.test(o.gcpJwks) ? { url: o.gcpJwks } : { json: read(o.gcpJwks, '--gcp-identity-jwks') },
      gcpAudience: o.gcpAudience,
      clock: o.clock,
    });
  }

  /** Whether joins of this provider kind must present a proof. */
  verifies(provider: string | undefined): provider is 'aws-ec2' | 'gcp-compute' {
    return (provider === 'aws-ec2' && this.awsKeys !== undefined) || (provider === 'gcp-compute' && this.opts.gcpJwks !== undefined);
  }

  verifiedKinds(): string[] {
    return (['aws-ec2', 'gcp-compute'] as const).filter((k) => this.verifies(k));
  }

  async verify(provider: 'aws-ec2' | 'gcp-compute', proof: IdentityProof | undefined): Promise<VerifiedIdentity> {
    return provider === 'aws-ec2' ? this.verifyAws(proof?.aws) : this.verifyGcp(proof?.gcp);
  }

  private verifyAws(p: IdentityProof['aws']): VerifiedIdentity {
    if (!p) throw new IdentityError('an aws-ec2 instance must present its instance identity document and signature');
    const signature = Buffer.from(p.signature.replace(/\s+/g, ''), 'base64');
    const ok = this.awsKeys!.some((k) => {
      try {
        return verify('sha256', Buffer.from(p.document, 'utf8'), k, signature);
      } catch {
        return false;
      }
    });
    if (!ok) throw new IdentityError('the instance identity document\'s signature does not verify with the configured AWS certificates');
    let doc: z.infer<typeof AwsDocumentSchema>;
    try {
      doc = AwsDocumentSchema.parse(JSON.parse(p.document));
    } catch {
      throw new IdentityError('the instance identity document is not the JSON EC2 signs (instanceId, region, accountId)');
    }
    return { provider: 'aws-ec2', instanceId: doc.instanceId, location: doc.region, account: doc.accountId };
  }

  private async verifyGcp(p: IdentityProof['gcp']): Promise<VerifiedIdentity> {
    if (!p) throw new IdentityError('a gcp-compute instance must present its instance identity token');
    const parts = p.token.split('.');
    if (parts.length !== 3) throw new IdentityError('the instance identity token is not a JWT');
    let header: { alg?: string; kid?: string };
    try {
      header = b64urlJson(parts[0]!) as typeof header;
    } catch {
      throw new IdentityError('the instance identity token\'s header is not JSON');
    }
    if (header.alg !== 'RS256') throw new IdentityError(`the instance identity token is signed with ${header.alg ?? 'nothing'}, not RS256`);
    const keys = await this.googleKeys();
    const candidates = header.kid && keys.has(header.kid) ? [keys.get(header.kid)!] : header.kid ? [] : [...keys.values()];
    if (!candidates.length) throw new IdentityError(`the instance identity token names key '${header.kid}', which the configured JWKS does not have`);
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2]!, 'base64url');
    if (!candidates.some((k) => verify('sha256', signed, k, signature))) throw new IdentityError('the instance identity token\'s signature does not verify with the configured JWKS');
    const claims = GcpClaimsSchema.safeParse((() => { try { return b64urlJson(parts[1]!); } catch { return undefined; } })());
    if (!claims.success) throw new IdentityError('the instance identity token lacks the claims of format=full (iss, aud, exp, google.compute_engine)');
    const c = claims.data;
    const auds = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (!auds.includes(this.opts.gcpAudience)) throw new IdentityError(`the instance identity token is for audience '${auds.join(', ')}', not '${this.opts.gcpAudience}'`);
    if (c.exp * 1000 <= this.opts.clock.now()) throw new IdentityError(`the instance identity token expired at ${new Date(c.exp * 1000).toISOString()}`);
    const ce = c.google.compute_engine;
    return { provider: 'gcp-compute', instanceId: ce.instance_name, location: ce.zone, account: ce.project_id };
  }

  private async googleKeys(): Promise<Map<string, KeyObject>> {
    const src = this.opts.gcpJwks!;
    if (this.gcpKeys && this.gcpKeys.until > this.opts.clock.now()) return this.gcpKeys.keys;
    if (!('url' in src)) return this.gcpKeys!.keys;
    const res = await fetch(src.url, { signal: AbortSignal.timeout(10_000) }).catch((e: Error) => { throw new IdentityError(`cannot fetch the GCP JWKS from ${src.url}: ${e.message}`); });
    if (!res.ok) throw new IdentityError(`the GCP JWKS at ${src.url} answered ${res.status}`);
    this.gcpKeys = { keys: parseJwks(await res.text(), src.url), until: this.opts.clock.now() + 3600_000 };
    return this.gcpKeys.keys;
  }
}
