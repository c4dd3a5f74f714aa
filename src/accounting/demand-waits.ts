// How long demand waited for capacity: when launches satisfy units of a framework's REQUEST
// demand (Master.satisfyDemand), each satisfied unit waited from when it was first asked for
// (`since`) until then. Pure diff here; the sampler's store records the samples.
import type { DemandUnit } from '../master/demand.ts';
import type { WaitSample } from './summary.ts';

export type UnitWait = WaitSample & { unit: string };

/** The units that went from `before` to `after` (counts that dropped or units that left). */
export function satisfiedUnits(before: readonly DemandUnit[], after: readonly DemandUnit[], at: number): UnitWait[] {
  const left = new Map(after.map((u) => [u.id, u.count]));
  const out: UnitWait[] = [];
  for (const u of before) {
    const n = u.count - (left.get(u.id) ?? 0);
    if (n > 0) out.push({ frameworkId: u.frameworkId, role: u.role, unit: u.id, since: u.since, at, units: n });
  }
  return out;
}
