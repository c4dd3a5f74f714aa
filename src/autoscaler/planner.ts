// The scale-up planner: pure and synchronous, no I/O, no clock reads (`now` is in the input). It
// answers "what should start now, and why — and why not" for the unmet demand, as a pipeline of
// stages in the manner of Nomad's scheduler stack, each rule a small module in policies/scaling:
//
//   1. units     expand demands (+ headroom as one synthetic unit) into groups of identical units,
//                sorted first-fit-decreasing by dominant size (cpus or mem relative to the largest
//                shape); among equal sizes, constrained units first (they have fewer places to
//                go), then the oldest. Identical units are never split into objects: a group is
//                packed in bulk.
//   2. agents    first-fit onto the free capacity of non-draining agents (in id order) whose
//                attributes satisfy the constraints (fits.ts). Those units need nothing new.
//   2b. booting  first-fit onto instances that are launched but not up yet (PoolState.booting),
//                as empty machines of their type: they were started for this demand already.
//   3. owned     first-fit onto owned machines that are off — static machines listed as off, and
//                new instances of owned pools below max — pools by priority, then cost, then name;
//                new machines are simulated empty and packed first-fit-decreasing.
//   4. rented    in rounds, as Cluster Autoscaler does: every rented (pool, instance type) option
//                is simulated against all remaining units (FFD onto new empty instances of the
//                type, as many as the gates allow); the expander chain (priority, least-waste,
//                cheapest; expander-*.ts) picks one; it is committed; repeat until nothing is
//                left or no option can take anything.
//   5. gates     before any instance is added, the gates say how many more are allowed, in this
//                order: backoff (the provider said "not now"), cooldown, pool max, launch rate,
//                budget (rented only). The first gate that allows none gives the reason.
//   6. report    what is still unplaced becomes `unmet` with the sentence of the rule that blocks
//                most of the options that could hold it, or `impossible` when no pool could ever
//                hold it (reported, never chased).
//
// Packing (bins.ts) uses bin *classes* — identical machines in an identical state (same option,
// same free vector) are one class with a count, so 25 000 new 4-cpu instances cost one class —
// and finds the first machine that fits with a max-segment tree over opening order, so first fit
// over 10 000 agents or thousands of new machines is about O(log n) per placement.
import type { Pool } from '../../providers/pool-config.ts';
import { ownedHourly } from '../accounting/cost-model.ts';
import type {
  AgentCapacity, Constraint, DemandPlacement, Expander, ExpanderName, ExpansionOption, Gate, GateContext, Impossible,
  LaunchGate, LaunchOption, Placements, Plan, PlanInput, PlanStep, PoolState, SkippedOption, Unmet, UnitCount, Vec,
} from './plan-types.ts';
import { capacityVec, demandVec, describeConstraints, describeShape, minus, satisfies, unitsThatFit } from '../../policies/scaling/fits.ts';
import { Bins, FitTree } from './bins.ts';
import { backoffGate } from '../../policies/scaling/backoff.ts';
import { cooldownGate } from '../../policies/scaling/cooldown.ts';
import { poolMaxGate } from '../../policies/scaling/pool-max.ts';
import { launchRateGate } from '../../policies/scaling/launch-rate.ts';
import { budgetGate, money } from '../../policies/scaling/budget.ts';
import { priorityExpander } from '../../policies/scaling/expander-priority.ts';
import { leastWasteExpander } from '../../policies/scaling/expander-least-waste.ts';
import { cheapestExpander } from '../../policies/scaling/expander-cheapest.ts';
import { expandersByName, runChain } from '../../policies/scaling/expander-chain.ts';

export const HEADROOM_DEMAND_ID = 'headroom';

export const EXPANDERS: Readonly<Record<ExpanderName, Expander>> = {
  priority: priorityExpander,
  'least-waste': leastWasteExpander,
  cheapest: cheapestExpander,
};

/**
 * The gates, in the order they are asked. Backoff and cooldown first: they are the pool's state and
 * forbid everything; then pool max (per pool); then the global limits — launch rate, then budget
 * (which only rented options spend), so a pool that is simply full is reported as full.
 */
export const GATES: readonly { readonly name: string; readonly gate: LaunchGate }[] = [
  { name: 'backoff', gate: backoffGate },
  { name: 'cooldown', gate: cooldownGate },
  { name: 'pool max', gate: poolMaxGate },
  { name: 'launch rate', gate: launchRateGate },
  { name: 'budget', gate: budgetGate },
];

