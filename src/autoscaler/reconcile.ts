// The reconciler (pure): the providers' inventory against the registered agents and the
// autoscaler's own records. Its findings become actions and decision records:
//
//   registered  a booting instance's agent registered and is connected: the record becomes running
//   boot-timeout an instance with no agent after its pool's boot timeout: terminate, back off
//   vanished    an agent (or record) whose instance the provider no longer has (spot reclaim,
//               someone deleted it): mark the agent gone, so its tasks are reported lost and the
//               demand is planned again. A rented instance the provider reports stopped (EC2
//               stopped, GCE TERMINATED) with no connected agent is vanished too, and terminated:
//               it serves nothing, and a stopped VM still bills for its disks. Owned machines that
//               are stopped are just off.
//   unknown     an instance tagged for this cluster and pool that no record and no agent knows:
//               terminated or adopted, per `reconciler.unknownInstances`
import type { Instance } from '../../providers/provider.ts';
import { LIVE_STATES, type InstanceRecord, type LaunchRecord } from './records.ts';

/** What the reconciler needs of an agent: its id and the machine it says it runs on. */
export interface AgentRef {
  readonly id: string;
  readonly pool?: string;
  /** The `instance` attribute the providers give their agents. */
  readonly instanceId?: string;
  readonly hostname: string;
  /** Connected to the master now (absent: assumed connected). */
  readonly active?: boolean;
}

export type Finding =
  | { readonly kind: 'registered'; readonly instanceId: string; readonly agentId: string; readonly pool: string }
  | { readonly kind: 'boot-timeout'; readonly instanceId: string; readonly pool: string; readonly instanceType: string; readonly reason: string }
  | { readonly kind: 'vanished'; readonly instanceId: string; readonly pool: string; readonly agentId?: string; readonly reason: string; readonly terminate?: boolean }
  | { readonly kind: 'unknown'; readonly instance: Instance; readonly action: 'terminate' | 'adopt'; readonly reason: string };

export interface ReconcileInput {
  readonly now: number;
  /** Pool name → boot timeout (s), for the pools of the policy in force. */
  readonly bootTimeoutSeconds: Readonly<Record<string, number>>;
  /** Pool name → what its provider listed; a pool whose listing failed is absent (no findings). */
  readonly inventory: Readonly<Record<string, readonly Instance[]>>;
  readonly records: readonly InstanceRecord[];
  readonly launches: readonly LaunchRecord[];
  readonly agents: readonly AgentRef[];
  readonly unknownInstances: 'terminate' | 'adopt';
}

/**
 * The agent running on an instance: by the `instance` attribute, else by address (cloud agents,
 * static machines). Of several, the connected one: the listing of an owned machine's agent from
 * before it was powered off may still be there.
 */
export function agentFor<A extends AgentRef>(instance: { id: string; privateAddress?: string }, agents: readonly A[]): A | undefined {
  const named = agents.filter((a) => a.instanceId === instance.id);
  const addr = instance.privateAddress;
  const found = named.length ? named : addr && addr !== '127.0.0.1' ? agents.filter((a) => !a.instanceId && a.hostname === addr) : [];
  return found.find((a) => a.active !== false) ?? found[0];
}

/** An agent the master holds deactivated, reachable or not: drained (DRAIN_AGENT), or by DEACTIVATE_AGENT. */
export interface HeldAgent extends AgentRef {
  /** DEACTIVATE_AGENT: only operators call it (the autoscaler only drains). */
  readonly deactivated: boolean;
}

/**
 * Why a held agent of an owned machine is not the autoscaler's to reactivate, if it is not. The
 * autoscaler only drains, and its records say which agent it drained when it last released the
 * machine (`drained`, records.ts drainedAgentOf): that hold it lifts when the machine is powered
 * on again. DEACTIVATE_AGENT, or a drain it did not make, is an operator's and stays.
 */
