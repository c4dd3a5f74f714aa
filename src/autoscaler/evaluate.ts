// One evaluation of the autoscaler, pure: everything the loop gathered (EvaluationInputs) in, what
// to do and the decision record out. The loop executes the result; `GET /v1/plan` shows it and
// executes nothing. Steps, in order:
//
//   1. reconcile   inventory vs agents vs records (reconcile.ts): registered, boot timeouts,
//                  vanished instances, unknown instances
//   2. notices     spot interruption notices: drain that agent now (no budget, no wait) and add its
//                  allocated resources as one replacement unit of demand
//   3. scale up    demand (past the batch window) + replacements → plan() → launch records with
//                  deterministic job ids; rented pools below their min get a launch too
//   4. scale down  selectVictims() (policies/scaling/scale-down.ts) unless a scale-up was just
//                  planned or the scale-down cooldown runs
import type { Instance, Price } from '../../providers/provider.ts';
import type { Pool } from '../../providers/pool-config.ts';
import { selectVictims, type ScaleDownAgent, type ScaleDownResult } from '../../policies/scaling/scale-down.ts';
import { graceBeforeDeadlineMs } from '../master/agent-drain.ts';
import { plan } from './planner.ts';
import type { AgentCapacity, Demand, Plan, PlanInput, PoolState } from './plan-types.ts';
import { scalingPolicyOf, type Policy } from './policy-schema.ts';
import { agentFor, operatorHold, reconcile, type Finding, type HeldAgent } from './reconcile.ts';
import { ownedHourly } from '../accounting/cost-model.ts';
import type { Decision, DecisionAction } from './decision-log.ts';
import { drainedAgentOf, generationOf, launchJobId, LIVE_STATES, type BackoffRecord, type InstanceRecord, type InterruptionRecord, type LaunchRecord } from './records.ts';

export interface Quantities {
  readonly cpus: number;
  readonly mem: number;
  readonly disk: number;
  readonly gpus: number;
}

/** A registered agent as the autoscaler sees it. */
export interface AgentView {
  readonly id: string;
  readonly hostname: string;
  readonly pool?: string;
  /** The `instance` attribute the providers give their agents. */
  readonly instanceId?: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly total: Quantities;
  readonly used: Quantities;
  readonly free: Quantities;
  readonly reserved: boolean;
  /** Running tasks labelled spillway.io/do-not-disrupt. */
  readonly doNotDisrupt: readonly string[];
  /** Draining or drained (maintenance), or deactivated. */
  readonly draining: boolean;
  /** Connected to the master right now. */
  readonly active: boolean;
}

export interface EvaluationInputs {
  readonly now: number;
  readonly policy: Policy | undefined;
  readonly policyVersion?: number;
  readonly demands: readonly Demand[];
  readonly agents: readonly AgentView[];
  readonly records: readonly InstanceRecord[];
  readonly launches: readonly LaunchRecord[];
  /** Pool → its provider's listing (pools whose listing failed are in inventoryErrors). */
  readonly inventory: Readonly<Record<string, readonly Instance[]>>;
  readonly inventoryErrors: Readonly<Record<string, string>>;
  readonly prices: Readonly<Record<string, readonly Price[]>>;
  readonly backoff: readonly BackoffRecord[];
  readonly launchesInLastMinute: number;
  readonly lastScaleUpAt: Readonly<Record<string, number>>;
  readonly lastScaleDownAt?: number;
  readonly unneeded: Readonly<Record<string, number>>;
  readonly generations: Readonly<Record<string, number>>;
  readonly notices: readonly InterruptionRecord[];
  /** Agents the master holds deactivated, reachable or not (ClusterSource.heldAgents). */
  readonly heldAgents?: readonly HeldAgent[];
}

export interface DrainOrder {
  readonly agentId: string;
  readonly instanceId?: string;
  readonly pool: string;
  readonly graceSeconds: number;
  readonly reason: string;
  /** Spot notice: drain now, whatever the budget. */
  readonly urgent: boolean;
  /** The instance record's launchedAt: which lifetime of the instance this drain ends (job ids). */
  readonly launchedAt?: number;
}

