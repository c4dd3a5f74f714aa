// Cheapest expander (Cluster Autoscaler's `price`, simplified): keep the options with the lowest
// hourly price per pending unit served — the new instances' hourly cost (spot price for spot
// pools, live prices when the provider reports them) over the units they would hold.
import type { Expander, ExpansionOption } from '../../src/autoscaler/plan-types.ts';
import { keepBest } from './expander-chain.ts';
import { money } from './budget.ts';

export const pricePerUnit = (o: ExpansionOption): number => (o.units > 0 ? o.hourlyCost / o.units : Infinity);

export const cheapestExpander: Expander = {
  name: 'cheapest',
  best: (options: readonly ExpansionOption[]) => keepBest(options, pricePerUnit),
  describe: (o) => `${money(pricePerUnit(o))}/unit/h`,
};
