// The planner's input and output. The planner (planner.ts) is a pure function of a PlanInput:
// no I/O, no clock reads (`now` is part of the input), the same input always gives the same Plan.
// Callers gather the input from the demand tracker, the allocator's agents, the pool files, the
// providers' inventories and the autoscaler's own history; the Plan's steps become launch jobs and
// the whole Plan is the evaluation's decision record (what it did, and why — and why not).
import type { Pool } from '../../providers/pool-config.ts';
import type { Price } from '../../providers/provider.ts';

/** A resource vector; mem and disk in MB. Missing disk/gpus mean 0 in a demand. */
export interface Shape {
  readonly cpus: number;
  readonly mem: number;
  readonly disk?: number;
  readonly gpus?: number;
}

/** The unit must land on a machine whose attribute `attribute` equals `value`. */
export interface Constraint {
  readonly attribute: string;
  readonly value: string;
}

/** `count` units of one shape a framework asked for (REQUEST) that free capacity cannot hold. */
export interface Demand {
  readonly id: string;
  readonly frameworkId: string;
  readonly role: string;
  readonly shape: Shape;
  /** Units of `shape`; non-integers are floored, ≤ 0 is ignored. */
  readonly count: number;
  readonly constraints?: readonly Constraint[];
  /** When the demand was first seen (ms): among equally large units the older goes first. */
  readonly since: number;
}

/** A registered agent and what it has free right now. */
export interface AgentCapacity {
  readonly id: string;
  readonly pool?: string;
  readonly free: { readonly cpus: number; readonly mem: number; readonly disk: number; readonly gpus: number };
  readonly attributes: Readonly<Record<string, string>>;
  /** Draining agents (maintenance, scale-down) take no new units. */
  readonly draining?: boolean;
}

/** What the autoscaler knows about a pool right now (from the provider's inventory). */
export interface PoolState {
  readonly name: string;
  /** Instances/machines up (registered or not). */
  readonly running: number;
  /** Launched or powered on, not yet up. */
  readonly pending: number;
  /**
   * Static pools: names of machines known to be powered off (only these may be powered on).
   * Absent means none is known to be off.
   */
  readonly offMachines?: readonly string[];
  /**
   * Optional: of the pending ones, how many of each instance type (static pools: machine name) are
   * booting — launched, agent not registered yet. Their capacity is counted as empty machines
   * that units can be packed onto, so the same demand is not launched for twice while they boot.
   */
  readonly booting?: Readonly<Record<string, number>>;
}

export type ExpanderName = 'priority' | 'least-waste' | 'cheapest';

export interface ScalingPolicy {
  /** Applied in order to the rented options; each keeps its best set, ties go to the next. */
  readonly expanders: readonly ExpanderName[];
  /** Instances launched + machines powered on, over any pool, per rolling minute. */
  readonly maxLaunchesPerMinute: number;
  /** Money per hour for rented capacity (running + planned); owned capacity is not counted. */
  readonly budgetPerHour: number;
  /** Spare capacity to keep: one synthetic unit of this shape (zero = none). */
  readonly headroom: { readonly cpus: number; readonly mem: number };
}

/** A pool (or one instance type / static machine of it) that failed to launch and must wait. */
export interface BackoffEntry {
  readonly pool: string;
  /** Absent: the whole pool backs off. For static pools this is a machine name. */
  readonly instanceType?: string;
  /** ms since the epoch. */
  readonly until: number;
  /** The provider's word for the failure, e.g. `InsufficientInstanceCapacity`. */
  readonly reason: string;
}

export interface PlanHistory {
  /** Instances launched and machines powered on during the last 60 s. */
  readonly launchesInLastMinute: number;
  /** Hourly price of the rented instances running or pending now. */
  readonly currentRentedSpendPerHour: number;
  readonly backoff: readonly BackoffEntry[];
  /** Pool name → no scale-up before this time (ms). */
  readonly cooldownUntil: Readonly<Record<string, number>>;
}

export interface PlanInput {
  /** ms since the epoch; the planner never reads a clock. */
  readonly now: number;
  readonly demands: readonly Demand[];
  readonly agents: readonly AgentCapacity[];
  readonly pools: readonly Pool[];
  /** Runtime state per pool, by name; a pool without one has nothing running or pending. */
  readonly poolStates: readonly PoolState[];
  readonly policy: ScalingPolicy;
  readonly history: PlanHistory;
  /**
   * Live prices by pool name (Provider.prices), overriding the pool file's price book for the
   * matching instance type and capacity type; with several zones the highest price counts.
   */
  readonly prices?: Readonly<Record<string, readonly Price[]>>;
}

/** Units of one demand placed somewhere. */
export interface UnitCount {
  readonly demandId: string;
  readonly count: number;
}