export interface Evaluation {
  readonly now: number;
  readonly plan: Plan | undefined;
  readonly scaleDown: ScaleDownResult | undefined;
  readonly findings: readonly Finding[];
  /** Launches to record and queue (deterministic job ids). */
  readonly launches: readonly LaunchRecord[];
  readonly drains: readonly DrainOrder[];
  /**
   * Instances whose agent registered (the record becomes running). `reactivate`: the agent of an
   * owned machine powered on again, still deactivated by the drain that ended its last lifetime.
   */
  readonly registered: readonly { instanceId: string; agentId: string; reactivate: boolean }[];
  /** The next evaluation's unneeded map (scale-down candidates and since when). */
  readonly unneeded: Record<string, number>;
  /** When a unit held back by the batch window becomes due (ms), if any. */
  readonly nextDueAt?: number;
  readonly decision: Decision;
}

const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;

/**
 * What one machine of a type costs per hour: owned pools' as reports charge it (a static machine's
 * own costPerHour, the pool's, else its amortisation), else the live or listed price (spot for spot
 * pools, the dearest zone).
 */
export function typePrice(pool: Pool, type: string, prices: readonly Price[] | undefined): number {
  if (pool.ownership === 'owned') return ownedHourly(pool, pool.static?.machines.find((m) => m.name === type)?.costPerHour) ?? 0;
  const spot = pool.capacityType === 'spot';
  const live = prices?.filter((p) => p.instanceType === type && p.capacityType === (spot ? 'spot' : 'on-demand')).map((p) => p.hourly);
  if (live?.length) return Math.max(...live);
  const t = pool.instanceTypes.find((x) => x.name === type);
  return (spot ? t?.spotPrice ?? t?.price : t?.price) ?? 0;
}

/**
 * The live record of the instance an agent runs on: by the agent's `instance` attribute, else by
 * the agent the record learned when it registered — a static machine's agent is started by the
 * operator's power-on hook and names its pool, not Spillway's instance id.
 */
export function recordOfAgent(records: readonly InstanceRecord[], a: Pick<AgentView, 'id' | 'instanceId'>): InstanceRecord | undefined {
  return records.find((r) => LIVE_STATES.has(r.state) && (a.instanceId ? r.instanceId === a.instanceId : r.agentId === a.id));
}

/** A static machine's name from its instance id (`<pool>/<machine>`, providers/static). */
const machineName = (pool: string, instanceId: string): string => (instanceId.startsWith(`${pool}/`) ? instanceId.slice(pool.length + 1) : instanceId);

/** A static pool's machines that are on: listed by the provider (not stopped), or with a live record. */
function machinesOn(inputs: Pick<EvaluationInputs, 'inventory' | 'records'>, pool: Pool): Set<string> {
  const listed = (inputs.inventory[pool.name] ?? []).filter((i) => i.state !== 'terminated' && i.state !== 'stopped').map((i) => i.id);
  const live = inputs.records.filter((r) => r.pool === pool.name && LIVE_STATES.has(r.state)).map((r) => r.instanceId);
  return new Set([...listed, ...live].map((id) => machineName(pool.name, id)));
}

/**
 * Static machines that are off and whose agent an operator holds deactivated (operatorHold): not
 * powered on for demand — the agent would come back deactivated and take nothing — until the
 * operator reactivates it. Their agent: by the machine's address or instance id, or the agent its
 * last record knew.
 */
/** operatorHold for the agent a booting record's machine registered. */
const holdOf = (agentId: string, r: InstanceRecord | undefined, held: readonly HeldAgent[]): string | undefined =>
  operatorHold(agentId, r?.drainedAgentId, held, r?.priorUnknown === true);

