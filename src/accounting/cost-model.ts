// The cost model (after OpenCost), pure and synchronous. Everything here is a function of its
// arguments: the sampler applies it once per agent and interval, so a sample carries the money it
// stands for, priced as it was when the capacity was used (like a bill), and reports only add up.
//
//   hourly price   rented: the pool's price book — on-demand `price`; spot: the provider's live
//                  spot price (prices()) when known, else the book's `spotPrice`, else `price`.
//                  owned: the machine's or pool's `costPerHour`, else the pool's amortisation:
//                  purchasePrice / (lifeYears × 8766 h) + powerPerHour + spacePerHour.
//   billed seconds the seconds the agent was present, plus — in the interval in which its presence
//                  ends — the top-up to the provider's billing rule: a life of L seconds is billed
//                  max(minimum, ⌈L / granularity⌉ × granularity). Owned machines: per second, no minimum.
//   cost           hourly × billed seconds / 3600.
//   split          the cost of the present seconds is split over the machine's cpus, memory and
//                  GPUs in proportion to cpus × w.cpu + GiB × w.memGiB + gpus × w.gpu (OpenCost's
//                  default prices as weights); each (role, framework) is charged the share of what
//                  it was allocated; the rest — unallocated capacity and billing top-ups — is idle.
import type { Pool } from '../../providers/pool-config.ts';

/** Relative weights per unit used to split a machine's cost over its resources. */
export interface CostSplit {
  /** per core */
  cpu: number;
  /** per GiB of memory */
  memGiB: number;
  /** per GPU */
  gpu: number;
}

/** OpenCost's default prices per core-hour, GiB-hour and GPU-hour, used as weights. */
export const DEFAULT_COST_SPLIT: CostSplit = { cpu: 0.031611, memGiB: 0.004237, gpu: 0.95 };

export interface BillingRule {
  /** Seconds per billing unit: 1 (per second), 60 (per minute) or 3600 (per hour). */
  granularitySeconds: number;
  /** Least a machine is billed for, in seconds. */
  minimumSeconds: number;
}

/** Per provider kind. EC2 and Compute Engine bill Linux VMs per second with a one-minute minimum. */
export const DEFAULT_BILLING: Readonly<Record<string, BillingRule>> = {
  'aws-ec2': { granularitySeconds: 1, minimumSeconds: 60 },
  'gcp-compute': { granularitySeconds: 1, minimumSeconds: 60 },
  local: { granularitySeconds: 1, minimumSeconds: 0 },
  static: { granularitySeconds: 1, minimumSeconds: 0 },
};
export const OWNED_BILLING: BillingRule = { granularitySeconds: 1, minimumSeconds: 0 };

export interface CostModelConfig {
  split: CostSplit;
  /** Billing rules by provider kind; kinds not listed bill per second with no minimum. */
  billing: Readonly<Record<string, BillingRule>>;
  currency: string;
}

export const DEFAULT_COST_MODEL: CostModelConfig = { split: DEFAULT_COST_SPLIT, billing: DEFAULT_BILLING, currency: 'USD' };

export const HOURS_PER_YEAR = 8766; // 365.25 × 24

export interface Amortisation {
  purchasePrice: number;
  lifeYears: number;
  powerPerHour?: number;
  spacePerHour?: number;
}

/** purchasePrice / (lifeYears × 8766) + powerPerHour + spacePerHour. */
export function amortisedHourly(a: Amortisation): number {
  return a.purchasePrice / (a.lifeYears * HOURS_PER_YEAR) + (a.powerPerHour ?? 0) + (a.spacePerHour ?? 0);
}

/** An owned machine's cost per hour: machine override, pool costPerHour, else the amortisation. */
export function ownedHourly(pool: Pick<Pool, 'costPerHour' | 'amortisation'>, machineCostPerHour?: number): number | undefined {
  if (machineCostPerHour !== undefined) return machineCostPerHour;
  if (pool.costPerHour !== undefined) return pool.costPerHour;
  return pool.amortisation ? amortisedHourly(pool.amortisation) : undefined;
}

