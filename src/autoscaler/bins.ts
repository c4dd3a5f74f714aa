// Open machines for the planner's first-fit packing. Two pieces:
//
//   FitTree  a max-segment tree over slots in opening order; each node keeps the largest free cpus,
//            mem, disk and gpus below it, so "the first slot at or after `from` whose free
//            capacity covers `need`" skips every subtree that cannot hold it — first fit in about
//            O(log n) instead of a scan over all machines (10 000 agents, thousands of new ones).
//   Bins     new machines grouped into classes of identical state (same launch option, same free
//            vector) with a count, one slot each: 25 000 fresh 4-cpu instances are one class.
//
// Both are plain data structures: no I/O, no clock; the planner owns all policy.
import type { Constraint, LaunchOption, Vec } from './plan-types.ts';
import { minus, satisfies, unitsThatFit } from '../../policies/scaling/fits.ts';

/** The same float slack as fits.ts: free + EPS ≥ need counts as fitting. */
const EPS = 1e-9;
const DEAD = -Infinity;

export class FitTree {
  /** Leaf capacity (a power of two); leaves live at [size, 2·size). */
  private size = 0;
  /** Slots in use. */
  n = 0;
  private c = new Float64Array(0);
  private m = new Float64Array(0);
  private d = new Float64Array(0);
  private g = new Float64Array(0);

  constructor(initial = 64) {
    this.alloc(Math.max(1, initial));
  }

  /** A tree over `vecs` in order (slot i = vecs[i]), built bottom-up in O(n). */
  static of(vecs: readonly Vec[]): FitTree {
    const t = new FitTree(vecs.length);
    for (let i = 0; i < vecs.length; i++) t.write(t.size + i, vecs[i]);
    t.n = vecs.length;
    for (let i = t.size - 1; i >= 1; i--) t.pull(i);
    return t;
  }

  /** Forgets every slot (keeps the memory). */
  reset(): void {
    if (this.n === 0) return;
    this.c.fill(DEAD);
    this.m.fill(DEAD);
    this.d.fill(DEAD);
    this.g.fill(DEAD);
    this.n = 0;
  }

  /** Appends a slot; returns its index. */
  push(free: Vec): number {
    if (this.n === this.size) this.grow();
    const slot = this.n++;
    this.set(slot, free);
    return slot;
  }

  set(slot: number, free: Vec): void {
    let i = this.size + slot;
    this.write(i, free);
    while (i > 1) {
      i >>= 1;
      this.pull(i);
    }
  }

  /** The slot can take nothing any more. */
  kill(slot: number): void {
    this.set(slot, { cpus: DEAD, mem: DEAD, disk: DEAD, gpus: DEAD });
  }

  /**
   * The first slot ≥ `from` whose free capacity covers `need` in every dimension and that `accept`
   * accepts (constraints); -1 if none.
   */
  first(need: Vec, from: number, accept?: (slot: number) => boolean): number {
    if (from >= this.n) return -1;
    return this.find(1, 0, this.size, from, need.cpus - EPS, need.mem - EPS, need.disk - EPS, need.gpus - EPS, accept);
  }

  private find(node: number, lo: number, hi: number, from: number, c: number, m: number, d: number, g: number,
    accept: ((slot: number) => boolean) | undefined): number {
    if (hi <= from || this.c[node] < c || this.m[node] < m || this.d[node] < d || this.g[node] < g) return -1;
    if (hi - lo === 1) return !accept || accept(lo) ? lo : -1;
    const mid = (lo + hi) >> 1;
    const left = this.find(2 * node, lo, mid, from, c, m, d, g, accept);
    return left >= 0 ? left : this.find(2 * node + 1, mid, hi, from, c, m, d, g, accept);
  }

  private write(i: number, v: Vec): void {
    this.c[i] = v.cpus;
    this.m[i] = v.mem;
    this.d[i] = v.disk;
    this.g[i] = v.gpus;
  }

  private pull(i: number): void {
    const l = 2 * i;
    const r = l + 1;
    this.c[i] = Math.max(this.c[l], this.c[r]);
    this.m[i] = Math.max(this.m[l], this.m[r]);
    this.d[i] = Math.max(this.d[l], this.d[r]);
    this.g[i] = Math.max(this.g[l], this.g[r]);
  }

  private alloc(leaves: number): void {
    let size = 1;
    while (size < leaves) size *= 2;
    this.size = size;
    this.c = new Float64Array(2 * size).fill(DEAD);
    this.m = new Float64Array(2 * size).fill(DEAD);
    this.d = new Float64Array(2 * size).fill(DEAD);
    this.g = new Float64Array(2 * size).fill(DEAD);
  }

  private grow(): void {
    const { c, m, d, g, size, n } = this;
    this.alloc(size * 2);
    this.c.set(c.subarray(size, size + n), this.size);
    this.m.set(m.subarray(size, size + n), this.size);
    this.d.set(d.subarray(size, size + n), this.size);
    this.g.set(g.subarray(size, size + n), this.size);
    for (let i = this.size - 1; i >= 1; i--) this.pull(i);
  }
}

