// Backoff: a pool, or one instance type (static: one machine) of it, that failed to launch
// (insufficient capacity, quota, a machine that never registered) is not tried again until its
// `until`. Checked first of the gates: it is the provider telling us "not now", whatever else holds.
import type { BackoffEntry, Gate, LaunchGate, LaunchOption } from '../../src/autoscaler/plan-types.ts';

/** The active entry that covers the option (the one ending last), if any. */
export function activeBackoff(entries: readonly BackoffEntry[], option: LaunchOption, now: number): BackoffEntry | undefined {
  let found: BackoffEntry | undefined;
  for (const e of entries) {
    if (e.pool !== option.pool.name || e.until <= now) continue;
    if (e.instanceType !== undefined && e.instanceType !== option.name) continue;
    if (!found || e.until > found.until) found = e;
  }
  return found;
}

export function backoffReason(e: BackoffEntry): string {
  const what = e.instanceType === undefined ? `pool ${e.pool}` : `pool ${e.pool} type ${e.instanceType}`;
  return `${what} is backing off until ${new Date(e.until).toISOString()}: ${e.reason}`;
}

export const backoffGate: LaunchGate = (option, ctx): Gate => {
  const e = activeBackoff(ctx.history.backoff, option, ctx.now);
  return e ? { cap: 0, reason: backoffReason(e) } : { cap: Infinity };
};
