// Hierarchical roles for weighted DRF (Mesos' hierarchical sorter). `eng/backend` and `eng/web`
// compete inside `eng`, and `eng` as a whole competes with `sales`. Each node knows what its
// subtree holds (allocation, and reservations not yet allocated) so quota can be checked against
// the node and every ancestor. Frameworks of a role compete inside a per-role DrfSorter.
import { DrfSorter } from './drf-sorter.ts';
import { add, subtract, EMPTY, type Resources } from '../resources/resources.ts';

/** The virtual child that holds a role's own frameworks when the role also has subroles. */
const SELF = '.';

export interface QuotaConfig {
  readonly guarantees: Readonly<Record<string, number>>;
  readonly limits: Readonly<Record<string, number>>;
}

export class RoleNode {
  readonly children = new Map<string, RoleNode>();
  /** Orders the children (and SELF) of this node by weighted dominant share. */
  readonly childSorter: DrfSorter;
  /** Orders the frameworks subscribed to exactly this role. */
  readonly frameworks: DrfSorter;
  /** Non-revocable resources allocated in this subtree (offered or in use). */
  allocated: Resources = EMPTY;
  /** Resources reserved for this subtree that sit unallocated on agents. */
  reservedFree: Resources = EMPTY;
  quota: QuotaConfig | undefined;

  constructor(readonly path: string, readonly parent: RoleNode | undefined, excluded: ReadonlySet<string>) {
    this.childSorter = new DrfSorter(excluded);
    this.frameworks = new DrfSorter(excluded);
    this.childSorter.add(SELF);
  }

  /** Quota consumption: allocation plus unallocated reservations (Mesos ≥ 1.9). */
  consumption(): Resources {
    return add(this.allocated, this.reservedFree);
  }

  get name(): string {
    return this.path.slice(this.path.lastIndexOf('/') + 1);
  }
}

export class RoleTree {
  readonly root: RoleNode;
  private readonly nodes = new Map<string, RoleNode>();
  private readonly weights = new Map<string, number>();
  private total: Resources = EMPTY;
  private version = 0;

  constructor(private readonly excluded: ReadonlySet<string>) {
    this.root = new RoleNode('', undefined, excluded);
  }

  /** Increments whenever any order may have changed; callers cache orders against it. */
  get orderVersion(): number {
    return this.version;
  }

  node(path: string): RoleNode | undefined {
    return this.nodes.get(path);
  }

  /** The node for `path`, creating it and its ancestors. */
  ensure(path: string): RoleNode {
    const existing = this.nodes.get(path);
    if (existing) return existing;
    const cut = path.lastIndexOf('/');
    const parent = cut < 0 ? this.root : this.ensure(path.slice(0, cut));
    const n = new RoleNode(path, parent, this.excluded);
    n.childSorter.setTotal(this.total);
    n.frameworks.setTotal(this.total);
    parent.children.set(n.name, n);
    parent.childSorter.add(n.name, this.weights.get(path) ?? 1);
    this.nodes.set(path, n);
    this.version++;
    return n;
  }

  /** Drops nodes that hold nothing: no frameworks, children, allocation, reservation or config. */
  prune(path: string): void {
    let n = this.nodes.get(path);
    while (n && n !== this.root) {
      const idle = n.children.size === 0 && n.frameworks.sorted().length === 0 && n.quota === undefined
        && Object.keys(n.allocated.scalars).length === 0 && Object.keys(n.reservedFree.scalars).length === 0;
      if (!idle) return;
      const parent = n.parent!;
      parent.children.delete(n.name);
      parent.childSorter.remove(n.name);
      this.nodes.delete(n.path);
      this.version++;
      n = parent;
    }
  }

  all(): IterableIterator<RoleNode> {
    return this.nodes.values();
  }

  setTotal(total: Resources): void {
    this.total = total;
    for (const n of [this.root, ...this.nodes.values()]) {
      n.childSorter.setTotal(total);
      n.frameworks.setTotal(total);
    }
    this.version++;
  }

  setWeight(path: string, weight: number): void {
    this.weights.set(path, weight);
    const n = this.nodes.get(path);
    if (n) n.parent!.childSorter.setWeight(n.name, weight);
    this.version++;
  }

  weight(path: string): number {
    return this.weights.get(path) ?? 1;
  }

  weightsConfigured(): Map<string, number> {
    return new Map(this.weights);
  }

  /** Charges (or with sign −1 returns) resources held by a framework in `path`. */
  charge(path: string, frameworkId: string, r: Resources, sign: 1 | -1): void {
    const leaf = this.ensure(path);
    if (sign > 0) leaf.frameworks.allocated(frameworkId, r);
    else leaf.frameworks.unallocated(frameworkId, r);
    // The role's own frameworks count for its SELF child; the subtree counts for every ancestor.
    if (sign > 0) leaf.childSorter.allocated(SELF, r);
    else leaf.childSorter.unallocated(SELF, r);
    for (let n: RoleNode = leaf; n !== this.root; n = n.parent!) {
      n.allocated = sign > 0 ? add(n.allocated, r) : subtract(n.allocated, r);
      if (sign > 0) n.parent!.childSorter.allocated(n.name, r);
      else n.parent!.childSorter.unallocated(n.name, r);
    }
    this.version++;
  }

  /** Tracks reservations for `path` that sit unallocated (they count toward quota consumption). */
  adjustReservedFree(path: string, r: Resources, sign: 1 | -1): void {
    for (let n: RoleNode | undefined = this.ensure(path); n && n !== this.root; n = n.parent) {
      n.reservedFree = sign > 0 ? add(n.reservedFree, r) : subtract(n.reservedFree, r);
    }
  }

  /**
   * Every (role, framework) pair, most deserving first: a depth-first walk that at each level
   * visits children in DRF order, a role's own frameworks competing as the child SELF.
   */
  /** The payloads the frameworks were added with, in order(): no objects built, no look-ups. */
  orderPayloads(): unknown[] {
    const out: unknown[] = [];
    const walk = (n: RoleNode): void => {
      for (const c of n.childSorter.sorted()) {
        if (c.name === SELF) {
          if (n === this.root) continue;
          for (const f of n.frameworks.sorted()) out.push(f.payload);
        } else {
          walk(n.children.get(c.name)!);
        }
      }
    };
    walk(this.root);
    return out;
  }

  order(): { role: string; frameworkId: string }[] {
    const out: { role: string; frameworkId: string }[] = [];
    const walk = (n: RoleNode): void => {
      for (const { name } of n.childSorter.sorted()) {
        if (name === SELF) {
          if (n === this.root) continue;
          for (const f of n.frameworks.sorted()) out.push({ role: n.path, frameworkId: f.name });
        } else {
          walk(n.children.get(name)!);
        }
      }
    };
    // Frameworks of the default role '*' hang directly under the root.
    walk(this.root);
    return out;
  }
}
