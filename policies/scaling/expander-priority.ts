// Priority expander: keep the options of the pools with the highest `priority` (ops' stated
// preference, e.g. reserved-instance pools or spot before on-demand). As in Cluster Autoscaler's
// priority expander, ties go to the next expander.
import type { Expander, ExpansionOption } from '../../src/autoscaler/plan-types.ts';
import { keepBest } from './expander-chain.ts';

export const priorityExpander: Expander = {
  name: 'priority',
  best: (options: readonly ExpansionOption[]) => keepBest(options, (o) => -o.option.pool.priority),
  describe: (o) => `priority ${o.option.pool.priority}`,
};
