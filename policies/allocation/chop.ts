// Shrinks part of a set so its scalars fit a per-name allowance shared by the matching buckets.
// Quota only ever bounds scalars; ports and buckets the predicate skips pass through.
import { bucket, setOf, UNRESERVED_KEY, type Bucket, type ResourceSet } from '../../src/resources/resource-set.ts';
import { resources } from '../../src/resources/resources.ts';

const isUnreserved = (b: Bucket): boolean => b.key === UNRESERVED_KEY;

export function chopUnreserved(s: ResourceSet, allowance: Readonly<Record<string, number>>): ResourceSet {
  return chop(s, allowance, isUnreserved);
}

export function chop(s: ResourceSet, allowance: Readonly<Record<string, number>>, applies: (b: Bucket) => boolean): ResourceSet {
  const left: Record<string, number> = { ...allowance };
  let changed = false;
  const out: Bucket[] = [];
  for (const b of s) {
    if (!applies(b)) { out.push(b); continue; }
    const scalars: Record<string, number> = { ...b.resources.scalars };
    for (const name of Object.keys(scalars)) {
      const room = left[name];
      if (room === undefined) continue;
      const take = Math.max(0, Math.min(scalars[name], room));
      if (take !== scalars[name]) changed = true;
      scalars[name] = take;
      left[name] = room - take;
    }
    out.push(bucket(resources(scalars, [...b.resources.ports]), b.reservation, b.revocable));
  }
  return changed ? setOf(out) : s;
}