export function heldMachines(inputs: Pick<EvaluationInputs, 'inventory' | 'records' | 'heldAgents'>, pool: Pool): { machine: string; agentId: string; why: string }[] {
  const held = inputs.heldAgents ?? [];
  if (!held.length || !pool.static) return [];
  const on = machinesOn(inputs, pool);
  return pool.static.machines.filter((m) => !on.has(m.name)).flatMap((m) => {
    const id = `${pool.name}/${m.name}`;
    const last = inputs.records.find((r) => r.instanceId === id);
    const drained = drainedAgentOf(last);
    for (const h of held) {
      if (h.id !== last?.agentId && h.id !== drained && !agentFor({ id, privateAddress: m.address }, [h])) continue;
      const why = operatorHold(h.id, drained, held, last === undefined);
      if (why) return [{ machine: m.name, agentId: h.id, why }];
    }
    return [];
  });
}

/** Pool states for the planner: machines up, launches pending and instances booting by type. */
export function poolStates(inputs: EvaluationInputs, pools: readonly Pool[]): PoolState[] {
  const releasedAgents = new Set(inputs.records.flatMap((r) => (!LIVE_STATES.has(r.state) && r.agentId ? [r.agentId] : [])));
  return pools.map((pool) => {
    const live = inputs.records.filter((r) => r.pool === pool.name && LIVE_STATES.has(r.state));
    const booting: Record<string, number> = {};
    for (const r of live) if (r.state === 'booting') booting[r.instanceType] = (booting[r.instanceType] ?? 0) + 1;
    for (const l of inputs.launches) if (l.pool === pool.name && l.state === 'queued') booting[l.instanceType] = (booting[l.instanceType] ?? 0) + l.count;
    const pending = Object.values(booting).reduce((a, b) => a + b, 0);
    // Agents of the pool that no record covers (started outside the autoscaler, e.g. by `spillway up`).
    // Not the agent of a machine the autoscaler released: an owned machine's drained agent stays
    // listed after the power-off until the master finds it unreachable, and is no machine that is up.
    const outside = inputs.agents.filter((a) => a.pool === pool.name && !recordOfAgent(inputs.records, a) && !releasedAgents.has(a.id)).length;
    const running = live.filter((r) => r.state !== 'booting').length + outside;
    const state: PoolState = { name: pool.name, running, pending, booting };
    if (pool.provider === 'static') {
      const on = machinesOn(inputs, pool);
      const held = new Set(heldMachines(inputs, pool).map((h) => h.machine));
      return { ...state, offMachines: (pool.static?.machines ?? []).map((m) => m.name).filter((n) => !on.has(n) && !held.has(n)) };
    }
    return state;
  });
}

/** Demand units too young for the batch window wait; the rest go to the planner. */
function dueDemands(demands: readonly Demand[], now: number, windowMs: number): { due: Demand[]; waiting: Demand[]; nextDueAt?: number } {
  const due: Demand[] = [];
  const waiting: Demand[] = [];
  let nextDueAt: number | undefined;
  for (const d of demands) {
    if (now - d.since >= windowMs) due.push(d);
    else {
      waiting.push(d);
      nextDueAt = Math.min(nextDueAt ?? Infinity, d.since + windowMs);
    }
  }
  return { due, waiting, nextDueAt };
}

