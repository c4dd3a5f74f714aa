// Least-waste expander (Cluster Autoscaler's `least-waste`): keep the options whose new instances
// would have the least capacity left idle after packing the pending units they can hold — the
// unused fraction of cpus plus the unused fraction of mem.
import type { Expander, ExpansionOption } from '../../src/autoscaler/plan-types.ts';
import { keepBest } from './expander-chain.ts';

export function waste(o: ExpansionOption): number {
  const cpu = o.capacity.cpus > 0 ? (o.capacity.cpus - o.used.cpus) / o.capacity.cpus : 0;
  const mem = o.capacity.mem > 0 ? (o.capacity.mem - o.used.mem) / o.capacity.mem : 0;
  return Math.max(0, cpu) + Math.max(0, mem);
}

export const leastWasteExpander: Expander = {
  name: 'least-waste',
  best: (options: readonly ExpansionOption[]) => keepBest(options, waste),
  describe: (o) => `waste ${round(waste(o))}`,
};

const round = (x: number): number => Math.round(x * 1000) / 1000;
