// Weighted dominant-resource-fairness sorter (Ghodsi et al., as in Mesos' DRFSorter). A client's
// share is its largest fraction of any cluster resource, divided by its weight. The order is kept
// incrementally: a change to one client repositions only that client, so an allocation round over
// thousands of agents never re-sorts the whole list.
import type { Resources } from '../resources/resources.ts';
import { add, subtract, EMPTY } from '../resources/resources.ts';

interface Client {
  readonly name: string;
  /** Whatever the owner attaches (the allocator: its client record), returned by sorted(). */
  readonly payload: unknown;
  weight: number;
  allocation: Resources;
  share: number;
}

export class DrfSorter {
  private readonly clients = new Map<string, Client>();
  private order: Client[] = [];
  private total: Record<string, number> = {};

  /** Resource names left out of share computation (e.g. `gpus`, so GPU hosts are not hoarded). */
  constructor(private readonly excluded: ReadonlySet<string> = new Set()) {}

  setTotal(total: Resources): void {
    this.total = { ...total.scalars };
    for (const c of this.clients.values()) c.share = this.shareOf(c);
    this.order.sort(compare);
  }

  has(name: string): boolean {
    return this.clients.has(name);
  }

  add(name: string, weight = 1, payload?: unknown): void {
    if (this.clients.has(name)) return;
    const c: Client = { name, payload, weight, allocation: EMPTY, share: 0 };
    this.clients.set(name, c);
    this.insert(c);
  }

  remove(name: string): void {
    const c = this.clients.get(name);
    if (!c) return;
    this.clients.delete(name);
    this.order.splice(this.indexOf(c), 1);
  }

  setWeight(name: string, weight: number): void {
    this.update(name, (c) => { c.weight = weight; });
  }

  allocated(name: string, r: Resources): void {
    this.update(name, (c) => { c.allocation = add(c.allocation, r); });
  }

  unallocated(name: string, r: Resources): void {
    this.update(name, (c) => { c.allocation = subtract(c.allocation, r); });
  }

  allocation(name: string): Resources {
    return this.clients.get(name)?.allocation ?? EMPTY;
  }

  share(name: string): number {
    return this.clients.get(name)?.share ?? 0;
  }

  /** Clients from lowest to highest weighted dominant share. Do not mutate. */
  sorted(): readonly { readonly name: string; readonly payload: unknown }[] {
    return this.order;
  }

  private update(name: string, change: (c: Client) => void): void {
    const c = this.clients.get(name);
    if (!c) return;
    this.order.splice(this.indexOf(c), 1);
    change(c);
    c.share = this.shareOf(c);
    this.insert(c);
  }

  private shareOf(c: Client): number {
    let dominant = 0;
    for (const [k, v] of Object.entries(c.allocation.scalars)) {
      if (this.excluded.has(k)) continue;
      const t = this.total[k];
      if (t && t > 0) dominant = Math.max(dominant, v / t);
    }
    return dominant / c.weight;
  }

  private insert(c: Client): void {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.order[mid], c) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, c);
  }

  private indexOf(c: Client): number {
    // Binary search to the first client not ordered before c, then step over equal keys.
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.order[mid], c) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.order.length; i++) if (this.order[i] === c) return i;
    return this.order.indexOf(c);
  }
}

function compare(a: Client, b: Client): number {
  if (a.share !== b.share) return a.share - b.share;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