interface BinClass {
  readonly opt: LaunchOption;
  free: Vec;
  count: number;
  readonly slot: number;
}

/** New (simulated) machines in classes of identical state; first fit in opening order. */
export class Bins {
  private classes: BinClass[] = [];
  private byKey = new Map<number, BinClass[]>();
  private tree = new FitTree();
  private alive = 0;

  /** Open classes (with at least one machine). */
  get size(): number {
    return this.alive;
  }

  reset(): void {
    this.classes = [];
    this.byKey.clear();
    this.tree.reset();
    this.alive = 0;
  }

  /** Adds `count` machines of `opt` with `free` left, merging into a class in the same state. */
  add(opt: LaunchOption, free: Vec, count: number): void {
    if (count <= 0) return;
    const same = this.lookup(opt, free);
    if (same) {
      if (same.count === 0) {
        // A class that emptied earlier comes back at its old place.
        this.alive++;
        this.tree.set(same.slot, free);
      }
      same.count += count;
      return;
    }
    const c: BinClass = { opt, free, count, slot: this.tree.push(free) };
    this.classes.push(c);
    this.index(c);
    this.alive++;
  }

  /**
   * Puts up to `k` units of `vec` first-fit into open machines whose attributes satisfy
   * `constraints`; calls `placed(option, n)` per class used; returns how many units are left.
   */
  place(vec: Vec, constraints: readonly Constraint[] | undefined, k: number, placed?: (opt: LaunchOption, n: number) => void): number {
    if (this.alive === 0) return k;
    const accept = constraints ? (slot: number) => satisfies(constraints, this.classes[slot].opt.attributes) : undefined;
    let from = 0;
    while (k > 0) {
      const slot = this.tree.first(vec, from, accept);
      if (slot < 0) break;
      // Every machine of this class is filled to the brim for `vec` (or k runs out): move on.
      from = slot + 1;
      const c = this.classes[slot];
      const n = Math.min(unitsThatFit(c.free, vec), k);
      if (n < 1) continue;
      const take = Math.min(k, c.count * n);
      const full = Math.floor(take / n);
      const rest = take - full * n;
      if (full === c.count) {
        this.move(c, minus(c.free, vec, n));
      } else {
        c.count -= full + (rest > 0 ? 1 : 0);
        if (c.count === 0) this.empty(c);
        this.add(c.opt, minus(c.free, vec, n), full);
        if (rest > 0) this.add(c.opt, minus(c.free, vec, rest), 1);
      }
      placed?.(c.opt, take);
      k -= take;
    }
    return k;
  }

  /** Opens `machines` new machines of `opt` holding `units` units of `vec`, `perMachine` each. */
  open(opt: LaunchOption, vec: Vec, machines: number, perMachine: number, units: number): void {
    const full = Math.min(machines, Math.floor(units / perMachine));
    const rest = units - full * perMachine;
    this.add(opt, minus(opt.shape, vec, perMachine), full);
    if (rest > 0) this.add(opt, minus(opt.shape, vec, rest), 1);
    const idle = machines - full - (rest > 0 ? 1 : 0);
    if (idle > 0) this.add(opt, { ...opt.shape }, idle);
  }

  /** The whole class changes state: in place (keeping its first-fit position) unless it merges. */
  private move(c: BinClass, free: Vec): void {
    const same = this.lookup(c.opt, free);
    if (same === c) return;
    if (same) {
      const count = c.count;
      this.empty(c);
      this.add(c.opt, free, count);
      return;
    }
    c.free = free;
    this.tree.set(c.slot, free);
    this.index(c);
  }

  private empty(c: BinClass): void {
    c.count = 0;
    this.alive--;
    this.tree.kill(c.slot);
  }

  private lookup(opt: LaunchOption, free: Vec): BinClass | undefined {
    const chain = this.byKey.get(keyOf(opt, free));
    if (!chain) return undefined;
    for (const c of chain) if (c.opt === opt && sameVec(c.free, free)) return c;
    return undefined;
  }

  private index(c: BinClass): void {
    const key = keyOf(c.opt, c.free);
    const chain = this.byKey.get(key);
    if (chain) chain.push(c);
    else this.byKey.set(key, [c]);
  }
}

/** A hash of (option, free vector); collisions are resolved by comparing the vectors. */
function keyOf(opt: LaunchOption, v: Vec): number {
  let h = Math.imul(opt.index + 1, 0x9e3779b1);
  h = Math.imul(h ^ (Math.round(v.cpus * 1e4) | 0), 0x85ebca6b);
  h = Math.imul(h ^ (Math.round(v.mem) | 0), 0xc2b2ae35);
  h = Math.imul(h ^ (Math.round(v.gpus * 1e3) | 0), 0x27d4eb2f);
  return h ^ (Math.round(Number.isFinite(v.disk) ? v.disk : -1) | 0);
}

const sameVec = (a: Vec, b: Vec): boolean => a.cpus === b.cpus && a.mem === b.mem && a.disk === b.disk && a.gpus === b.gpus;
