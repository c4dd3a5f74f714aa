// Cooldown: after a scale event a pool waits (history.cooldownUntil) before scaling up again, so
// instances still booting are counted as capacity instead of being launched twice.
import type { Gate, LaunchGate } from '../../src/autoscaler/plan-types.ts';

export function cooldownReason(pool: string, until: number): string {
  return `pool ${pool} is cooling down until ${new Date(until).toISOString()}`;
}

export const cooldownGate: LaunchGate = (option, ctx): Gate => {
  const until = ctx.history.cooldownUntil[option.pool.name];
  return until !== undefined && until > ctx.now ? { cap: 0, reason: cooldownReason(option.pool.name, until) } : { cap: Infinity };
};
