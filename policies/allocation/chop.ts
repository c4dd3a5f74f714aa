// Shrinks part of a set so its scalars fit a per-name allowance shared by the matching buckets.
// Quota only ever bounds scalars; ports and buckets the predicate skips pass through.
import { setOf, UNRESERVED_KEY, type Bucket, type ResourceSet } from '../../src/resources/resource-set.ts';

const isUnreserved = (b: Bucket): boolean => b.key === UNRESERVED_KEY;

export function chopUnreserved(s: ResourceSet, allowance: Readonly<Record<string, number>>): ResourceSet {
  return chop(s, allowance, isUnreserved);
}

export function chop(s: ResourceSet, allowance: Readonly<Record<string, number>>, applies: (b: Bucket) => boolean): ResourceSet {
  const left: Record<string, number> = { ...allowance };
  let out: Bucket[] | undefined;
  for (let i = 0; i < s.length; i++) {
    const b = s[i];
    if (!applies(b)) continue;
    let scalars: Record<string, number> | undefined;
    for (const name in b.resources.scalars) {
      const room = left[name];
      if (room === undefined) continue;
      const have = b.resources.scalars[name];
      const take = Math.max(0, Math.min(have, room));
      left[name] = room - take;
      if (take === have) continue;
      scalars ??= { ...b.resources.scalars };
      const r = Math.round(take * 1000) / 1000;
      if (r === 0) delete scalars[name];
      else scalars[name] = r;
    }
    if (!scalars) continue;
    out ??= s.slice();
    // Same bucket key: reservation and revocability are unchanged; ports pass through as they are.
    out[i] = { ...b, resources: { scalars, ports: b.resources.ports } };
  }
  return out ? setOf(out) : s;
}