export interface PlanStep {
  /** `power-on`: a named off machine of a static pool. `launch`: new instances of a type. */
  readonly kind: 'power-on' | 'launch';
  readonly pool: string;
  readonly ownership: 'owned' | 'rented';
  readonly capacityType: 'on-demand' | 'spot' | 'owned';
  /** The instance type; for power-on the machine name (what the static provider expects). */
  readonly instanceType: string;
  readonly count: number;
  /** Price of one instance per hour (owned: amortised cost). */
  readonly unitPrice: number;
  /** count × unitPrice. */
  readonly hourlyCost: number;
  /** One sentence: what and why. */
  readonly reason: string;
  /** The pending units these instances are planned to hold, by demand. */
  readonly units: readonly UnitCount[];
}

/** Where units went, counted (per demand and in total). */
export interface PlacementCounts {
  /** Units that fit on agents' free capacity now: they need nothing new. */
  readonly onAgents: number;
  /** Units that fit on instances still booting (PoolState.booting): they need nothing new. */
  readonly onBooting: number;
  readonly onOwned: number;
  readonly onRented: number;
  readonly unmet: number;
  readonly impossible: number;
}

export interface DemandPlacement extends PlacementCounts {
  readonly demandId: string;
  readonly count: number;
}

export interface Placements extends PlacementCounts {
  readonly units: number;
  readonly byDemand: readonly DemandPlacement[];
  /** Which agents' free capacity holds which units (agents in id order). */
  readonly agents: readonly { readonly agentId: string; readonly units: readonly UnitCount[] }[];
}

export interface Unmet {
  readonly demandId: string;
  readonly count: number;
  /** One sentence: the rule that blocks most of the options that could hold it (budget, max …). */
  readonly reason: string;
}

export interface Impossible {
  readonly demandId: string;
  readonly count: number;
  /** Why no pool could ever hold it (one sentence). */
  readonly reason: string;
}

/** A pool / instance type / machine ruled out before packing, and why. */
export interface SkippedOption {
  readonly pool: string;
  readonly instanceType?: string;
  readonly reason: string;
}

export interface Plan {
  readonly now: number;
  readonly steps: readonly PlanStep[];
  readonly placements: Placements;
  readonly unmet: readonly Unmet[];
  readonly impossible: readonly Impossible[];
  readonly skipped: readonly SkippedOption[];
  /** Instances launched + machines powered on by the steps. */
  readonly launches: number;
  /** Planned hourly cost of rented steps (excluding what already runs). */
  readonly rentedHourlyCost: number;
  /** Planned amortised hourly cost of owned steps. */
  readonly ownedHourlyCost: number;
}

// ---- Internals shared by the planner and the rules in policies/scaling --------------------------

/** A resource vector with every dimension present; `Infinity` = not limited (unknown disk). */
export interface Vec {
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
}

/** Something the planner can start: one instance type of a pool, or one static machine. */
export interface LaunchOption {
  readonly index: number;
  readonly pool: Pool;
  readonly kind: 'power-on' | 'launch';
  readonly ownership: 'owned' | 'rented';
  readonly capacityType: 'on-demand' | 'spot' | 'owned';
  /** Instance type name, or machine name for power-on. */
  readonly name: string;
  readonly shape: Readonly<Vec>;
  readonly attributes: Readonly<Record<string, string>>;
  /** Per instance per hour. */
  readonly price: number;
}

/** What the rules that limit scale-up see: the input plus what this plan already planned. */
export interface GateContext {
  readonly now: number;
  readonly policy: ScalingPolicy;
  readonly history: PlanHistory;
  readonly state: PoolState;
  /** Instances planned so far for the option's pool. */
  readonly plannedInPool: number;
  /** Instances planned so far over all pools. */
  readonly plannedLaunches: number;
  /** Hourly cost of rented instances planned so far. */
  readonly plannedRentedPerHour: number;
}

/** How many more instances of an option a rule allows (Infinity: no limit), and why none. */
export interface Gate {
  readonly cap: number;
  /** Set when cap is 0: the sentence shown in unmet/skipped. */
  readonly reason?: string;
}

/** One rule limiting scale-up (policies/scaling): pure, cheap, asked per option and round. */
export type LaunchGate = (option: LaunchOption, ctx: GateContext) => Gate;

/** A rented option evaluated against the pending units, as the expanders see it. */
export interface ExpansionOption {
  readonly option: LaunchOption;
  /** New instances needed (already capped by the gates). */
  readonly nodes: number;
  /** Pending units those instances hold. */
  readonly units: number;
  readonly capacity: { readonly cpus: number; readonly mem: number };
  readonly used: { readonly cpus: number; readonly mem: number };
  readonly hourlyCost: number;
}

/** Keeps its best options (ties all kept), as Cluster Autoscaler's expander filters do. */
export interface Expander {
  readonly name: ExpanderName;
  best(options: readonly ExpansionOption[]): ExpansionOption[];
  /** How the chosen option scored, for the step's reason (e.g. `waste 0.12`). */
  describe(option: ExpansionOption): string;
}
