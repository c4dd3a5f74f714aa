// Shrinks the unreserved, non-revocable part of a set so its scalars fit a per-name allowance.
// Quota only ever bounds scalars; ports and reserved or revocable resources pass through.
import { bucket, setOf, UNRESERVED_KEY, type ResourceSet } from '../../src/resources/resource-set.ts';
import { resources } from '../../src/resources/resources.ts';

export function chopUnreserved(s: ResourceSet, allowance: Readonly<Record<string, number>>): ResourceSet {
  const u = s.find((b) => b.key === UNRESERVED_KEY);
  if (!u) return s;
  let changed = false;
  const scalars: Record<string, number> = { ...u.resources.scalars };
  for (const [name, cap] of Object.entries(allowance)) {
    const have = scalars[name];
    if (have !== undefined && have > cap) {
      scalars[name] = Math.max(0, cap);
      changed = true;
    }
  }
  if (!changed) return s;
  return setOf([...s.filter((b) => b !== u), bucket(resources(scalars, [...u.resources.ports]))]);
}