const NO_STATE = (name: string): PoolState => ({ name, running: 0, pending: 0 });

/** A demand (or the headroom) as a group of identical units. */
interface Group {
  readonly id: string;
  /** Position in the input (headroom last), for reporting in input order. */
  readonly inputIndex: number;
  readonly vec: Vec;
  readonly constraints: readonly Constraint[] | undefined;
  readonly count: number;
  readonly since: number;
  /** max(cpus, mem) relative to the largest shape: the FFD sort key. */
  dominant: number;
  remaining: number;
  onAgents: number;
  onBooting: number;
  onOwned: number;
  onRented: number;
  /** Some pool could hold it (shape and constraints), ignoring backoff/cooldown/limits. */
  poolCanHold: boolean;
  /** Position in FFD order. */
  order: number;
  /** The rented commit that last took units of it (0: none): invalidates cached simulations. */
  changedAt: number;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What a step accumulates while the plan is built. */
interface StepAcc {
  readonly opt: LaunchOption;
  count: number;
  readonly units: Map<Group, number>;
  reason: string;
}

/** The result of simulating one rented option against the remaining units. */
interface Simulation {
  readonly nodes: number;
  readonly units: number;
  readonly usedCpus: number;
  readonly usedMem: number;
}

/** A rented option in stage 4, with what it can take and its last simulation. */
interface RentedEntry {
  readonly opt: LaunchOption;
  /** Groups it can hold (shape and constraints), in FFD order. */
  readonly eligible: readonly Group[];
  /** eligible[0..next) have no units left. */
  next: number;
  cache: { sim: Simulation; cap: number; at: number } | undefined;
}

/**
 * An option as the expanders see it; simulated on first use, so an expander that only looks at
 * the pool (priority) costs no simulation for the options it drops.
 */
class LazyExpansion implements ExpansionOption {
  private sim: Simulation | undefined;
  constructor(readonly entry: RentedEntry, private readonly run: () => Simulation) {}
  get option(): LaunchOption {
    return this.entry.opt;
  }
  private get s(): Simulation {
    return (this.sim ??= this.run());
  }
  get nodes(): number {
    return this.s.nodes;
  }
  get units(): number {
    return this.s.units;
  }
  get capacity(): { cpus: number; mem: number } {
    return { cpus: this.s.nodes * this.entry.opt.shape.cpus, mem: this.s.nodes * this.entry.opt.shape.mem };
  }
  get used(): { cpus: number; mem: number } {
    return { cpus: this.s.usedCpus, mem: this.s.usedMem };
  }
  get hourlyCost(): number {
    return this.s.nodes * this.entry.opt.price;
  }
}

/** Plans scale-up for `input`. Pure: the same input always gives the same plan. */
export function plan(input: PlanInput): Plan {
  const { now, policy, history } = input;
  const expanders = expandersByName(policy.expanders, EXPANDERS);

  // ---- 1. units -------------------------------------------------------------------------------
  const groups: Group[] = [];
  input.demands.forEach((d, i) => {
    const count = Math.floor(d.count);
    if (!(count > 0)) return;
    groups.push(newGroup(d.id, i, demandVec(d.shape), d.constraints?.length ? d.constraints : undefined, count, d.since));
  });
  if (policy.headroom.cpus > 0 || policy.headroom.mem > 0) {
    groups.push(newGroup(HEADROOM_DEMAND_ID, input.demands.length, demandVec(policy.headroom), undefined, 1, now));
  }
  let maxCpus = 0;
  let maxMem = 0;
  for (const g of groups) {
    maxCpus = Math.max(maxCpus, g.vec.cpus);
    maxMem = Math.max(maxMem, g.vec.mem);
  }
  for (const g of groups) {
    g.dominant = Math.max(maxCpus > 0 ? g.vec.cpus / maxCpus : 0, maxMem > 0 ? g.vec.mem / maxMem : 0);
  }
  groups.sort((a, b) => b.dominant - a.dominant || b.vec.cpus - a.vec.cpus || b.vec.mem - a.vec.mem || b.vec.gpus - a.vec.gpus
    || b.vec.disk - a.vec.disk || (b.constraints?.length ?? 0) - (a.constraints?.length ?? 0) || a.since - b.since || cmp(a.id, b.id) || a.inputIndex - b.inputIndex);

  groups.forEach((g, i) => (g.order = i));
  const smallest = suffixMins(groups);

  // ---- launch options (every pool's types and static machines) -----------------------------------
  const states = new Map<string, PoolState>();
  for (const s of input.poolStates) states.set(s.name, s);
  const stateOf = (pool: string): PoolState => states.get(pool) ?? NO_STATE(pool);
  const options = buildOptions(input);
  const offMachines = new Set<LaunchOption>();
  for (const o of options) {
    if (o.kind === 'power-on' && stateOf(o.pool.name).offMachines?.includes(o.name)) offMachines.add(o);
  }

  // Which groups some pool could ever hold (max > 0, shape fits, constraints satisfied).
  for (const g of groups) {
    for (const o of options) {
      if (o.pool.max > 0 && unitsThatFit(o.shape, g.vec) >= 1 && satisfies(g.constraints, o.attributes)) {
        g.poolCanHold = true;
        break;
      }
    }
  }

  // ---- gates ------------------------------------------------------------------------------------
  const plannedInPool = new Map<string, number>();
  let plannedLaunches = 0;
  let plannedRentedPerHour = 0;
  let plannedOwnedPerHour = 0;
  const gateFor = (o: LaunchOption): Gate & { by?: string } => {
    const ctx: GateContext = {
      now, policy, history, state: stateOf(o.pool.name), plannedInPool: plannedInPool.get(o.pool.name) ?? 0,
      plannedLaunches, plannedRentedPerHour,
    };
    let cap = Infinity;
    let by: string | undefined;
    for (const { name, gate } of GATES) {
      const r = gate(o, ctx);
      if (r.cap <= 0) return { cap: 0, reason: r.reason, by: name };
      if (r.cap < cap) {
        cap = r.cap;
        by = name;
      }
    }
    return { cap, by };
  };
  const steps = new Map<LaunchOption, StepAcc>();
  const record = (o: LaunchOption, machines: number): StepAcc => {
    let s = steps.get(o);
    if (!s) steps.set(o, (s = { opt: o, count: 0, units: new Map(), reason: '' }));
    if (machines > 0) {
      s.count += machines;
      plannedInPool.set(o.pool.name, (plannedInPool.get(o.pool.name) ?? 0) + machines);
      plannedLaunches += machines;
      if (o.ownership === 'rented') plannedRentedPerHour += machines * o.price;
      else plannedOwnedPerHour += machines * o.price;
    }
    return s;
  };
  const addUnits = (s: StepAcc, g: Group, n: number): void => {
    s.units.set(g, (s.units.get(g) ?? 0) + n);
  };

  // Options ruled out before anything is planned (the "why not" of the decision record).
  const skipped = skippedOptions(options, offMachines, gateFor);

  // ---- 2. agents ----------------------------------------------------------------------------------
  const agentPlacements = placeOnAgents(input.agents, groups);

  // ---- 2b. booting ---------------------------------------------------------------------------------
  const booting = new Bins();
  for (const o of options) {
    const n = Math.floor(stateOf(o.pool.name).booting?.[o.name] ?? 0);
    if (n > 0) booting.addEmpty(o, n);
  }
  if (booting.size) {
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi];
      if (g.remaining === 0) continue;
      const k = booting.place(g.vec, g.constraints, g.remaining);
      g.onBooting += g.remaining - k;
      g.remaining = k;
    }
  }

  // ---- 3. owned -----------------------------------------------------------------------------------
  const owned = options.filter((o) => o.ownership === 'owned' && o.pool.max > 0 && (o.kind === 'launch' || offMachines.has(o)));
  owned.sort((a, b) => b.pool.priority - a.pool.priority || a.price - b.price || cmp(a.pool.name, b.pool.name) || a.index - b.index);
  const poweredOn = new Set<LaunchOption>();
  if (owned.length) {
    const bins = new Bins();
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi];
      if (g.remaining === 0 || !g.poolCanHold) continue;
      let k = bins.place(g.vec, g.constraints, g.remaining, (o, n) => addUnits(record(o, 0), g, n));
      while (k > 0) {
        let opened = false;
        for (const o of owned) {
          if (o.kind === 'power-on' && poweredOn.has(o)) continue;
          const per = Math.min(unitsThatFit(o.shape, g.vec), k);
          if (per < 1 || !satisfies(g.constraints, o.attributes)) continue;
          const gate = gateFor(o);
          if (gate.cap <= 0) continue;
          const machines = Math.min(o.kind === 'power-on' ? 1 : Infinity, gate.cap, Math.ceil(k / per));
          const units = Math.min(k, machines * per);
          bins.open(o, g.vec, machines, per, units);
          addUnits(record(o, machines), g, units);
          if (o.kind === 'power-on') poweredOn.add(o);
          k -= units;
          opened = true;
          break;
        }
        if (!opened) break;
      }
      g.onOwned += g.remaining - k;
      g.remaining = k;
    }
  }
  for (const s of steps.values()) s.reason = ownedReason(s);

  // ---- 4. rented ----------------------------------------------------------------------------------
  const live: RentedEntry[] = [];
  for (const o of options) {
    if (o.ownership !== 'rented' || o.pool.max <= 0) continue;
    const eligible: Group[] = [];
    for (const g of groups) {
      if (g.remaining > 0 && unitsThatFit(o.shape, g.vec) >= 1 && satisfies(g.constraints, o.attributes)) eligible.push(g);
    }
    if (eligible.length) live.push({ opt: o, eligible, next: 0, cache: undefined });
  }
  const scratch = new Bins();
  let commits = 0;
  // A cached simulation still holds when none of its groups changed since and the gates allow at
  // least what it used (gates only tighten; a simulation that never reached its cap does not care).
  const evaluate = (e: RentedEntry, cap: number): Simulation => {
    const c = e.cache;
    if (c && (c.cap === cap || (c.sim.nodes < c.cap && c.sim.nodes <= cap)) && unchangedSince(e.eligible, c.at)) return c.sim;
    const sim = simulate(e.opt, e, smallest, cap, scratch, undefined);
    e.cache = { sim, cap, at: commits };
    return sim;
  };
  for (;;) {
    const candidates: LazyExpansion[] = [];
    const gates = new Map<RentedEntry, Gate & { by?: string }>();
    let w = 0;
    for (const e of live) {
      // Gates only tighten as the plan grows, and units only go: a dropped option stays dropped.
      const gate = gateFor(e.opt);
      if (gate.cap <= 0) continue;
      while (e.next < e.eligible.length && e.eligible[e.next].remaining === 0) e.next++;
      if (e.next === e.eligible.length) continue;
      // An eligible group with units left and room for one instance: the option serves ≥ 1 unit.
      live[w++] = e;
      gates.set(e, gate);
      candidates.push(new LazyExpansion(e, () => evaluate(e, gate.cap)));
    }
    live.length = w;
    // Expanders that look only at the pool (priority) run before anything is simulated.
    const choice = runChain(expanders, candidates);
    if (!choice) break;
    const e = (choice.chosen as LazyExpansion).entry;
    const o = e.opt;
    const gate = gates.get(e)!;
    const acc = record(o, 0);
    commits++;
    const sim = simulate(o, e, smallest, gate.cap, scratch, (g, n) => {
      addUnits(acc, g, n);
      g.onRented += n;
      g.remaining -= n;
      g.changedAt = commits;
    });
    e.cache = undefined;
    record(o, sim.nodes);
    const capped = sim.nodes >= gate.cap && gate.by ? `; capped at ${sim.nodes} by the ${gate.by}` : '';
    acc.reason ||= `launch ${sim.nodes} × ${o.name} (${o.capacityType}, ${money(o.price)}/h each) in pool ${o.pool.name} `
      + `for ${unitsOf(acc)}: chosen by ${choice.decidedBy} among ${plural(candidates.length, 'option')}${capped}`;
  }

  // ---- 6. report ----------------------------------------------------------------------------------
  const unmet: Unmet[] = [];
  const impossible: Impossible[] = [];
  const byInput = [...groups].sort((a, b) => a.inputIndex - b.inputIndex);
  const blockers = options.filter((o) => o.ownership === 'rented').sort((a, b) => b.pool.priority - a.pool.priority || a.price - b.price || cmp(a.pool.name, b.pool.name) || a.index - b.index)
    .concat(options.filter((o) => o.ownership === 'owned').sort((a, b) => b.pool.priority - a.pool.priority || a.price - b.price || cmp(a.pool.name, b.pool.name) || a.index - b.index));
  // The plan is complete: gates no longer change, so each option's is asked once.
  const finalGates = new Map<LaunchOption, Gate & { by?: string }>();
  const finalGate = (o: LaunchOption): Gate & { by?: string } => {
    let gate = finalGates.get(o);
    if (!gate) finalGates.set(o, (gate = gateFor(o)));
    return gate;
  };
  let unmetUnits = 0;
  let impossibleUnits = 0;
  for (const g of byInput) {
    if (g.remaining === 0) continue;
    if (!g.poolCanHold && g.onAgents === 0 && g.onBooting === 0) {
      impossible.push({ demandId: g.id, count: g.remaining, reason: impossibleReason(g, options) });
      impossibleUnits += g.remaining;
      continue;
    }
    const reason = g.poolCanHold
      ? blockingReason(g, blockers, offMachines, poweredOn, finalGate)
      : `only existing agents can hold ${describeShape(g.vec)}${g.constraints ? ` with ${describeConstraints(g.constraints)}` : ''}, no pool can, and no agent has room left`;
    unmet.push({ demandId: g.id, count: g.remaining, reason });
    unmetUnits += g.remaining;
  }

  const stepList: PlanStep[] = [...steps.values()].filter((s) => s.count > 0).map((s) => ({
    kind: s.opt.kind,
    pool: s.opt.pool.name,
    ownership: s.opt.ownership,
    capacityType: s.opt.capacityType,
    instanceType: s.opt.name,
    count: s.count,
    unitPrice: s.opt.price,
    hourlyCost: round6(s.count * s.opt.price),
    reason: s.reason,
    units: unitList(s.units),
  }));
  const byDemand: DemandPlacement[] = byInput.map((g) => ({
    demandId: g.id, count: g.count, onAgents: g.onAgents, onBooting: g.onBooting, onOwned: g.onOwned, onRented: g.onRented,
    unmet: g.poolCanHold || g.onAgents + g.onBooting > 0 ? g.remaining : 0, impossible: g.poolCanHold || g.onAgents + g.onBooting > 0 ? 0 : g.remaining,
  }));
  const sum = (f: (g: Group) => number): number => groups.reduce((s, g) => s + f(g), 0);
  return {
    now,
    steps: stepList,
    placements: {
      units: sum((g) => g.count), onAgents: sum((g) => g.onAgents), onBooting: sum((g) => g.onBooting), onOwned: sum((g) => g.onOwned), onRented: sum((g) => g.onRented),
      unmet: unmetUnits, impossible: impossibleUnits, byDemand, agents: agentPlacements,
    },
    unmet,
    impossible,
    skipped,
    launches: plannedLaunches,
    rentedHourlyCost: round6(plannedRentedPerHour),
    ownedHourlyCost: round6(plannedOwnedPerHour),
  };
}

