// Money budget for rented capacity: currentRentedSpendPerHour + planned ≤ budgetPerHour. Owned
// machines are already paid for and are not counted. Once the next instance of a type would cross
// the budget, no more of that type is added (a cheaper type may still fit).
import type { Gate, LaunchGate } from '../../src/autoscaler/plan-types.ts';

/** Cent-level dust from summing prices must not refuse an instance that fits exactly. */
const EPS = 1e-9;

/** Instances at `price` that still fit under the budget. */
export function affordable(budgetPerHour: number, spentPerHour: number, price: number): number {
  if (price <= 0) return Infinity;
  return Math.max(0, Math.floor((budgetPerHour - spentPerHour + EPS) / price));
}

/** `$5.00`, `$0.0416`: two decimals, more only when the price needs them. */
export function money(x: number): string {
  const two = x.toFixed(2);
  if (Math.abs(Number(two) - x) < 1e-9) return `$${two}`;
  return `$${Number(x.toFixed(4))}`;
}

export function budgetReason(budgetPerHour: number, spentPerHour: number, type: string, price: number): string {
  return `budget of ${money(budgetPerHour)}/h reached (planned ${money(spentPerHour)}/h + ${type} ${money(price)}/h)`;
}

export const budgetGate: LaunchGate = (option, ctx): Gate => {
  if (option.ownership !== 'rented') return { cap: Infinity };
  const spent = ctx.history.currentRentedSpendPerHour + ctx.plannedRentedPerHour;
  const n = affordable(ctx.policy.budgetPerHour, spent, option.price);
  return n > 0 ? { cap: n } : { cap: 0, reason: budgetReason(ctx.policy.budgetPerHour, spent, option.name, option.price) };
};
