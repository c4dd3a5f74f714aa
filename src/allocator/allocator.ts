// The offer allocator: pure and synchronous, no I/O, no clock reads (callers pass `now`). It
// tracks each agent's free resources (by reservation) and what each framework holds in each of
// its roles, and in each round hands agents' free resources to the most deserving framework by
// hierarchical weighted DRF, within quota.
//
// A round is a pipeline per (agent, framework-role) candidate, each rule a module in
// policies/allocation, applied in this order:
//   1. skip inactive / suppressed frameworks and inactive agents (cheapest first)
//   2. offer filters (refuse_seconds): two typed-array reads in the common case
//   3. eligibility: unreserved + reserved for the role (or an ancestor) + revocable if capable
//   4. quota limits of the role and its ancestors (chop unreserved scalars)
//   5. quota headroom: keep enough unreserved back for every unmet guarantee
//   6. min allocatable: no crumbs
// Stage 1 of a round offers only to roles below their guarantee; stage 2 to everyone.
import { RoleTree, type QuotaConfig, type RoleNode } from './role-tree.ts';
import { add, subtract, isEmpty, EMPTY, type Resources } from '../resources/resources.ts';
import {
  addSets, containsSet, flatten, isEmptySet, nonRevocable, reservedByRole, revocablePart, setOf, subtractSets,
  unreservedPart, bucket, filterSet, roleMayUse, NO_RESOURCES, type ResourceSet,
} from '../resources/resource-set.ts';
import { eligibleResources } from '../../policies/allocation/eligibility.ts';
import { chop, chopUnreserved } from '../../policies/allocation/chop.ts';
import { limitAllowance } from '../../policies/allocation/quota-limit.ts';
import { headroomAllowance, requiredHeadroom, unmetFor } from '../../policies/allocation/quota-headroom.ts';
import { OfferFilters } from '../../policies/allocation/offer-filter.ts';
import { DEFAULT_MIN_ALLOCATABLE, meetsMinimum, type MinAllocatable } from '../../policies/allocation/min-allocatable.ts';

export interface OfferProposal {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly role: string;
  readonly resources: ResourceSet;
}

export interface AllocatorOptions {
  /** Resource names left out of fair-share computation (e.g. `gpus`). */
  readonly fairnessExcluded?: readonly string[];
  readonly minAllocatable?: MinAllocatable;
}

export interface RoundOptions {
  /** Visit agents in this order (the master shuffles); default: insertion order. */
  readonly agentOrder?: readonly string[];
  /**
   * Optimistic offers: offer the same free resources to up to `perAgent` frameworks without
   * holding them; the first valid ACCEPT wins. `hasOffer` skips pairs with an offer outstanding.
   */
  readonly optimistic?: { readonly perAgent: number; readonly hasOffer: (frameworkId: string, agentId: string) => boolean };
}

interface AgentEntry {
  readonly id: string;
  readonly slot: number;
  total: ResourceSet;
  free: ResourceSet;
  /** Connected (the master clears it while the agent is away). */
  active: boolean;
  /** Deactivated by an operator or draining: no offers until reactivated. */
  deactivated: boolean;
  /** Bumped on every change to `free`; offer filters compare against it. */
  version: number;
  /** Offer filters on this agent, by client index (agent-major: a round reads them in a row). */
  readonly filters: OfferFilters;
  /** Revocable resources held by frameworks (offered or in use): free revocable = slack − this. */
  revHeld: Resources;
}

interface Client {
  readonly frameworkId: string;
  readonly role: string;
  suppressed: boolean;
  /**
   * The framework left this role (UPDATE_FRAMEWORK) while it still held resources in it: as in
   * Mesos it stays tracked under the role, its tasks counted in DRF and quota, but gets no offers;
   * it is dropped when the last of those resources comes back.
   */
  leaving: boolean;
  /** Index into every agent's filter arrays. */
  readonly index: number;
  readonly framework: FrameworkEntry;
}

interface FrameworkEntry {
  readonly id: string;
  active: boolean;
  revocable: boolean;
  readonly clients: Map<string, Client>;
}

export interface RoleView {
  role: string;
  weight: number;
  frameworks: string[];
  allocated: Resources;
  reservedUnallocated: Resources;
  consumption: Resources;
  quota?: QuotaConfig;
}