function newGroup(id: string, inputIndex: number, vec: Vec, constraints: readonly Constraint[] | undefined, count: number, since: number): Group {
  return { id, inputIndex, vec, constraints, count, since, dominant: 0, remaining: count, onAgents: 0, onBooting: 0, onOwned: 0, onRented: 0, poolCanHold: false, changedAt: 0, order: 0 };
}

/** Every pool's instance types, and every static machine, as launch options (input order). */
function buildOptions(input: PlanInput): LaunchOption[] {
  const out: LaunchOption[] = [];
  for (const pool of input.pools) {
    const base = { ...pool.attributes, pool: pool.name };
    if (pool.provider === 'static') {
      for (const m of pool.static?.machines ?? []) {
        out.push({
          index: out.length, pool, kind: 'power-on', ownership: 'owned', capacityType: 'owned', name: m.name,
          shape: capacityVec(m), attributes: { ...pool.attributes, ...m.attributes, pool: pool.name }, price: ownedHourly(pool, m.costPerHour) ?? 0,
        });
      }
      continue;
    }
    for (const t of pool.instanceTypes) {
      const spot = pool.capacityType === 'spot';
      const owned = pool.ownership === 'owned';
      out.push({
        index: out.length, pool, kind: 'launch', ownership: pool.ownership, capacityType: owned ? 'owned' : pool.capacityType,
        name: t.name, shape: capacityVec(t), attributes: base,
        price: owned ? ownedHourly(pool) ?? 0 : livePrice(input, pool, t.name, spot) ?? (spot ? t.spotPrice ?? t.price : t.price) ?? 0,
      });
    }
  }
  return out;
}

