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
import { satisfies } from '../../policies/scaling/fits.ts';

/** The same float slack as fits.ts: free + EPS ≥ need counts as fitting. */
const EPS = 1e-9;
const DEAD = -Infinity;

export class FitTree {
  /** Leaf capacity (a power of two); leaves are nodes [size, 2·size). */
  private size = 0;
  /** Slots in use. */
  n = 0;
  /** Per node, 4 numbers: max free cpus, mem, disk, gpus below it (node i at 4i). */
  private t = new Float64Array(0);

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

  /** Some slot has at least `need` in every dimension (not necessarily the same slot). */
  covers(need: Vec): boolean {
    const t = this.t;
    return t[4] >= need.cpus - EPS && t[5] >= need.mem - EPS && t[6] >= need.disk - EPS && t[7] >= need.gpus - EPS;
  }

  /** Forgets every slot (keeps the memory). */
  reset(): void {
    if (this.n === 0) return;
    this.t.fill(DEAD);
    this.n = 0;
  }

  /** Node maxima, 4 per node; a slot's own free vector is at leafOffset(slot). */
  get values(): Float64Array {
    return this.t;
  }

  leafOffset(slot: number): number {
    return 4 * (this.size + slot);
  }

  leafEquals(slot: number, c: number, m: number, d: number, g: number): boolean {
    const k = 4 * (this.size + slot);
    const t = this.t;
    return t[k] === c && t[k + 1] === m && t[k + 2] === d && t[k + 3] === g;
  }

  /** Appends a slot; returns its index. */
  pushValues(c: number, m: number, d: number, g: number): number {
    if (this.n === this.size) this.grow();
    const slot = this.n++;
    this.setValues(slot, c, m, d, g);
    return slot;
  }

  set(slot: number, free: Vec): void {
    this.setValues(slot, free.cpus, free.mem, free.disk, free.gpus);
  }

  setValues(slot: number, c: number, m: number, d: number, g: number): void {
    let i = this.size + slot;
    const t = this.t;
    const k = 4 * i;
    t[k] = c;
    t[k + 1] = m;
    t[k + 2] = d;
    t[k + 3] = g;
    while (i > 1) {
      i >>= 1;
      this.pull(i);
    }
  }

  /** The slot can take nothing any more. */
  kill(slot: number): void {
    this.setValues(slot, DEAD, DEAD, DEAD, DEAD);
  }

  /**
   * The first slot ≥ `from` whose free capacity covers `need` in every dimension and that `accept`
   * accepts (constraints); -1 if none. Walks right from the leaf `from`, skipping every subtree
   * whose maxima cannot cover `need`, and descends (left first) into those that might.
   */
  first(need: Vec, from: number, accept?: (slot: number) => boolean): number {
    if (from >= this.n) return -1;
    const t = this.t;
    const size = this.size;
    const c = need.cpus - EPS;
    const m = need.mem - EPS;
    const d = need.disk - EPS;
    const g = need.gpus - EPS;
    let i = from + size;
    for (;;) {
      const k = 4 * i;
      if (t[k] >= c && t[k + 1] >= m && t[k + 2] >= d && t[k + 3] >= g) {
        if (i < size) {
          i = 2 * i;
          continue;
        }
        const slot = i - size;
        if (!accept || accept(slot)) return slot;
      }
      // Next subtree to the right: climb while a right child, then step to the sibling.
      while (i & 1) i >>= 1;
      if (i === 0) return -1;
      i++;
    }
  }

  private write(i: number, v: Vec): void {
    const k = 4 * i;
    this.t[k] = v.cpus;
    this.t[k + 1] = v.mem;
    this.t[k + 2] = v.disk;
    this.t[k + 3] = v.gpus;
  }

  private pull(i: number): void {
    const t = this.t;
    const k = 4 * i;
    const l = 8 * i;
    const r = l + 4;
    t[k] = Math.max(t[l], t[r]);
    t[k + 1] = Math.max(t[l + 1], t[r + 1]);
    t[k + 2] = Math.max(t[l + 2], t[r + 2]);
    t[k + 3] = Math.max(t[l + 3], t[r + 3]);
  }