export class Allocator {
  private readonly agents = new Map<string, AgentEntry>();
  private readonly frameworks = new Map<string, FrameworkEntry>();
  /** Agents deactivated by an operator; kept by id so re-adding an agent keeps the flag. */
  private readonly deactivatedIds = new Set<string>();
  private readonly tree: RoleTree;
  private readonly minAllocatable: MinAllocatable;
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private readonly freeClients: number[] = [];
  private nextClient = 0;
  private total: Resources = EMPTY;
  private orderCache: { version: number; clients: Client[] } | undefined;

  constructor(options: AllocatorOptions = {}) {
    this.tree = new RoleTree(new Set(options.fairnessExcluded ?? []));
    this.minAllocatable = options.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE;
  }

  // ---- agents ----------------------------------------------------------------------------------

  addAgent(id: string, total: ResourceSet, inUse: ResourceSet = NO_RESOURCES): void {
    if (this.agents.has(id)) this.removeAgent(id);
    const slot = this.freeSlots.pop() ?? this.nextSlot++;
    const a: AgentEntry = { id, slot, total, free: NO_RESOURCES, active: true, deactivated: this.deactivatedIds.has(id), version: 0, filters: new OfferFilters(), revHeld: revocablePart(inUse) };
    this.agents.set(id, a);
    this.setFree(a, subtractSets(total, inUse));
    this.setTotal(add(this.total, scalarsOnly(flatten(nonRevocable(total)))));
  }

  removeAgent(id: string): void {
    const a = this.agents.get(id);
    if (!a) return;
    this.setFree(a, NO_RESOURCES);
    this.agents.delete(id);
    this.setTotal(subtract(this.total, scalarsOnly(flatten(nonRevocable(a.total)))));
    this.freeSlots.push(a.slot);
  }

  setAgentActive(id: string, active: boolean): void {
    const a = this.agents.get(id);
    if (a) a.active = active;
  }

  /**
   * Operator deactivation (DEACTIVATE_AGENT, DRAIN_AGENT, maintenance): unlike `setAgentActive`,
   * which follows the agent's connection, it holds across reconnects until cleared.
   */
  setAgentDeactivated(id: string, deactivated: boolean): void {
    if (deactivated) this.deactivatedIds.add(id);
    else this.deactivatedIds.delete(id);
    const a = this.agents.get(id);
    if (a) a.deactivated = deactivated;
  }

  hasAgent(id: string): boolean {
    return this.agents.has(id);
  }

  agentFree(id: string): ResourceSet {
    return this.agents.get(id)?.free ?? NO_RESOURCES;
  }

  agentTotal(id: string): ResourceSet {
    return this.agents.get(id)?.total ?? NO_RESOURCES;
  }

  clusterTotal(): Resources {
    return this.total;
  }

  /**
   * Re-labels free resources of an agent (RESERVE / UNRESERVE by an operator): `from` must be
   * free; it is replaced by `to` (the same quantities under another reservation).
   */
  relabelFree(agentId: string, from: ResourceSet, to: ResourceSet): boolean {
    const a = this.agents.get(agentId);
    if (!a || !containsSet(a.free, from)) return false;
    a.total = addSets(subtractSets(a.total, from), to);
    this.setFree(a, addSets(subtractSets(a.free, from), to));
    return true;
  }

  /**
   * Re-labels resources a framework holds (RESERVE / UNRESERVE inside an ACCEPT): only the agent's
   * total changes; the framework keeps holding the same quantities.
   */
  relabelHeld(agentId: string, from: ResourceSet, to: ResourceSet): void {
    const a = this.agents.get(agentId);
    if (a) a.total = addSets(subtractSets(a.total, from), to);
  }

  /**
   * The agent's oversubscribed slack changed. Returns how much the revocable resources already
   * held exceed the new slack (the caller preempts revocable tasks to cover it).
   */
  setRevocable(agentId: string, revocable: Resources): Resources {
    const a = this.agents.get(agentId);
    if (!a) return EMPTY;
    const keep = (s: ResourceSet) => filterSet(s, (b) => !b.revocable);
    a.total = setOf([...keep(a.total), ...(isEmpty(revocable) ? [] : [bucket(revocable, undefined, true)])]);
    this.setFree(a, withFreeRevocable(a, keep(a.free)));
    return subtract(a.revHeld, revocable);
  }

  // ---- frameworks ------------------------------------------------------------------------------