function livePrice(input: PlanInput, pool: Pool, type: string, spot: boolean): number | undefined {
  const prices = input.prices?.[pool.name];
  if (!prices) return undefined;
  let best: number | undefined;
  for (const p of prices) {
    if (p.instanceType === type && p.capacityType === (spot ? 'spot' : 'on-demand')) best = Math.max(best ?? 0, p.hourly);
  }
  return best;
}

/** Stage 2: first fit of every group onto agents' free capacity (agents in id order). */
function placeOnAgents(agents: readonly AgentCapacity[], groups: Group[]): Placements['agents'] {
  interface Live { readonly id: string; readonly free: Vec; readonly attributes: Readonly<Record<string, string>>; units: Map<Group, number> | undefined }
  const live: Live[] = agents.filter((a) => !a.draining)
    .map((a) => ({ id: a.id, free: { cpus: a.free.cpus, mem: a.free.mem, disk: a.free.disk, gpus: a.free.gpus }, attributes: a.attributes, units: undefined }));
  // Callers usually pass agents in id order already: check before sorting.
  for (let i = 1; i < live.length; i++) {
    if (cmp(live[i - 1].id, live[i].id) > 0) {
      live.sort((a, b) => cmp(a.id, b.id));
      break;
    }
  }
  if (live.length === 0) return [];
  const tree = FitTree.of(live.map((a) => a.free));
  for (const g of groups) {
    const accept = g.constraints ? (slot: number) => satisfies(g.constraints, live[slot].attributes) : undefined;
    let k = g.remaining;
    for (let from = 0; k > 0;) {
      const slot = tree.first(g.vec, from, accept);
      if (slot < 0) break;
      from = slot + 1;
      const a = live[slot];
      const n = Math.min(unitsThatFit(a.free, g.vec), k);
      if (n < 1) continue;
      const f = minus(a.free, g.vec, n);
      a.free.cpus = f.cpus;
      a.free.mem = f.mem;
      a.free.disk = f.disk;
      a.free.gpus = f.gpus;
      tree.set(slot, a.free);
      a.units ??= new Map();
      a.units.set(g, (a.units.get(g) ?? 0) + n);
      k -= n;
    }
    g.onAgents += g.remaining - k;
    g.remaining = k;
  }
  return live.filter((a) => a.units).map((a) => ({ agentId: a.id, units: unitList(a.units!) }));
}

