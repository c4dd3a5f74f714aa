// The offer allocator: pure and synchronous, no I/O. It tracks what each agent has free and what
// each framework holds (offered or in use), and in each round hands every agent's free resources to
// the framework with the lowest weighted dominant share — first between roles, then between the
// frameworks of the chosen role (Mesos' hierarchical DRF). Callers turn the proposals into offers.
import { DrfSorter } from './drf-sorter.ts';
import {
  add, contains, isEmpty, subtract, EMPTY, scalar, type Resources,
} from '../resources/resources.ts';

export interface OfferProposal {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly role: string;
  readonly resources: Resources;
}

interface AgentEntry {
  readonly id: string;
  total: Resources;
  free: Resources;
  active: boolean;
}

interface OfferFilter {
  readonly resources: Resources;
  readonly expiresAt: number;
}

interface FrameworkEntry {
  readonly id: string;
  readonly role: string;
  active: boolean;
  suppressed: boolean;
  readonly filters: Map<string, OfferFilter>;
}

export interface AllocatorOptions {
  /** Resource names left out of fair-share computation. */
  readonly fairnessExcluded?: readonly string[];
  /**
   * An agent's free resources are offered only when they hold at least one of these quantities
   * (Mesos' --min_allocatable_resources, default `cpus:0.01|mem:32`).
   */
  readonly minAllocatable?: readonly Record<string, number>[];
}

export class Allocator {
  private readonly agents = new Map<string, AgentEntry>();
  private readonly frameworks = new Map<string, FrameworkEntry>();
  private readonly roleSorter: DrfSorter;
  private readonly frameworkSorters = new Map<string, DrfSorter>();
  private readonly excluded: ReadonlySet<string>;
  private readonly minAllocatable: readonly Record<string, number>[];
  private total: Resources = EMPTY;

  constructor(options: AllocatorOptions = {}) {
    this.excluded = new Set(options.fairnessExcluded ?? []);
    this.roleSorter = new DrfSorter(this.excluded);
    this.minAllocatable = options.minAllocatable ?? [{ cpus: 0.01 }, { mem: 32 }];
  }

  // ---- agents ----------------------------------------------------------------------------------

  addAgent(id: string, total: Resources, inUse: Resources = EMPTY): void {
    if (this.agents.has(id)) this.removeAgent(id);
    this.agents.set(id, { id, total, free: subtract(total, inUse), active: true });
    this.setTotal(add(this.total, total));
  }

  removeAgent(id: string): void {
    const a = this.agents.get(id);
    if (!a) return;
    this.agents.delete(id);
    this.setTotal(subtract(this.total, a.total));
    for (const f of this.frameworks.values()) f.filters.delete(id);
  }

  setAgentActive(id: string, active: boolean): void {
    const a = this.agents.get(id);
    if (a) a.active = active;
  }

  hasAgent(id: string): boolean {
    return this.agents.has(id);
  }

  agentFree(id: string): Resources {
    return this.agents.get(id)?.free ?? EMPTY;
  }

  clusterTotal(): Resources {
    return this.total;
  }

  // ---- frameworks ------------------------------------------------------------------------------

  addFramework(id: string, role: string): void {
    if (this.frameworks.has(id)) return;
    this.frameworks.set(id, { id, role, active: true, suppressed: false, filters: new Map() });
    if (!this.roleSorter.has(role)) this.roleSorter.add(role);
    let sorter = this.frameworkSorters.get(role);
    if (!sorter) {
      sorter = new DrfSorter(this.excluded);
      sorter.setTotal(this.total);
      this.frameworkSorters.set(role, sorter);
    }
    sorter.add(id);
  }

  /** Forgets a framework. The caller recovers its resources first (offers, tasks). */
  removeFramework(id: string): void {
    const f = this.frameworks.get(id);
    if (!f) return;
    this.frameworks.delete(id);
    const sorter = this.frameworkSorters.get(f.role);
    sorter?.remove(id);
    if (sorter && sorter.sorted().length === 0) {
      this.frameworkSorters.delete(f.role);
      this.roleSorter.remove(f.role);
    }
  }

  setFrameworkActive(id: string, active: boolean): void {
    const f = this.frameworks.get(id);
    if (f) f.active = active;
  }

  suppress(id: string): void {
    const f = this.frameworks.get(id);
    if (f) f.suppressed = true;
  }