  private alloc(leaves: number): void {
    let size = 1;
    while (size < leaves) size *= 2;
    this.size = size;
    this.t = new Float64Array(8 * size).fill(DEAD);
  }

  private grow(): void {
    const { t, size, n } = this;
    this.alloc(size * 2);
    this.t.set(t.subarray(4 * size, 4 * (size + n)), 4 * this.size);
    for (let i = this.size - 1; i >= 1; i--) this.pull(i);
  }
}

interface BinClass {
  readonly opt: LaunchOption;
  count: number;
  /** Its slot in the tree, whose leaf holds the class's free vector. */
  readonly slot: number;
}

/**
 * New (simulated) machines in classes of identical state; first fit in opening order. A class's
 * free vector lives only in its tree leaf, and moving a class to a new state rewrites the leaf in
 * place, so packing allocates nothing per placement.
 */
export class Bins {
  private classes: BinClass[] = [];
  /** Hash of (option, free vector) → slots that were added in that state (for merging). */
  private byKey = new Map<number, number[]>();
  private tree = new FitTree();
  private alive = 0;

  /** Open classes (with at least one machine). */
  get size(): number {
    return this.alive;
  }

  /** Whether any open machine might take a unit of `need` (false means surely not). */
  couldFit(need: Vec): boolean {
    return this.alive > 0 && this.tree.covers(need);
  }

  reset(): void {
    this.classes.length = 0;
    this.byKey.clear();
    this.tree.reset();
    this.alive = 0;
  }

  /** Adds `count` machines of `opt` with free (c, m, d, g), merging into a class in that state. */
  add(opt: LaunchOption, c: number, m: number, d: number, g: number, count: number): void {
    if (count <= 0) return;
    const key = keyOf(opt, c, m, d, g);
    const chain = this.byKey.get(key);
    if (chain) {
      for (const slot of chain) {
        const same = this.classes[slot];
        if (same.opt !== opt) continue;
        if (same.count === 0) {
          // A class that emptied earlier comes back at its old place.
          this.alive++;
          this.tree.setValues(slot, c, m, d, g);
          same.count = count;
          return;
        }
        if (this.tree.leafEquals(slot, c, m, d, g)) {
          same.count += count;
          return;
        }
      }
    }
    const slot = this.tree.pushValues(c, m, d, g);
    this.classes.push({ opt, count, slot });
    if (chain) chain.push(slot);
    else this.byKey.set(key, [slot]);
    this.alive++;
  }

  /**
   * Puts up to `k` units of `vec` first-fit into open machines whose attributes satisfy
   * `constraints`; calls `placed(option, n)` per class used; returns how many units are left.
   */
  place(vec: Vec, constraints: readonly Constraint[] | undefined, k: number, placed?: (opt: LaunchOption, n: number) => void): number {
    if (this.alive === 0) return k;
    const accept = constraints ? (slot: number) => satisfies(constraints, this.classes[slot].opt.attributes) : undefined;
    const t = this.tree.values;
    let from = 0;
    while (k > 0) {
      const slot = this.tree.first(vec, from, accept);
      if (slot < 0) break;
      // Every machine of this class is filled to the brim for `vec` (or k runs out): move on.
      from = slot + 1;
      const cls = this.classes[slot];
      const o = this.tree.leafOffset(slot);
      const c = t[o];
      const m = t[o + 1];
      const d = t[o + 2];
      const g = t[o + 3];
      const n = Math.min(fitIn(c, m, d, g, vec), k);
      if (n < 1) continue;
      const take = Math.min(k, cls.count * n);
      const full = Math.floor(take / n);
      const rest = take - full * n;
      if (full === cls.count) {
        // The whole class changes state: in place, keeping its first-fit position.
        this.tree.setValues(slot, sub(c, vec.cpus, n), sub(m, vec.mem, n), sub(d, vec.disk, n), sub(g, vec.gpus, n));
      } else {
        cls.count -= full + (rest > 0 ? 1 : 0);
        if (cls.count === 0) this.empty(cls);
        this.add(cls.opt, sub(c, vec.cpus, n), sub(m, vec.mem, n), sub(d, vec.disk, n), sub(g, vec.gpus, n), full);
        if (rest > 0) this.add(cls.opt, sub(c, vec.cpus, rest), sub(m, vec.mem, rest), sub(d, vec.disk, rest), sub(g, vec.gpus, rest), 1);
      }
      placed?.(cls.opt, take);
      k -= take;
    }
    return k;
  }

