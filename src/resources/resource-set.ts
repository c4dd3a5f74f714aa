// Resources split by how they may be used: unreserved, reserved for a role (statically by the
// agent's flag or dynamically by RESERVE), and revocable (oversubscribed slack). A ResourceSet is
// a small sorted array of buckets — plain JSON, so records persist it as is — and every function
// here returns a new set.
import { add, contains, format, isEmpty, subtract, EMPTY, type Resources } from './resources.ts';

export interface ReservationInfo {
  readonly type: 'STATIC' | 'DYNAMIC';
  readonly role: string;
  readonly principal?: string;
  readonly labels?: { readonly labels: readonly { readonly key: string; readonly value?: string }[] };
}

export interface Bucket {
  /** Identity of the bucket: same key, same kind of resources (cached for the hot paths). */
  readonly key: string;
  readonly reservation?: ReservationInfo;
  readonly revocable?: true;
  readonly resources: Resources;
}

export type ResourceSet = readonly Bucket[];

export const NO_RESOURCES: ResourceSet = Object.freeze([]) as ResourceSet;
export const UNRESERVED_KEY = '*';

export function bucketKey(reservation?: ReservationInfo, revocable?: boolean): string {
  const base = reservation
    ? `${reservation.type}:${reservation.role}:${reservation.principal ?? ''}:${reservation.labels ? JSON.stringify(reservation.labels.labels) : ''}`
    : UNRESERVED_KEY;
  return revocable ? `R|${base}` : base;
}

export function bucket(resources: Resources, reservation?: ReservationInfo, revocable?: boolean): Bucket {
  return { key: bucketKey(reservation, revocable), ...(reservation ? { reservation } : {}), ...(revocable ? { revocable: true as const } : {}), resources };
}

/** A set holding plain unreserved resources. */
export function unreservedSet(r: Resources): ResourceSet {
  return isEmpty(r) ? NO_RESOURCES : [bucket(r)];
}

export function setOf(buckets: readonly Bucket[]): ResourceSet {
  const merged = new Map<string, Bucket>();
  for (const b of buckets) {
    const prev = merged.get(b.key);
    merged.set(b.key, prev ? { ...prev, resources: add(prev.resources, b.resources) } : b);
  }
  return [...merged.values()].filter((b) => !isEmpty(b.resources)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function addSets(a: ResourceSet, b: ResourceSet): ResourceSet {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  return setOf([...a, ...b]);
}

/** a − b, bucket by bucket (clamped at zero). */
export function subtractSets(a: ResourceSet, b: ResourceSet): ResourceSet {
  if (b.length === 0) return a;
  const out: Bucket[] = [];
  for (const x of a) {
    const y = b.find((k) => k.key === x.key);
    const r = y ? subtract(x.resources, y.resources) : x.resources;
    if (!isEmpty(r)) out.push(r === x.resources ? x : { ...x, resources: r });
  }
  return out;
}

export function containsSet(a: ResourceSet, b: ResourceSet): boolean {
  for (const y of b) {
    const x = a.find((k) => k.key === y.key);
    if (!x || !contains(x.resources, y.resources)) return false;
  }
  return true;
}

export function isEmptySet(s: ResourceSet): boolean {
  return s.length === 0;
}

/** All buckets summed: the quantities, whatever their reservation. */
export function flatten(s: ResourceSet): Resources {
  if (s.length === 1) return s[0].resources;
  let r = EMPTY;
  for (const b of s) r = add(r, b.resources);
  return r;
}

export function filterSet(s: ResourceSet, keep: (b: Bucket) => boolean): ResourceSet {
  const out = s.filter(keep);
  return out.length === s.length ? s : out;
}

/** True when `role` may use resources reserved for `reservedRole`: the same role or a descendant. */
export function roleMayUse(role: string, reservedRole: string): boolean {
  return role === reservedRole || role.startsWith(`${reservedRole}/`);
}

/** The part of `s` that a framework in `role` may be offered. */
export function usableBy(s: ResourceSet, role: string, revocableAllowed: boolean): ResourceSet {
  return filterSet(s, (b) => (!b.revocable || revocableAllowed) && (!b.reservation || roleMayUse(role, b.reservation.role)));
}

export function nonRevocable(s: ResourceSet): ResourceSet {
  return filterSet(s, (b) => !b.revocable);
}

export function revocablePart(s: ResourceSet): Resources {
  let r = EMPTY;
  for (const b of s) if (b.revocable) r = add(r, b.resources);
  return r;
}

export function unreservedPart(s: ResourceSet): Resources {
  return s.find((b) => b.key === UNRESERVED_KEY)?.resources ?? EMPTY;
}

/** Reserved quantities by role (non-revocable). */
export function reservedByRole(s: ResourceSet): Map<string, Resources> {
  const out = new Map<string, Resources>();
  for (const b of s) {
    if (!b.reservation || b.revocable) continue;
    out.set(b.reservation.role, add(out.get(b.reservation.role) ?? EMPTY, b.resources));
  }
  return out;
}

/** `cpus:1;mem:64` for unreserved, `cpus(ads):2` for reserved, `{revocable}` marked: for messages. */
export function formatSet(s: ResourceSet): string {
  if (s.length === 0) return '(none)';
  return s.map((b) => {
    const f = format(b.resources);
    const tagged = b.reservation ? f.replace(/(^|;)([a-z_]+):/g, `$1$2(${b.reservation.role}):`) : f;
    return b.revocable ? `${tagged}{revocable}` : tagged;
  }).join(';');
}