  /** REVIVE: clears every filter the framework set and resumes offers. */
  revive(id: string): void {
    const f = this.frameworks.get(id);
    if (!f) return;
    f.suppressed = false;
    f.filters.clear();
  }

  roleOf(id: string): string | undefined {
    return this.frameworks.get(id)?.role;
  }

  allocationOf(frameworkId: string): Resources {
    const f = this.frameworks.get(frameworkId);
    return f ? this.frameworkSorters.get(f.role)!.allocation(frameworkId) : EMPTY;
  }

  shareOf(frameworkId: string): number {
    const f = this.frameworks.get(frameworkId);
    return f ? this.frameworkSorters.get(f.role)!.share(frameworkId) : 0;
  }

  // ---- resource movement -----------------------------------------------------------------------

  /** Marks resources on an agent as held by a framework (used to restore running tasks). */
  allocate(frameworkId: string, agentId: string, r: Resources): void {
    const a = this.agents.get(agentId);
    if (a) a.free = subtract(a.free, r);
    this.charge(frameworkId, r);
  }

  /**
   * Returns resources a framework held (a declined offer, the unused part of an accepted one, a
   * finished task) to the agent's free pool, optionally filtering them from that framework.
   */
  recover(frameworkId: string, agentId: string, r: Resources, filter?: { refuseSeconds: number; now: number }): void {
    const a = this.agents.get(agentId);
    if (a) a.free = clampTo(add(a.free, r), a.total);
    this.uncharge(frameworkId, r);
    const f = this.frameworks.get(frameworkId);
    if (f && filter && filter.refuseSeconds > 0 && !isEmpty(r)) {
      f.filters.set(agentId, { resources: r, expiresAt: filter.now + filter.refuseSeconds * 1000 });
    }
  }

  // ---- the allocation round --------------------------------------------------------------------

  /**
   * One round: every agent with something allocatable goes, whole, to the most deserving framework
   * that has not filtered it. Agents are visited in the caller's order (shuffle for fairness).
   */
  allocateRound(now: number, agentOrder?: readonly string[]): OfferProposal[] {
    const proposals: OfferProposal[] = [];
    const ids = agentOrder ?? [...this.agents.keys()];
    for (const agentId of ids) {
      const agent = this.agents.get(agentId);
      if (!agent || !agent.active || !this.allocatable(agent.free)) continue;
      const chosen = this.pickFramework(agent, now);
      if (!chosen) continue;
      const r = agent.free;
      agent.free = EMPTY;
      this.charge(chosen.id, r);
      proposals.push({ frameworkId: chosen.id, agentId, role: chosen.role, resources: r });
    }
    return proposals;
  }

  private pickFramework(agent: AgentEntry, now: number): FrameworkEntry | undefined {
    for (const { name: role } of this.roleSorter.sorted()) {
      const sorter = this.frameworkSorters.get(role);
      if (!sorter) continue;
      for (const { name } of sorter.sorted()) {
        const f = this.frameworks.get(name)!;
        if (!f.active || f.suppressed) continue;
        if (this.filtered(f, agent, now)) continue;
        return f;
      }
    }
    return undefined;
  }

  private filtered(f: FrameworkEntry, agent: AgentEntry, now: number): boolean {
    const filter = f.filters.get(agent.id);
    if (!filter) return false;
    if (filter.expiresAt <= now) {
      f.filters.delete(agent.id);
      return false;
    }
    // Mesos semantics: a filter refuses only offers no larger than what was declined.
    return contains(filter.resources, agent.free);
  }

  private allocatable(r: Resources): boolean {
    return this.minAllocatable.some((q) => Object.entries(q).every(([k, v]) => scalar(r, k) >= v));
  }

  private charge(frameworkId: string, r: Resources): void {
    const f = this.frameworks.get(frameworkId);
    if (!f) return;
    this.frameworkSorters.get(f.role)!.allocated(frameworkId, r);
    this.roleSorter.allocated(f.role, r);
  }

  private uncharge(frameworkId: string, r: Resources): void {
    const f = this.frameworks.get(frameworkId);
    if (!f) return;
    this.frameworkSorters.get(f.role)!.unallocated(frameworkId, r);
    this.roleSorter.unallocated(f.role, r);
  }

  private setTotal(total: Resources): void {
    this.total = total;
    this.roleSorter.setTotal(total);
    for (const s of this.frameworkSorters.values()) s.setTotal(total);
  }
}

function clampTo(r: Resources, limit: Resources): Resources {
  return contains(limit, r) ? r : subtract(r, subtract(r, limit));
}