/**
 * Stage 4's simulation: FFD of the remaining units of the entry's groups onto new, empty instances
 * of `o`, at most `cap` of them. With `commit`, reports each group's placed units (the caller
 * updates the groups).
 */
function simulate(o: LaunchOption, e: RentedEntry, smallest: readonly Vec[], cap: number, bins: Bins, commit: ((g: Group, n: number) => void) | undefined): Simulation {
  bins.reset();
  let nodes = 0;
  let units = 0;
  let usedCpus = 0;
  let usedMem = 0;
  const { eligible } = e;
  for (let i = e.next; i < eligible.length; i++) {
    const g = eligible[i];
    if (g.remaining === 0) continue;
    // At the cap, only the open machines can take more: stop once nothing left fits any of them.
    // (smallest[g.order] covers every group after g in FFD order, hence every later eligible one.)
    if (nodes >= cap && !bins.couldFit(smallest[g.order])) break;
    // Eligible groups already satisfy the option's attributes: no constraint check per machine.
    let k = bins.place(g.vec, undefined, g.remaining);
    if (k > 0 && nodes < cap) {
      const per = Math.min(unitsThatFit(o.shape, g.vec), k);
      const machines = Math.min(cap - nodes, Math.ceil(k / per));
      const placed = Math.min(k, machines * per);
      bins.open(o, g.vec, machines, per, placed);
      nodes += machines;
      k -= placed;
    }
    const n = g.remaining - k;
    if (n > 0) {
      units += n;
      usedCpus += n * g.vec.cpus;
      usedMem += n * g.vec.mem;
      commit?.(g, n);
    }
  }
  return { nodes, units, usedCpus, usedMem };
}

