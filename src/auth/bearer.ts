// The two secrets agents carry, as `Authorization: Bearer` values:
//   join token        spwj.<token id>.<secret>   short-lived, single use, minted per launch
//   agent credential  spwa.<agent id>.<secret>   issued at a token join, bound to that agent id
// Only sha256 digests of the secrets are stored; secrets are 32 random bytes (or an HMAC of the
// same size), so a plain digest is as good as a slow hash and costs nothing per call.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type Bearer =
  | { kind: 'join-token'; tokenId: string; secret: string }
  | { kind: 'credential'; agentId: string; secret: string }
  | { kind: 'other' };

const JOIN = 'spwj';
const CREDENTIAL = 'spwa';
const PART = /^[A-Za-z0-9_-]+$/;

export const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A fresh 256-bit secret, base64url. */
export const newSecret = (): string => randomBytes(32).toString('base64url');

export const joinTokenString = (tokenId: string, secret: string): string => `${JOIN}.${tokenId}.${secret}`;
export const credentialString = (agentId: string, secret: string): string => `${CREDENTIAL}.${agentId}.${secret}`;

/** Parses a bare token string (a join token file's content, say). */
export function parseSecret(value: string): Bearer {
  const parts = value.trim().split('.');
  if (parts.length !== 3 || !parts.every((p) => PART.test(p))) return { kind: 'other' };
  const [kind, id, secret] = parts as [string, string, string];
  if (kind === JOIN) return { kind: 'join-token', tokenId: id, secret };
  if (kind === CREDENTIAL) return { kind: 'credential', agentId: id, secret };
  return { kind: 'other' };
}

/** The bearer of an Authorization header; undefined when there is none. */
export function parseAuthorization(header: string | undefined): Bearer | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? parseSecret(m[1]!) : { kind: 'other' };
}

/** True when `secret` hashes to `digestHex` (constant time). */
export function secretMatches(secret: string, digestHex: string | undefined): boolean {
  if (!digestHex) return false;
  const a = Buffer.from(sha256hex(secret), 'hex');
  const b = Buffer.from(digestHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
