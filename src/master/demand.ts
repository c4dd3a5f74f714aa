// Demand that frameworks express with REQUEST: resource shapes × counts (with attribute
// constraints), tracked per framework until it is satisfied (tasks launched that cover it),
// replaced (a new REQUEST states the whole current need; an empty one withdraws it) or the
// framework leaves. The autoscaler reads it; the allocator ignores it, as in Mesos.
import { badRequest } from '../common/errors.ts';
import { fromMesos, type MesosResource } from '../resources/mesos-resources.ts';
import { contains, isEmpty, type Resources } from '../resources/resources.ts';
import { flatten, type ResourceSet } from '../resources/resource-set.ts';

export interface DemandUnit {
  /** Stable within the framework's current request. */
  id: string;
  frameworkId: string;
  role: string;
  shape: Resources;
  count: number;
  constraints: { attribute: string; value: string }[];
  /** When the framework first asked for it (ms). */
  since: number;
}

export interface RequestEntry {
  resources: MesosResource[];
  count?: number;
  constraints?: { attribute: string; value: string }[];
}

/** Parses a REQUEST into demand units; bad shapes are a 400 naming the entry. */
export function parseRequest(frameworkId: string, role: string, entries: RequestEntry[], now: number, previous: DemandUnit[]): DemandUnit[] {
  return entries.map((e, i) => {
    const parsed = fromMesos(e.resources);
    if (!parsed.ok) throw badRequest(`request.requests[${i}].resources: ${parsed.error}`);
    if (isEmpty(parsed.value)) throw badRequest(`request.requests[${i}].resources: a request needs at least one resource`);
    const id = `${frameworkId}#${i}`;
    const same = previous.find((p) => p.id === id && sameShape(p.shape, parsed.value));
    return {
      id, frameworkId, role, shape: parsed.value, count: e.count ?? 1,
      constraints: e.constraints?.map(({ attribute, value }) => ({ attribute, value })) ?? [],
      since: same?.since ?? now,
    };
  });
}

/** A launched task satisfies one unit of the first demand whose shape it covers. */
export function satisfy(units: DemandUnit[], launched: ResourceSet): DemandUnit[] {
  const r = flatten(launched);
  const i = units.findIndex((u) => u.count > 0 && contains(r, u.shape));
  if (i < 0) return units;
  const next = [...units];
  next[i] = { ...next[i], count: next[i].count - 1 };
  return next.filter((u) => u.count > 0);
}

const sameShape = (a: Resources, b: Resources): boolean => contains(a, b) && contains(b, a);