function unchangedSince(groups: readonly Group[], at: number): boolean {
  for (let i = 0; i < groups.length; i++) if (groups[i].changedAt > at) return false;
  return true;
}

/** out[i]: the smallest need per dimension among groups[i..]. */
function suffixMins(groups: readonly Group[]): Vec[] {
  const out: Vec[] = new Array(groups.length);
  let m: Vec = { cpus: Infinity, mem: Infinity, disk: Infinity, gpus: Infinity };
  for (let i = groups.length - 1; i >= 0; i--) {
    const v = groups[i].vec;
    m = { cpus: Math.min(m.cpus, v.cpus), mem: Math.min(m.mem, v.mem), disk: Math.min(m.disk, v.disk), gpus: Math.min(m.gpus, v.gpus) };
    out[i] = m;
  }
  return out;
}

function skippedOptions(options: readonly LaunchOption[], off: ReadonlySet<LaunchOption>, gateFor: (o: LaunchOption) => Gate): SkippedOption[] {
  const seen = new Map<string, { pool: string; types: string[]; reason: string }>();
  for (const o of options) {
    if (o.pool.max <= 0 || (o.kind === 'power-on' && !off.has(o))) continue;
    const g = gateFor(o);
    if (g.cap > 0) continue;
    const key = `${o.pool.name}\n${g.reason}`;
    const s = seen.get(key);
    if (s) s.types.push(o.name);
    else seen.set(key, { pool: o.pool.name, types: [o.name], reason: g.reason ?? 'not allowed' });
  }
  return [...seen.values()].map((s) => (s.types.length === 1 ? { pool: s.pool, instanceType: s.types[0], reason: s.reason } : { pool: s.pool, reason: s.reason }));
}