  addFramework(id: string, roles: readonly string[], opts: { revocable?: boolean } = {}): void {
    let f = this.frameworks.get(id);
    if (!f) {
      f = { id, active: true, revocable: Boolean(opts.revocable), clients: new Map() };
      this.frameworks.set(id, f);
    }
    f.revocable = Boolean(opts.revocable);
    for (const role of roles) {
      const known = f.clients.get(role);
      if (known) known.leaving = false; // back in a role it was leaving
      else this.addClient(f, role, false);
    }
    this.orderCache = undefined;
  }

  private addClient(f: FrameworkEntry, role: string, leaving: boolean): void {
    const c: Client = { frameworkId: f.id, role, suppressed: false, leaving, index: this.freeClients.pop() ?? this.nextClient++, framework: f };
    f.clients.set(role, c);
    this.tree.ensure(role).frameworks.add(f.id, 1, c);
  }

  /** Forgets a framework. The caller recovers what it holds first (offers, tasks). */
  removeFramework(id: string): void {
    const f = this.frameworks.get(id);
    if (!f) return;
    this.frameworks.delete(id);
    for (const c of f.clients.values()) this.releaseClient(c);
    for (const role of f.clients.keys()) {
      this.tree.node(role)?.frameworks.remove(id);
      this.tree.prune(role);
    }
    this.orderCache = undefined;
  }

  /**
   * Leaves one role (UPDATE_FRAMEWORK). The caller has taken back the framework's offers in it; what
   * its tasks hold there keeps it tracked under the role (no offers) until they end.
   */
  removeRole(id: string, role: string): void {
    const c = this.frameworks.get(id)?.clients.get(role);
    if (!c) return;
    if (isEmpty(this.tree.node(role)?.frameworks.allocation(id) ?? EMPTY)) return this.dropClient(c);
    // As Mesos, leaving a role forgets its offer filters and suppression: a rejoin starts afresh.
    c.leaving = true;
    c.suppressed = false;
    for (const a of this.agents.values()) a.filters.clear(c.index);
  }

  private dropClient(c: Client): void {
    const { framework: f, role, frameworkId: id } = c;
    f.clients.delete(role);
    this.releaseClient(c);
    this.tree.node(role)?.frameworks.remove(id);
    this.tree.prune(role);
    this.orderCache = undefined;
  }

  setFrameworkActive(id: string, active: boolean): void {
    const f = this.frameworks.get(id);
    if (f) f.active = active;
  }

  hasFramework(id: string): boolean {
    return this.frameworks.has(id);
  }

  /** SUPPRESS, for the given roles or all of the framework's roles. */
  suppress(id: string, roles?: readonly string[]): void {
    for (const c of this.clientsOf(id, roles)) c.suppressed = true;
  }

  /** SUBSCRIBE / UPDATE_FRAMEWORK: exactly `roles` are suppressed, the others resume (filters stay). */
  setSuppressedRoles(id: string, roles: readonly string[]): void {
    const suppressed = new Set(roles);
    for (const c of this.clientsOf(id)) c.suppressed = suppressed.has(c.role);
  }

  /** REVIVE: clears filters and resumes offers, for the given roles or all. */
  revive(id: string, roles?: readonly string[]): void {
    for (const c of this.clientsOf(id, roles)) {
      c.suppressed = false;
      for (const a of this.agents.values()) a.filters.clear(c.index);
    }
  }

  /** The roles the framework is in (not those it is leaving). */
  rolesOf(id: string): string[] {
    return [...(this.frameworks.get(id)?.clients.values() ?? [])].filter((c) => !c.leaving).map((c) => c.role);
  }

  allocationOf(frameworkId: string, role?: string): Resources {
    let r = EMPTY;
    const f = this.frameworks.get(frameworkId);
    if (!f) return r;
    for (const c of f.clients.values()) {
      if (role !== undefined && c.role !== role) continue;
      r = add(r, this.tree.node(c.role)?.frameworks.allocation(frameworkId) ?? EMPTY);
    }
    return r;
  }

  // ---- roles: weights and quota ----------------------------------------------------------------

  setWeight(role: string, weight: number): void {
    this.tree.setWeight(role, weight);
    this.orderCache = undefined;
  }

  /** Weights an operator set, by role. */
  weights(): Map<string, number> {
    return this.tree.weightsConfigured();
  }

  setQuota(role: string, quota: QuotaConfig | undefined): void {
    const n = this.tree.ensure(role);
    n.quota = quota && (Object.keys(quota.guarantees).length || Object.keys(quota.limits).length) ? quota : undefined;
    if (!n.quota) this.tree.prune(role);
  }