export function evaluate(inputs: EvaluationInputs): Evaluation {
  const { now, policy } = inputs;
  if (!policy) {
    return {
      now, plan: undefined, scaleDown: undefined, findings: [], launches: [], drains: [], registered: [], unneeded: {},
      decision: { kind: 'evaluation', at: now, summary: 'no policy applied: nothing to scale (spillway policy apply FILE)', actions: [], notes: [] },
    };
  }
  const pools = policy.pools;
  const poolByName = new Map(pools.map((p) => [p.name, p]));
  const actions: DecisionAction[] = [];
  const notes: string[] = [];
  for (const [pool, err] of Object.entries(inputs.inventoryErrors)) notes.push(`pool ${pool}: the provider's inventory could not be read (${err}); it is not reconciled this time`);

  // ---- 1. reconcile --------------------------------------------------------------------------------
  const findings = reconcile({
    now,
    bootTimeoutSeconds: Object.fromEntries(pools.map((p) => [p.name, p.bootTimeoutSeconds])),
    inventory: inputs.inventory,
    records: inputs.records,
    launches: inputs.launches,
    agents: inputs.agents,
    unknownInstances: policy.reconciler.unknownInstances,
  });
  // Owned machines are drained without mark_gone, so the agent of one powered on again comes back
  // (same agent id, from its work dir) deactivated: it is reactivated, or it would get no offers —
  // but only if that was the autoscaler's own drain; an operator's deactivation stays.
  const deactivated = new Set(inputs.agents.filter((a) => a.draining).map((a) => a.id));
  const registered = findings.flatMap((f) => {
    if (f.kind !== 'registered') return [];
    const hold = deactivated.has(f.agentId)
      ? holdOf(f.agentId, inputs.records.find((r) => r.instanceId === f.instanceId), inputs.heldAgents ?? []) : undefined;
    actions.push({
      type: 'registered', instanceId: f.instanceId, agentId: f.agentId,
      reason: `instance ${f.instanceId}'s agent ${f.agentId} registered${!deactivated.has(f.agentId) ? '' : hold ? `; left deactivated: ${hold}` : '; reactivated (the autoscaler drained it when the machine was last released)'}`,
    });
    return [{ instanceId: f.instanceId, agentId: f.agentId, reactivate: deactivated.has(f.agentId) && !hold }];
  });
  const reactivated = new Set(registered.filter((r) => r.reactivate).map((r) => r.agentId));
  const gone = new Set(findings.flatMap((f) => (f.kind === 'vanished' || f.kind === 'boot-timeout' ? [f.instanceId] : [])));
  const records = inputs.records.map((r) => {
    const reg = registered.find((x) => x.instanceId === r.instanceId);
    return reg ? { ...r, state: 'running' as const, agentId: reg.agentId } : r;
  }).filter((r) => !gone.has(r.instanceId));
  const goneAgents = new Set(findings.flatMap((f) => (f.kind === 'vanished' && f.agentId ? [f.agentId] : [])));
  const recordOf = (a: AgentView): InstanceRecord | undefined => recordOfAgent(records, a);

  // ---- 2. spot notices -------------------------------------------------------------------------------
  const drains: DrainOrder[] = [];
  const replacements: Demand[] = [];
  const urgent = new Set<string>();
  for (const n of inputs.notices) {
    const agent = inputs.agents.find((a) => (n.agentId && a.id === n.agentId) || a.instanceId === n.instanceId);
    if (!agent || goneAgents.has(agent.id)) continue;
    urgent.add(agent.id);
    const rec = recordOf(agent);
    // Drained already by the master (the agent's own notice) or an operator: the drain job takes it
    // from there and releases the instance once it is DRAINED.
    if (rec?.state !== 'draining') {
      const grace = Math.floor(graceBeforeDeadlineMs(n.deadline, now, policy.scaleDown.drainGraceSeconds * 1000) / 1000);
      drains.push({
        agentId: agent.id, instanceId: n.instanceId, pool: n.pool, graceSeconds: grace, urgent: true, ...(rec ? { launchedAt: rec.launchedAt } : {}),
        reason: `interruption notice for instance ${n.instanceId} (${n.reason}, taken back at ${new Date(n.deadline).toISOString()}): drain agent ${agent.id} now with ${grace} s grace`,
      });
    }
    const used = n.used ?? agent.used;
    if (used.cpus > 0 || used.mem > 0) {
      replacements.push({
        id: `replace:${n.instanceId}`, frameworkId: 'autoscaler', role: '*', count: 1, since: n.receivedAt,
        shape: { cpus: used.cpus, mem: used.mem, disk: used.disk, gpus: used.gpus },
      });
    }
  }

  // ---- 3. scale up -----------------------------------------------------------------------------------
  const windowMs = policy.scaleUp.batchWindowSeconds * 1000;
  const { due, waiting, nextDueAt } = dueDemands(inputs.demands, now, windowMs);
  if (waiting.length) {
    notes.push(`${plural(waiting.reduce((n, d) => n + d.count, 0), 'unit')} of demand wait for the batch window (${policy.scaleUp.batchWindowSeconds} s) until ${new Date(nextDueAt!).toISOString()}`);
  }
  const agents: AgentCapacity[] = inputs.agents.filter((a) => !goneAgents.has(a.id)).map((a) => ({
    id: a.id, ...(a.pool ? { pool: a.pool } : {}), attributes: a.attributes, free: a.free,
    draining: (a.draining && !reactivated.has(a.id)) || !a.active || urgent.has(a.id) || recordOf(a)?.state === 'draining',
  }));
  const states = poolStates({ ...inputs, records }, pools);
  const scaling = scalingPolicyOf(policy);
  const cooldownUntil: Record<string, number> = {};
  for (const [pool, at] of Object.entries(inputs.lastScaleUpAt)) cooldownUntil[pool] = at + policy.cooldowns.scaleUpSeconds * 1000;
  let rentedSpend = 0;
  for (const r of records) if (r.ownership === 'rented' && LIVE_STATES.has(r.state)) rentedSpend += r.unitPrice;
  for (const l of inputs.launches) if (l.ownership === 'rented' && l.state === 'queued') rentedSpend += l.count * l.unitPrice;
  const planInput: PlanInput = {
    now, demands: [...due, ...replacements], agents, pools, poolStates: states, policy: scaling, prices: inputs.prices,
    history: {
      launchesInLastMinute: inputs.launchesInLastMinute, currentRentedSpendPerHour: rentedSpend,
      backoff: inputs.backoff, cooldownUntil,
    },
  };
  const thePlan = plan(planInput);
  const launches: LaunchRecord[] = [];
  const gen = new Map(Object.entries(inputs.generations));
  // Never plan a job id a recorded launch has (a generation left behind by a crash of an older
  // version between recording a launch and raising the counter): it would be skipped as a repeat.
  for (const l of inputs.launches) gen.set(l.pool, Math.max(gen.get(l.pool) ?? 0, generationOf(l.jobId) + 1));
  const nextId = (pool: string, type: string): string => {
    const g = gen.get(pool) ?? 0;
    gen.set(pool, g + 1);
    return launchJobId(pool, type, g);
  };
  for (const s of thePlan.steps) {
    if (s.count <= 0) continue;
    const jobId = nextId(s.pool, s.instanceType);
    launches.push({
      jobId, pool: s.pool, instanceType: s.instanceType, kind: s.kind, count: s.count, capacityType: s.capacityType, ownership: s.ownership,
      unitPrice: s.unitPrice, state: 'queued', reason: s.reason, createdAt: now, updatedAt: now,
    });
    actions.push({ type: s.kind, pool: s.pool, instanceType: s.instanceType, count: s.count, jobId, reason: s.reason });
  }
  // Rented pools below their min: top them up with their cheapest type (the planner only plans for
  // demand). Owned machines are there already — started by hand or by `spillway up` — so an owned
  // pool's min only keeps scale-down from going below it. A min is a floor the operator asked for:
  // it is kept whatever the budget, but within the launch rate (the rest comes next minute).
  let rateLeft = policy.scaleUp.maxLaunchesPerMinute - inputs.launchesInLastMinute - launches.reduce((n, l) => n + l.count, 0);
  for (const pool of pools) {
    if (pool.ownership !== 'rented') continue;
    const st = states.find((x) => x.name === pool.name)!;
    const planned = launches.filter((l) => l.pool === pool.name).reduce((n, l) => n + l.count, 0);
    const short = pool.min - st.running - st.pending - planned;
    if (short <= 0 || pool.provider === 'static' || pool.instanceTypes.length === 0) continue;
    if (inputs.backoff.some((b) => b.pool === pool.name && b.until > now)) { notes.push(`pool ${pool.name} is below its min of ${pool.min} but backing off`); continue; }
    const missing = Math.min(short, Math.max(0, rateLeft));
    if (missing < short) notes.push(`pool ${pool.name} is ${short} below its min of ${pool.min}: ${missing} now, the rest after scaleUp.maxLaunchesPerMinute (${policy.scaleUp.maxLaunchesPerMinute}) allows`);
    if (missing === 0) continue;
    rateLeft -= missing;
    const type = [...pool.instanceTypes].sort((a, b) => typePrice(pool, a.name, inputs.prices[pool.name]) - typePrice(pool, b.name, inputs.prices[pool.name]))[0];
    const price = typePrice(pool, type.name, inputs.prices[pool.name]);
    const jobId = nextId(pool.name, type.name);
    const reason = `start ${missing} × ${type.name} in pool ${pool.name}: it has ${st.running + st.pending} machine(s), below its min of ${pool.min}`;
    launches.push({
      jobId, pool: pool.name, instanceType: type.name, kind: 'launch', count: missing,
      capacityType: pool.capacityType, ownership: 'rented', unitPrice: price,
      state: 'queued', reason, createdAt: now, updatedAt: now,
    });
    actions.push({ type: 'launch', pool: pool.name, instanceType: type.name, count: missing, jobId, reason });
  }
  for (const u of thePlan.unmet) notes.push(`${plural(u.count, 'unit')} of ${u.demandId} unmet: ${u.reason}`);
  for (const u of thePlan.impossible) notes.push(`${plural(u.count, 'unit')} of ${u.demandId} can never be placed: ${u.reason}`);
  for (const s of thePlan.skipped) notes.push(`${s.instanceType ? `${s.pool}/${s.instanceType}` : s.pool} not used: ${s.reason}`);
  for (const pool of pools) {
    for (const h of heldMachines({ ...inputs, records }, pool)) {
      notes.push(`machine ${h.machine} of pool ${pool.name} is not powered on: its agent ${h.agentId} is ${h.why}; \`spillway reactivate ${h.agentId}\` lets the autoscaler use it again`);
    }
  }

  // ---- 4. scale down ---------------------------------------------------------------------------------
  // Agents the demand needs — also demand still inside the batch window: it is planned in a few
  // seconds, and the machine it would go to must not be drained meanwhile.
  const placed = waiting.length ? plan({ ...planInput, demands: [...planInput.demands, ...waiting] }).placements : thePlan.placements;
  const neededAgents = new Set(placed.agents.filter((a) => a.units.length).map((a) => a.agentId));
  const sdAgents: ScaleDownAgent[] = [];
  for (const a of inputs.agents) {
    const pool = a.pool ? poolByName.get(a.pool) : undefined;
    if (!pool || goneAgents.has(a.id)) continue;
    const rec = recordOf(a);
    const share = (used: number, total: number): number => (total > 0 ? used / total : 0);
    sdAgents.push({
      id: a.id, pool: pool.name, ownership: pool.ownership,
      hourlyCost: rec?.unitPrice ?? typePrice(pool, pool.instanceTypes[0]?.name ?? '', inputs.prices[pool.name]),
      utilisation: { cpus: share(a.used.cpus, a.total.cpus), mem: share(a.used.mem, a.total.mem) },
      reserved: a.reserved, doNotDisrupt: a.doNotDisrupt,
      releasable: rec !== undefined && rec.state !== 'booting',
      draining: a.draining || rec?.state === 'draining' || urgent.has(a.id),
      needed: neededAgents.has(a.id),
    });
  }
  const cooldownMs = policy.cooldowns.scaleDownSeconds * 1000;
  const lastChange = Math.max(inputs.lastScaleDownAt ?? -Infinity, ...Object.values(inputs.lastScaleUpAt));
  let blocked: string | undefined;
  if (launches.length) blocked = 'a scale-up is planned in this evaluation';
  else if (Number.isFinite(lastChange) && now - lastChange < cooldownMs) {
    blocked = `scale-down cools down until ${new Date(lastChange + cooldownMs).toISOString()} (cooldowns.scaleDownSeconds ${policy.cooldowns.scaleDownSeconds} after the last scale event)`;
  }
  const sd = selectVictims({ now, agents: sdAgents, pools, unneededSince: inputs.unneeded, policy: policy.scaleDown, blocked });
  for (const v of sd.victims) {
    const a = inputs.agents.find((x) => x.id === v.agentId)!;
    const rec = recordOf(a);
    drains.push({
      agentId: v.agentId, instanceId: rec?.instanceId ?? a.instanceId, pool: v.pool, graceSeconds: policy.scaleDown.drainGraceSeconds, reason: v.reason, urgent: false,
      ...(rec ? { launchedAt: rec.launchedAt } : {}),
    });
  }
  for (const d of drains) actions.push({ type: 'drain', agentId: d.agentId, instanceId: d.instanceId, pool: d.pool, reason: d.reason });
  for (const k of sd.kept) notes.push(k.reason);

  // ---- findings as actions ------------------------------------------------------------------------------
  for (const f of findings) {
    if (f.kind === 'boot-timeout') actions.push({ type: 'terminate', instanceId: f.instanceId, pool: f.pool, instanceType: f.instanceType, reason: f.reason });
    else if (f.kind === 'vanished') {
      if (f.terminate) actions.push({ type: 'terminate', instanceId: f.instanceId, pool: f.pool, reason: f.reason });
      actions.push({ type: 'mark-gone', instanceId: f.instanceId, pool: f.pool, ...(f.agentId ? { agentId: f.agentId } : {}), reason: f.reason });
    }
    else if (f.kind === 'unknown') actions.push({ type: f.action, instanceId: f.instance.id, pool: f.instance.pool, reason: f.reason });
  }

  const units = inputs.demands.reduce((n, d) => n + d.count, 0);
  const launched = launches.reduce((n, l) => n + l.count, 0);
  const parts: string[] = [];
  if (launched) parts.push(`launch ${launches.map((l) => `${l.count} × ${l.instanceType} in ${l.pool}`).join(', ')}`);
  if (drains.length) parts.push(`drain ${drains.map((d) => d.agentId).join(', ')}`);
  const found = findings.filter((f) => f.kind !== 'registered').length;
  if (found) parts.push(`${plural(found, 'reconciler finding')}`);
  const unmet = thePlan.unmet.reduce((n, u) => n + u.count, 0);
  const summary = parts.length
    ? `${parts.join('; ')}${unmet ? ` (${plural(unmet, 'unit')} still unmet)` : ''}`
    : units === 0 ? 'no pending demand; nothing to change'
      : unmet ? `${plural(unmet, 'unit')} of demand unmet and nothing can be launched now`
        : `${plural(units, 'unit')} of demand fit on the capacity there is (or is booting)`;
  const poolSummary = Object.fromEntries(states.map((s) => [s.name, { running: s.running, pending: s.pending }]));
  const decision: Decision = {
    kind: 'evaluation', at: now, summary, actions, notes,
    inputs: {
      policyVersion: inputs.policyVersion, demandUnits: units, dueUnits: due.reduce((n, d) => n + d.count, 0) + replacements.length,
      agents: inputs.agents.length, pools: poolSummary, rentedSpendPerHour: Math.round(rentedSpend * 1e6) / 1e6,
      budgetPerHour: policy.budget.perHour, launchesInLastMinute: inputs.launchesInLastMinute,
      placements: { onAgents: thePlan.placements.onAgents, onBooting: thePlan.placements.onBooting, onOwned: thePlan.placements.onOwned, onRented: thePlan.placements.onRented, unmet, impossible: thePlan.placements.impossible },
    },
  };
  return { now, plan: thePlan, scaleDown: sd, findings, launches, drains, registered, unneeded: sd.unneededSince, ...(nextDueAt !== undefined ? { nextDueAt } : {}), decision };
}