/**
 * Why a group that some pool could hold is still unplaced. Every option that could hold it is
 * blocked by some rule; the rule blocking the most of them is the binding one (a budget that
 * stops 40 types says more than the one pool at its max), and its sentence comes from the
 * best-ranked option it blocks.
 */
function blockingReason(g: Group, blockers: readonly LaunchOption[], off: ReadonlySet<LaunchOption>, used: ReadonlySet<LaunchOption>,
  gateFor: (o: LaunchOption) => Gate & { by?: string }): string {
  const byRule = new Map<string, { count: number; reason: string }>();
  for (const o of blockers) {
    if (o.pool.max <= 0 || unitsThatFit(o.shape, g.vec) < 1 || !satisfies(g.constraints, o.attributes)) continue;
    let rule: string;
    let reason: string;
    if (o.kind === 'power-on' && (!off.has(o) || used.has(o))) {
      rule = 'machines';
      reason = `pool ${o.pool.name} has no powered-off machine left that can hold ${describeShape(g.vec)}`;
    } else {
      const gate = gateFor(o);
      if (gate.cap > 0) continue;
      rule = gate.by ?? 'gate';
      reason = gate.reason ?? `pool ${o.pool.name} cannot start ${o.name} now`;
    }
    const r = byRule.get(rule);
    if (r) r.count++;
    else byRule.set(rule, { count: 1, reason });
  }
  let best: { count: number; reason: string } | undefined;
  for (const r of byRule.values()) if (!best || r.count > best.count) best = r;
  return best?.reason ?? 'no option could take it';
}

function impossibleReason(g: Group, options: readonly LaunchOption[]): string {
  const usable = options.filter((o) => o.pool.max > 0);
  const shapeFits = usable.some((o) => unitsThatFit(o.shape, g.vec) >= 1);
  const shape = describeShape(g.vec);
  if (!shapeFits) return `needs ${shape}: bigger than every instance type and machine of every pool, and no agent has that much free`;
  const c = describeConstraints(g.constraints ?? []);
  if (!usable.some((o) => satisfies(g.constraints, o.attributes))) return `constraints ${c} match no pool, and no agent matching them has room`;
  return `no pool matching ${c} has an instance type or machine that holds ${shape}`;
}

function ownedReason(s: StepAcc): string {
  const o = s.opt;
  const what = o.kind === 'power-on' ? `power on machine ${o.name} (${describeShape(o.shape)})` : `start ${s.count} × ${o.name}`;
  return `${what} in owned pool ${o.pool.name} (priority ${o.pool.priority}) for ${unitsOf(s)}: owned capacity is used before rented`;
}

function unitsOf(s: StepAcc): string {
  let n = 0;
  for (const v of s.units.values()) n += v;
  return `${plural(n, 'unit')} of ${plural(s.units.size, 'demand')}`;
}

function unitList(m: ReadonlyMap<Group, number>): UnitCount[] {
  return [...m].map(([g, count]) => ({ demandId: g.id, count }));
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