export function operatorHold(agentId: string, drained: string | undefined, held: readonly HeldAgent[], priorUnknown = false): string | undefined {
  if (held.some((h) => h.id === agentId && h.deactivated)) return 'deactivated by an operator (DEACTIVATE_AGENT)';
  // No record of the machine's last lifetime: a drain is taken as the autoscaler's (records from
  // before static records were kept are pruned after a day; the machine must not stay unused).
  if (priorUnknown) return undefined;
  if (drained !== agentId) return 'drained or deactivated, not by the autoscaler';
  return undefined;
}

export function reconcile(input: ReconcileInput): Finding[] {
  const out: Finding[] = [];
  const byId = new Map(input.records.map((r) => [r.instanceId, r]));
  const agentOfInstance = new Map<string, AgentRef>();
  for (const a of input.agents) if (a.instanceId) agentOfInstance.set(a.instanceId, a);
  // A launch still in flight may have instances the records do not list yet: not unknown.
  const launching = new Set(input.launches.filter((l) => l.state === 'queued').map((l) => l.pool));

  for (const [pool, listed] of Object.entries(input.inventory)) {
    const present = new Map(listed.filter((i) => i.state !== 'terminated').map((i) => [i.id, i]));
    for (const r of input.records) {
      if (r.pool !== pool || !LIVE_STATES.has(r.state)) continue;
      const inst = present.get(r.instanceId);
      const agent = agentOfInstance.get(r.instanceId) ?? (inst ? agentFor(inst, input.agents) : undefined);
      if (!inst) {
        out.push({
          kind: 'vanished', instanceId: r.instanceId, pool, ...(agent ? { agentId: agent.id } : {}),
          reason: `instance ${r.instanceId} of pool ${pool} is gone from the provider (${r.capacityType === 'spot' ? 'spot reclaim?' : 'deleted outside Spillway?'})${agent ? `: its agent ${agent.id} is marked gone` : ''}`,
        });
        continue;
      }
      if (inst.state === 'stopped' && r.ownership === 'rented' && (!agent || agent.active === false)) {
        out.push({
          kind: 'vanished', instanceId: r.instanceId, pool, ...(agent ? { agentId: agent.id } : {}), terminate: true,
          reason: `instance ${r.instanceId} of pool ${pool} is stopped at the provider with no connected agent: terminated${agent ? `, its agent ${agent.id} marked gone` : ''}`,
        });
        continue;
      }
      if (r.state !== 'booting') continue;
      // Connected: a re-powered owned machine's agent from its last lifetime may still be listed.
      if (agent && agent.active !== false) {
        out.push({ kind: 'registered', instanceId: r.instanceId, agentId: agent.id, pool });
        continue;
      }
      const timeout = (input.bootTimeoutSeconds[pool] ?? 600) * 1000;
      if (input.now - r.launchedAt >= timeout) {
        out.push({
          kind: 'boot-timeout', instanceId: r.instanceId, pool, instanceType: r.instanceType,
          reason: `instance ${r.instanceId} (pool ${pool}, ${r.instanceType}) registered no agent within its boot timeout of ${timeout / 1000} s: terminated, the pool backs off`,
        });
      }
    }
    for (const inst of present.values()) {
      if (byId.has(inst.id)) continue;
      if (agentFor(inst, input.agents)) continue;
      if (launching.has(pool)) continue;
      const timeout = (input.bootTimeoutSeconds[pool] ?? 600) * 1000;
      if (input.now - inst.launchedAt < timeout) continue; // it may be booting for a launch we have not recorded
      out.push({
        kind: 'unknown', instance: inst, action: input.unknownInstances,
        reason: `instance ${inst.id} in pool ${pool} is tagged for this cluster but no record or agent knows it: ${input.unknownInstances === 'adopt' ? 'adopted' : 'terminated'} (reconciler.unknownInstances: ${input.unknownInstances})`,
      });
    }
  }
  return out;
}