  roles(): RoleView[] {
    const out: RoleView[] = [];
    for (const n of this.tree.all()) {
      out.push({
        role: n.path,
        weight: this.tree.weight(n.path),
        frameworks: n.frameworks.sorted().map((c) => c.name),
        allocated: n.allocated,
        reservedUnallocated: n.reservedFree,
        consumption: n.consumption(),
        ...(n.quota ? { quota: n.quota } : {}),
      });
    }
    // Roles known only by a configured weight are listed too, as Mesos does.
    for (const [role, weight] of this.tree.weightsConfigured()) {
      if (!this.tree.node(role)) out.push({ role, weight, frameworks: [], allocated: EMPTY, reservedUnallocated: EMPTY, consumption: EMPTY });
    }
    return out.sort((a, b) => (a.role < b.role ? -1 : 1));
  }

  roleConsumption(role: string): Resources {
    return this.tree.node(role)?.consumption() ?? EMPTY;
  }

  // ---- resource movement -----------------------------------------------------------------------

  /** Marks resources on an agent as held by a framework in a role (offers, restored tasks). */
  allocate(frameworkId: string, role: string, agentId: string, s: ResourceSet): void {
    const a = this.agents.get(agentId);
    if (a) {
      a.revHeld = add(a.revHeld, revocablePart(s));
      this.setFree(a, subtractSets(a.free, s));
    }
    this.charge(frameworkId, role, s, 1);
  }

  /**
   * Returns resources a framework held (a declined offer, the unused part of an accepted one, a
   * finished task) to the agent, optionally filtering them from that framework-role.
   */
  recover(frameworkId: string, role: string, agentId: string, s: ResourceSet, filter?: { refuseSeconds: number; now: number }): void {
    const a = this.agents.get(agentId);
    if (a) {
      a.revHeld = subtract(a.revHeld, revocablePart(s));
      this.setFree(a, withFreeRevocable(a, clampTo(addSets(a.free, nonRevocable(s)), a.total)));
    }
    this.charge(frameworkId, role, s, -1);
    const f = this.frameworks.get(frameworkId);
    const c = f?.clients.get(role);
    if (a && f && c && filter && filter.refuseSeconds > 0 && !isEmptySet(s)) {
      // The version shortcut is safe only when everything the agent now offers this client was refused.
      const all = eligibleResources(a.free, role, f.revocable);
      a.filters.set(c.index, s, filter.now + filter.refuseSeconds * 1000, containsSet(s, all) ? a.version : -1);
    }
  }

  /**
   * Whether taking `s` for `role` now keeps every quota: the role's and its ancestors' limits, and
   * the headroom other roles' unmet guarantees need (optimistic ACCEPTs check this). Returns why not.
   */
  quotaViolation(role: string, s: ResourceSet): string | undefined {
    const node = this.tree.node(role);
    if (!node) return undefined;
    const limit = limitAllowance(node);
    const counted = flatten(filterSet(s, (b) => !b.revocable && !(b.reservation && roleMayUse(b.reservation.role, node.path))));
    for (const [k, room] of Object.entries(limit ?? {})) {
      if ((counted.scalars[k] ?? 0) > room + 1e-9) return `it would exceed the quota limit of role '${role}' (or an ancestor) for ${k}`;
    }
    const guaranteed = [...this.tree.all()].filter((n) => n.quota && Object.keys(n.quota.guarantees).length);
    if (guaranteed.length) {
      const allowance = headroomAllowance(node, requiredHeadroom(guaranteed), this.unreservedAvailable()) ?? {};
      const u = unreservedPart(s).scalars;
      for (const [k, room] of Object.entries(allowance)) {
        if ((u[k] ?? 0) > room + 1e-9) return `it would use ${k} held back for other roles' quota guarantees`;
      }
    }
    return undefined;
  }

  /** Sets an offer filter without moving resources (DECLINE of an optimistic offer). */
  refuse(frameworkId: string, role: string, agentId: string, s: ResourceSet, refuseSeconds: number, now: number): void {
    const a = this.agents.get(agentId);
    const c = this.frameworks.get(frameworkId)?.clients.get(role);
    if (a && c && refuseSeconds > 0) a.filters.set(c.index, s, now + refuseSeconds * 1000, a.version);
  }

  // ---- the allocation round --------------------------------------------------------------------

