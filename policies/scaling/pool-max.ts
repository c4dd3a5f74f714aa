// Pool max: running + pending + planned ≤ max, over all instance types (or machines) of the pool.
import type { Gate, LaunchGate, PoolState } from '../../src/autoscaler/plan-types.ts';

export function poolRoom(max: number, state: PoolState, planned: number): number {
  return Math.max(0, max - state.running - state.pending - planned);
}

export function poolMaxReason(pool: string, max: number, state: PoolState, planned: number): string {
  const parts = [`${state.running} running`, `${state.pending} pending`];
  if (planned > 0) parts.push(`${planned} planned`);
  return `pool ${pool} is at its max of ${max} (${parts.join(', ')})`;
}

export const poolMaxGate: LaunchGate = (option, ctx): Gate => {
  const room = poolRoom(option.pool.max, ctx.state, ctx.plannedInPool);
  return room > 0 ? { cap: room } : { cap: 0, reason: poolMaxReason(option.pool.name, option.pool.max, ctx.state, ctx.plannedInPool) };
};