export function billingRule(config: CostModelConfig, provider: string, ownership: 'owned' | 'rented'): BillingRule {
  if (ownership === 'owned') return OWNED_BILLING;
  return config.billing[provider] ?? OWNED_BILLING;
}

/** Seconds billed for a machine that was present for `lifeSeconds`. */
export function billedLife(lifeSeconds: number, rule: BillingRule): number {
  const g = rule.granularitySeconds;
  // Presence is measured in milliseconds; a life of 1020.0000001 s is 1020 s, not 1021.
  const units = Math.ceil(Math.round(lifeSeconds * 1000) / 1000 / g - 1e-9);
  return Math.max(rule.minimumSeconds, Math.max(0, units) * g);
}

/** The extra seconds billed when a presence of `lifeSeconds` ends (rounding up and minimum). */
export function billingTopUp(lifeSeconds: number, rule: BillingRule): number {
  return Math.max(0, billedLife(lifeSeconds, rule) - lifeSeconds);
}

export interface Amounts {
  cpus: number;
  /** MB */
  mem: number;
  gpus: number;
}

export const NO_AMOUNTS: Amounts = Object.freeze({ cpus: 0, mem: 0, gpus: 0 });

/** The weight of an amount under a split (memory in GiB). */
export function weightOf(a: Amounts, split: CostSplit): number {
  return a.cpus * split.cpu + (a.mem / 1024) * split.memGiB + a.gpus * split.gpu;
}

export interface SliceInput {
  role: string;
  framework: string;
  allocated: Amounts;
}

export interface SliceCost {
  cost: number;
  listCost: number;
  /** Machine-hours this slice stands for (its share of the machine × hours): FOCUS PricingQuantity. */
  hours: number;
}

export interface SampleCost {
  /** hourly × billed / 3600 */
  cost: number;
  listCost: number;
  /** One per input slice, in order. */
  slices: SliceCost[];
  /** Unallocated capacity during the present seconds, plus the billing top-up. */
  idle: SliceCost;
}

/**
 * Splits an interval's cost over the (role, framework) allocations and idle capacity. The slices
 * and idle always add up to the whole cost; an allocation larger than the machine (which the
 * allocator never makes) is scaled down to the machine.
 */
export function splitCost(input: {
  hourly: number; listHourly: number; presentSeconds: number; topUpSeconds: number; total: Amounts; slices: readonly SliceInput[]; split: CostSplit;
}): SampleCost {
  const present = input.hourly * input.presentSeconds / 3600;
  const presentList = input.listHourly * input.presentSeconds / 3600;
  const topUp = input.hourly * input.topUpSeconds / 3600;
  const topUpList = input.listHourly * input.topUpSeconds / 3600;
  const whole = weightOf(input.total, input.split);
  const weights = input.slices.map((s) => weightOf(capped(s.allocated, input.total), input.split));
  const sum = weights.reduce((a, b) => a + b, 0);
  const scale = whole > 0 ? (sum > whole ? 1 / sum : 1 / whole) : 0;
  const presentHours = input.presentSeconds / 3600;
  const slices = weights.map((w) => ({ cost: present * w * scale, listCost: presentList * w * scale, hours: presentHours * w * scale }));
  const allocated = slices.reduce((a, s) => a + s.cost, 0);
  const allocatedList = slices.reduce((a, s) => a + s.listCost, 0);
  const allocatedHours = slices.reduce((a, s) => a + s.hours, 0);
  return {
    cost: present + topUp,
    listCost: presentList + topUpList,
    slices,
    idle: { cost: present - allocated + topUp, listCost: presentList - allocatedList + topUpList, hours: presentHours - allocatedHours + input.topUpSeconds / 3600 },
  };
}

const capped = (a: Amounts, total: Amounts): Amounts => ({
  cpus: Math.min(a.cpus, total.cpus), mem: Math.min(a.mem, total.mem), gpus: Math.min(a.gpus, total.gpus),
});