  allocateRound(now: number, opts: RoundOptions = {}): OfferProposal[] {
    const proposals: OfferProposal[] = [];
    const ids = opts.agentOrder ?? [...this.agents.keys()];
    const guaranteed = [...this.tree.all()].filter((n) => n.quota && Object.keys(n.quota.guarantees).length);
    const available = guaranteed.length ? this.unreservedAvailable() : {};
    const optimistic = opts.optimistic;

    // Optimistic mode: a per-agent budget across both stages, and one proposal per pair.
    const given = new Map<string, number>();
    const proposed = new Set<string>();
    // Quota figures per role, valid until the next allocation in this round.
    const memo: RoundMemo = { unmet: new Map(), limit: new Map(), required: undefined };
    const pass = (stage: 1 | 2): void => {
      for (const agentId of ids) {
        const a = this.agents.get(agentId);
        if (!a || !a.active || a.deactivated || a.free.length === 0) continue;
        if (a.filters.refusesAll(this.nextClient - this.freeClients.length, now, a.version)) continue;
        if (optimistic && (given.get(agentId) ?? 0) >= optimistic.perAgent) continue;
        for (const c of this.order()) {
          const f = c.framework;
          if (!f.active || c.suppressed || c.leaving) continue;
          if (a.filters.refusedAt(c.index, now, a.version)) continue;
          if (stage === 1 && !hasNeed(this.unmetMemo(memo, c.role))) continue;
          if (optimistic && (proposed.has(`${f.id}|${agentId}`) || optimistic.hasOffer(f.id, agentId))) continue;
          const offer = this.candidate(a, c, f, now, stage, guaranteed, available, memo);
          if (!offer) continue;
          proposals.push({ frameworkId: f.id, agentId, role: c.role, resources: offer });
          if (optimistic) {
            proposed.add(`${f.id}|${agentId}`);
            const n = (given.get(agentId) ?? 0) + 1;
            given.set(agentId, n);
            if (n >= optimistic.perAgent) break;
            continue;
          }
          this.allocate(f.id, c.role, agentId, offer);
          memo.unmet.clear();
          memo.limit.clear();
          memo.required = undefined;
          const u = unreservedPart(offer).scalars;
          for (const k of Object.keys(available)) available[k] -= u[k] ?? 0;
          // What this framework could not use (other reservations, revocable) goes to the next.
          if (a.free.length === 0) break;
        }
      }
    };
    if (guaranteed.length) pass(1);
    pass(2);
    return optimistic ? proposals : mergeProposals(proposals);
  }

  /** What `c` would be offered from agent `a` now, or undefined (rules 2–6 of the pipeline). */
  private unmetMemo(memo: RoundMemo, role: string): Record<string, number> {
    let u = memo.unmet.get(role);
    if (!u) memo.unmet.set(role, (u = unmetFor(this.tree.node(role)!)));
    return u;
  }

  private candidate(a: AgentEntry, c: Client, f: FrameworkEntry, now: number, stage: 1 | 2, guaranteed: RoleNode[], available: Record<string, number>, memo: RoundMemo): ResourceSet | undefined {
    const filter = a.filters.peek(c.index, now, a.version);
    if (filter === 'refused') return undefined;
    let offer = eligibleResources(a.free, c.role, f.revocable);
    if (offer.length === 0) return undefined;
    const node = this.tree.node(c.role)!;
    let limit = memo.limit.get(c.role);
    if (!memo.limit.has(c.role)) memo.limit.set(c.role, (limit = limitAllowance(node)));
    // At its limit (no room for any minimum), a role can only be offered what limits do not bound.
    if (limit && !this.minAllocatable.some((q) => Object.entries(q).every(([k, v]) => (limit[k] ?? Infinity) >= v))
      && !offer.some((b) => (b.revocable) || (b.reservation && roleMayUse(b.reservation.role, node.path)))) return undefined;
    // Limits bound everything but the role's own (subtree's) reservations, which already count.
    if (limit) offer = chop(offer, limit, (b) => !b.revocable && !(b.reservation && roleMayUse(b.reservation.role, node.path)));
    if (stage === 1) offer = chopUnreserved(offer, this.unmetMemo(memo, c.role));
    if (guaranteed.length) {
      const allowance = headroomAllowance(node, (memo.required ??= requiredHeadroom(guaranteed)), available);
      if (allowance) offer = chopUnreserved(offer, allowance);
    }
    if (offer.length === 0 || !meetsMinimum(flatten(offer), this.minAllocatable)) return undefined;
    // Filters compare what would actually be offered, after the quota cuts (as Mesos does).
    if (filter === 'check' && a.filters.refuses(c.index, offer, now)) return undefined;
    return offer;
  }