  /** Opens `machines` new machines of `opt` holding `units` units of `vec`, `perMachine` each. */
  open(opt: LaunchOption, vec: Vec, machines: number, perMachine: number, units: number): void {
    const s = opt.shape;
    const full = Math.min(machines, Math.floor(units / perMachine));
    const rest = units - full * perMachine;
    this.add(opt, sub(s.cpus, vec.cpus, perMachine), sub(s.mem, vec.mem, perMachine), sub(s.disk, vec.disk, perMachine), sub(s.gpus, vec.gpus, perMachine), full);
    if (rest > 0) this.add(opt, sub(s.cpus, vec.cpus, rest), sub(s.mem, vec.mem, rest), sub(s.disk, vec.disk, rest), sub(s.gpus, vec.gpus, rest), 1);
    const idle = machines - full - (rest > 0 ? 1 : 0);
    if (idle > 0) this.add(opt, s.cpus, s.mem, s.disk, s.gpus, idle);
  }

  /** Adds `count` empty machines of `opt` (instances still booting). */
  addEmpty(opt: LaunchOption, count: number): void {
    const s = opt.shape;
    this.add(opt, s.cpus, s.mem, s.disk, s.gpus, count);
  }

  /** Machines and their summed free capacity over the open classes (for checks and tests). */
  totals(): { machines: number; free: Vec } {
    const free = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
    let machines = 0;
    const t = this.tree.values;
    for (const cls of this.classes) {
      if (cls.count === 0) continue;
      const o = this.tree.leafOffset(cls.slot);
      if (t[o] < 0 || t[o + 1] < 0 || t[o + 2] < 0 || t[o + 3] < 0) throw new Error(`class at slot ${cls.slot} has negative free capacity`);
      machines += cls.count;
      free.cpus += cls.count * t[o];
      free.mem += cls.count * t[o + 1];
      free.disk += cls.count * t[o + 2];
      free.gpus += cls.count * t[o + 3];
    }
    return { machines, free };
  }

  private empty(cls: BinClass): void {
    cls.count = 0;
    this.alive--;
    this.tree.kill(cls.slot);
  }
}

/** free − n × need for one dimension, never below 0 (float dust); an unneeded dimension is kept. */
const sub = (free: number, need: number, n: number): number => (need === 0 ? free : Math.max(0, free - n * need));

/** Whole units of `vec` that fit in (c, m, d, g), as unitsThatFit in fits.ts. */
function fitIn(c: number, m: number, d: number, g: number, vec: Vec): number {
  let n = Infinity;
  if (vec.cpus > 0) n = Math.floor((c + EPS) / vec.cpus);
  if (vec.mem > 0) n = Math.min(n, Math.floor((m + EPS) / vec.mem));
  if (vec.disk > 0) n = Math.min(n, Math.floor((d + EPS) / vec.disk));
  if (vec.gpus > 0) n = Math.min(n, Math.floor((g + EPS) / vec.gpus));
  return n < 0 ? 0 : n;
}

/** A hash of (option, free vector); collisions are resolved by comparing the vectors. */
function keyOf(opt: LaunchOption, c: number, m: number, d: number, g: number): number {
  let h = Math.imul(opt.index + 1, 0x9e3779b1);
  h = Math.imul(h ^ (Math.round(c * 1e4) | 0), 0x85ebca6b);
  h = Math.imul(h ^ (Math.round(m) | 0), 0xc2b2ae35);
  h = Math.imul(h ^ (Math.round(g * 1e3) | 0), 0x27d4eb2f);
  return h ^ (Math.round(Number.isFinite(d) ? d : -1) | 0);
}
