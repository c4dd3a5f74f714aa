// The expander chain: each expander keeps its best set of the rented options, ties go to the next
// one; what is still tied at the end is broken by pool name then instance type name, so the same
// input always picks the same option.
import type { Expander, ExpanderName, ExpansionOption } from '../../src/autoscaler/plan-types.ts';

/** Scores within this relative distance of the best count as a tie. */
const TIE = 1e-9;

/** The options whose score (lower is better) ties the lowest. Order is kept. */
export function keepBest(options: readonly ExpansionOption[], score: (o: ExpansionOption) => number): ExpansionOption[] {
  let best = Infinity;
  const scores = options.map((o) => {
    const s = score(o);
    if (s < best) best = s;
    return s;
  });
  const slack = Number.isFinite(best) ? TIE * Math.max(1, Math.abs(best)) : 0;
  return options.filter((_, i) => scores[i] <= best + slack || scores[i] === best);
}

export interface ChainResult {
  readonly chosen: ExpansionOption;
  /** `priority 10 → waste 0.125`: what decided, for the step's reason. */
  readonly decidedBy: string;
}

export function runChain(expanders: readonly Expander[], options: readonly ExpansionOption[]): ChainResult | undefined {
  if (options.length === 0) return undefined;
  let left = [...options];
  const steps: Expander[] = [];
  for (const e of expanders) {
    if (left.length === 1) break;
    left = e.best(left);
    steps.push(e);
  }
  left.sort(byName);
  const chosen = left[0];
  const parts = steps.map((e) => e.describe(chosen));
  if (left.length > 1) parts.push('name');
  return { chosen, decidedBy: parts.length ? parts.join(' → ') : 'only option' };
}

const byName = (a: ExpansionOption, b: ExpansionOption): number =>
  cmp(a.option.pool.name, b.option.pool.name) || cmp(a.option.name, b.option.name);
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function expandersByName(names: readonly ExpanderName[], registry: Readonly<Record<ExpanderName, Expander>>): Expander[] {
  return names.map((n) => {
    const e = registry[n];
    if (!e) throw new Error(`unknown expander '${n}' (known: ${Object.keys(registry).join(', ')})`);
    return e;
  });
}