  /** Frameworks in DRF order, cached until any share, weight or membership changes. */
  private order(): Client[] {
    const v = this.tree.orderVersion;
    if (this.orderCache?.version === v) return this.orderCache.clients;
    const clients = this.tree.orderPayloads() as Client[];
    this.orderCache = { version: v, clients };
    return clients;
  }

  private unreservedAvailable(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.agents.values()) {
      if (!a.active || a.deactivated) continue;
      for (const [k, v] of Object.entries(unreservedPart(a.free).scalars)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  private releaseClient(c: Client): void {
    for (const a of this.agents.values()) a.filters.clear(c.index);
    this.freeClients.push(c.index);
  }

  private clientsOf(id: string, roles?: readonly string[]): Client[] {
    const f = this.frameworks.get(id);
    if (!f) return [];
    return [...f.clients.values()].filter((c) => !c.leaving && (!roles || roles.length === 0 || roles.includes(c.role)));
  }

  private charge(frameworkId: string, role: string, s: ResourceSet, sign: 1 | -1): void {
    // Resources coming back after a framework left still leave its role (no phantom allocation).
    const f = this.frameworks.get(frameworkId);
    if (sign > 0 && !f) return;
    // A task restored (master recovery, an agent back from unreachable) in a role its framework has
    // left since: the framework is tracked under that role again, leaving, as UPDATE_FRAMEWORK left it.
    if (sign > 0 && !f!.clients.has(role)) {
      this.addClient(f!, role, true);
      this.orderCache = undefined;
    }
    const r = flatten(nonRevocable(s));
    if (!isEmpty(r)) this.tree.charge(role, frameworkId, r, sign);
    const c = f?.clients.get(role);
    if (sign < 0 && c?.leaving && isEmpty(this.tree.node(role)?.frameworks.allocation(frameworkId) ?? EMPTY)) this.dropClient(c);
  }

  /** Every change to an agent's free resources goes through here (filters and reservations track it). */
  private setFree(a: AgentEntry, free: ResourceSet): void {
    const before = reservedByRole(a.free);
    const after = reservedByRole(free);
    for (const [role, r] of before) this.tree.adjustReservedFree(role, r, -1);
    for (const [role, r] of after) this.tree.adjustReservedFree(role, r, 1);
    a.free = free;
    a.version++;
  }

  private setTotal(total: Resources): void {
    this.total = total;
    this.tree.setTotal(total);
  }
}

/** Free revocable = slack − held, never negative; the rest of `free` as given. */
function withFreeRevocable(a: AgentEntry, freeNonRevocable: ResourceSet): ResourceSet {
  const base = filterSet(freeNonRevocable, (b) => !b.revocable);
  const rev = subtract(revocablePart(a.total), a.revHeld);
  return isEmpty(rev) ? base : setOf([...base, bucket(rev, undefined, true)]);
}

/** One proposal per (framework, role, agent): stage 1 and stage 2 pieces go out as one offer. */
function mergeProposals(list: OfferProposal[]): OfferProposal[] {
  const byKey = new Map<string, OfferProposal>();
  for (const p of list) {
    const key = `${p.frameworkId}|${p.role}|${p.agentId}`;
    const prev = byKey.get(key);
    byKey.set(key, prev ? { ...prev, resources: addSets(prev.resources, p.resources) } : p);
  }
  return byKey.size === list.length ? list : [...byKey.values()];
}

interface RoundMemo {
  readonly unmet: Map<string, Record<string, number>>;
  readonly limit: Map<string, Record<string, number> | undefined>;
  required: Record<string, number> | undefined;
}

function hasNeed(unmet: Record<string, number>): boolean {
  for (const k in unmet) if (unmet[k] > 0) return true;
  return false;
}

function scalarsOnly(r: Resources): Resources {
  return r.ports.length ? { scalars: r.scalars, ports: [] } : r;
}

/** Never let an agent's free resources exceed its total (a recover after a relabel, say). */
function clampTo(s: ResourceSet, limit: ResourceSet): ResourceSet {
  return containsSet(limit, s) ? s : subtractSets(s, subtractSets(s, limit));
}
