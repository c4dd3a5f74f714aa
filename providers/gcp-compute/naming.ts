// Deterministic names, request ids and labels for GCE. Everything here is a pure function of the
// launch token and index, so a retried or repeated launch (after a crash, a lost reply …) produces
// byte-identical insert requests that GCE deduplicates by requestId and by instance name.
import { createHash } from 'node:crypto';
import { MANAGED_BY, TAGS } from '../context.ts';

/** GCE resource names: RFC 1035 labels, ≤ 63 characters. */
export const GCE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** GCE label values: ≤ 63 of lowercase letters, digits, `_` and `-` (we stay within ASCII). */
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

/** Fixed namespace for Spillway's UUIDv5 request ids (random, chosen once). */
const REQUEST_ID_NAMESPACE = '6f1d3c2a-8b7e-4f55-9a0d-2c4e7b19d8a3';

/** RFC 4122 version-5 UUID (SHA-1 of namespace + name). Never the nil UUID, which GCE rejects. */
export function uuidV5(name: string, namespace = REQUEST_ID_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The insert requestId for instance `index` of a launch: same token + index → same id. */
export function insertRequestId(token: string, index: number): string {
  return uuidV5(`gce-insert:${token}:${index}`);
}

function shortHash(s: string, chars = 10): string {
  return createHash('sha256').update(s, 'utf8').digest('hex').slice(0, chars);
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/**
 * Instance name for instance `index` of a launch: `spillway-<token slug>-<hash>-<index>`, where the
 * hash is of the whole token (the slug is lossy and truncated). ≤ 63 chars, matches GCE_NAME.
 */
export function instanceName(token: string, index: number): string {
  const tail = `-${shortHash(token)}-${index}`;
  const head = 'spillway';
  const room = 63 - head.length - tail.length - 1;
  const s = slug(token).slice(0, Math.max(0, room)).replace(/-+$/, '');
  return s ? `${head}-${s}${tail}` : `${head}${tail}`;
}

/**
 * A label value from any string: kept as is when already valid; otherwise lower-cased, invalid
 * characters replaced by `_`, truncated, and suffixed with a hash of the original so that two
 * different inputs (`Prod` and `prod`) never share a value.
 */
export function labelValue(s: string): string {
  if (LABEL_VALUE.test(s)) return s;
  const cleaned = s.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 52);
  return `${cleaned}-${shortHash(s)}`;
}

export function instanceLabels(cluster: string, pool: string, token: string): Record<string, string> {
  return {
    [TAGS.cluster]: labelValue(cluster),
    [TAGS.pool]: labelValue(pool),
    [TAGS.managedBy]: MANAGED_BY,
    [TAGS.token]: labelValue(token),
  };
}

/** The instances.list filter for one cluster's pool (GCE filter syntax, AND of parenthesised terms). */
export function listFilter(cluster: string, pool: string): string {
  const term = (key: string, value: string) => `(labels.${key} = "${value.replace(/["\\]/g, '\\$&')}")`;
  return `${term(TAGS.cluster, labelValue(cluster))} AND ${term(TAGS.pool, labelValue(pool))}`;
}

/** Last path segment of a GCE resource URL or partial path (`…/zones/us-east1-b` → `us-east1-b`). */
export function urlTail(url: string | null | undefined): string {
  if (!url) return '';
  const parts = url.split('/');
  return parts[parts.length - 1] ?? '';
}
