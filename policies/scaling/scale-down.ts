// Scale-down victim selection (pure): which agents to drain now, and why the others stay. An agent
// is a candidate when its allocated share of cpus and of mem are both below the policy's
// utilisation threshold and nothing pending needs its free capacity; it becomes a victim once it
// has been a candidate for `unneededForSeconds`. Victims are taken in the policy's order (rented
// before owned, most expensive first), within the disruption budget, never taking a pool below its
// min. Agents holding reservations or running a task labelled do-not-disrupt are left alone.
import type { ScaleDown } from '../../src/autoscaler/policy-schema.ts';
import { disruptionLimit } from '../../src/autoscaler/policy-schema.ts';

/** A task label that keeps its agent from being drained by scale-down (value "true"). */
export const DO_NOT_DISRUPT_LABEL = 'spillway.io/do-not-disrupt';

export interface ScaleDownAgent {
  readonly id: string;
  readonly pool: string;
  readonly ownership: 'owned' | 'rented';
  /** Price (rented) or amortised cost (owned) of its machine per hour. */
  readonly hourlyCost: number;
  /** Allocated / total, 0…1 (a dimension the agent does not have counts as 0). */
  readonly utilisation: { readonly cpus: number; readonly mem: number };
  /** Holds static or dynamic reservations. */
  readonly reserved: boolean;
  /** Ids of its running tasks labelled do-not-disrupt. */
  readonly doNotDisrupt: readonly string[];
  /** The autoscaler knows the machine behind it and can give it back (others are never drained). */
  readonly releasable: boolean;
  /** Draining already (scale-down, maintenance, spot notice). */
  readonly draining: boolean;
  /** Pending demand was planned onto its free capacity. */
  readonly needed: boolean;
}

export interface ScaleDownPool {
  readonly name: string;
  readonly min: number;
}

export interface ScaleDownInput {
  readonly now: number;
  readonly agents: readonly ScaleDownAgent[];
  readonly pools: readonly ScaleDownPool[];
  /** Agent id → since when it has been a candidate (ms), from the previous evaluation. */
  readonly unneededSince: Readonly<Record<string, number>>;
  readonly policy: Pick<ScaleDown, 'utilisationThreshold' | 'unneededForSeconds' | 'disruptionBudget' | 'order'>;
  /** A reason scale-down must wait this evaluation (cooldown, a scale-up just planned). */
  readonly blocked?: string;
}

export interface Victim {
  readonly agentId: string;
  readonly pool: string;
  readonly reason: string;
}

export interface Kept {
  readonly agentId: string;
  readonly reason: string;
}

export interface ScaleDownResult {
  /** Candidates and since when (the next evaluation's `unneededSince`). */
  readonly unneededSince: Record<string, number>;
  readonly victims: readonly Victim[];
  /** Candidates that were not drained, and why (agents in use are not listed). */
  readonly kept: readonly Kept[];
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;

/** Whether a label list marks a task do-not-disrupt. */
export function isDoNotDisrupt(labels: readonly { key: string; value?: string }[] | undefined): boolean {
  return (labels ?? []).some((l) => l.key === DO_NOT_DISRUPT_LABEL && (l.value ?? 'true').toLowerCase() === 'true');
}

export function selectVictims(input: ScaleDownInput): ScaleDownResult {
  const { now, policy } = input;
  const unneededSince: Record<string, number> = {};
  const kept: Kept[] = [];
  const ready: { agent: ScaleDownAgent; since: number }[] = [];
  const waitMs = policy.unneededForSeconds * 1000;

  for (const a of input.agents) {
    // Machines the autoscaler cannot give back (started by hand, not yet up) are never candidates.
    if (a.draining || !a.releasable) continue;
    const busy = Math.max(a.utilisation.cpus, a.utilisation.mem);
    if (busy >= policy.utilisationThreshold || a.needed) continue;
    const since = input.unneededSince[a.id] ?? now;
    unneededSince[a.id] = since;
    const why = `agent ${a.id} (pool ${a.pool}) is ${pct(a.utilisation.cpus)} cpus / ${pct(a.utilisation.mem)} mem allocated`;
    if (a.reserved) { kept.push({ agentId: a.id, reason: `${why}, but it holds reservations` }); continue; }
    if (a.doNotDisrupt.length) {
      kept.push({ agentId: a.id, reason: `${why}, but task ${a.doNotDisrupt[0]} is labelled ${DO_NOT_DISRUPT_LABEL}` });
      continue;
    }
    if (now - since < waitMs) {
      kept.push({ agentId: a.id, reason: `${why}; unneeded since ${new Date(since).toISOString()}, drained after ${policy.unneededForSeconds} s` });
      continue;
    }
    ready.push({ agent: a, since });
  }

  const order = policy.order;
  ready.sort((x, y) => {
    for (const o of order) {
      if (o === 'rented-first' && x.agent.ownership !== y.agent.ownership) return x.agent.ownership === 'rented' ? -1 : 1;
      if (o === 'most-expensive-first' && x.agent.hourlyCost !== y.agent.hourlyCost) return y.agent.hourlyCost - x.agent.hourlyCost;
    }
    return x.since - y.since || (x.agent.id < y.agent.id ? -1 : x.agent.id > y.agent.id ? 1 : 0);
  });

  if (input.blocked) {
    for (const r of ready) kept.push({ agentId: r.agent.id, reason: `agent ${r.agent.id} is unneeded, but ${input.blocked}` });
    return { unneededSince, victims: [], kept };
  }

  const managed = input.agents.filter((a) => a.releasable);
  const limit = disruptionLimit(policy.disruptionBudget, managed.length);
  let room = limit - managed.filter((a) => a.draining).length;
  const left = new Map<string, number>();
  for (const a of input.agents) if (!a.draining) left.set(a.pool, (left.get(a.pool) ?? 0) + 1);
  const minOf = new Map(input.pools.map((p) => [p.name, p.min]));
  const victims: Victim[] = [];
  for (const { agent: a, since } of ready) {
    const min = minOf.get(a.pool) ?? 0;
    const inPool = left.get(a.pool) ?? 0;
    if (inPool - 1 < min) {
      kept.push({ agentId: a.id, reason: `agent ${a.id} is unneeded, but pool ${a.pool} would go below its min of ${min}` });
      continue;
    }
    if (room <= 0) {
      kept.push({ agentId: a.id, reason: `agent ${a.id} is unneeded, but the disruption budget (${String(policy.disruptionBudget)} = ${limit} at once) is used up` });
      continue;
    }
    room--;
    left.set(a.pool, inPool - 1);
    const secs = Math.round((now - since) / 1000);
    victims.push({
      agentId: a.id, pool: a.pool,
      reason: `drain ${a.ownership} agent ${a.id} (pool ${a.pool}, ${a.hourlyCost}/h): ${pct(Math.max(a.utilisation.cpus, a.utilisation.mem))} allocated, below ${pct(policy.utilisationThreshold)} for ${secs} s`,
    });
  }
  return { unneededSince, victims, kept };
}
