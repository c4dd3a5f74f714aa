// Launch rate: launchesInLastMinute + planned ≤ maxLaunchesPerMinute, counting every instance
// launched and machine powered on, owned or rented — it protects provider APIs and the master
// from a stampede of registrations.
import type { Gate, LaunchGate } from '../../src/autoscaler/plan-types.ts';

export function launchesLeft(maxPerMinute: number, inLastMinute: number, planned: number): number {
  return Math.max(0, Math.floor(maxPerMinute - inLastMinute - planned));
}

export function launchRateReason(maxPerMinute: number, inLastMinute: number, planned: number): string {
  return `launch rate ${maxPerMinute}/min reached (${inLastMinute} in the last minute, ${planned} planned)`;
}

export const launchRateGate: LaunchGate = (_option, ctx): Gate => {
  const { maxLaunchesPerMinute: max } = ctx.policy;
  const left = launchesLeft(max, ctx.history.launchesInLastMinute, ctx.plannedLaunches);
  return left > 0 ? { cap: left } : { cap: 0, reason: launchRateReason(max, ctx.history.launchesInLastMinute, ctx.plannedLaunches) };
};
