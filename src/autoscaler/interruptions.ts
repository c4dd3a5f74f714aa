// Spot interruption notices that reach the master from outside the providers' own
// `interruptions()`: an agent that read its cloud's notice (the agent protocol's
// INTERRUPTION_NOTICE) or an operator (POST /v1/interruptions) reports it. The notice is recorded
// once per instance and logged; the next evaluation — run at once — drains the agent and plans a
// replacement (evaluate.ts, step 2).
import { badRequest, notFound } from '../common/errors.ts';
import type { Master } from '../master/master.ts';
import type { Autoscaler } from './autoscaler.ts';
import { masterSource } from './cluster-source.ts';
import { autoscalerMetrics } from './metrics.ts';
import type { InterruptionRecord } from './records.ts';

export async function recordInterruption(a: Pick<Autoscaler, 'records' | 'decisions'> & { metrics?: Autoscaler['metrics'] }, n: InterruptionRecord): Promise<InterruptionRecord> {
  if (!(await a.records.recordNotice(n))) {
    return (await a.records.notices()).find((x) => x.instanceId === n.instanceId) ?? n;
  }
  if (a.metrics) autoscalerMetrics(a.metrics).interruptions.inc({ pool: n.pool, source: n.source });
  await a.decisions.append({
    kind: 'interruption', at: n.receivedAt,
    summary: `interruption notice for instance ${n.instanceId}${n.agentId ? ` (agent ${n.agentId})` : ''} of pool ${n.pool}: ${n.reason}`,
    actions: [], notes: [`taken back at ${new Date(n.deadline).toISOString()}; the agent is drained at once and a replacement planned`],
  });
  return n;
}

export interface InterruptionReport {
  /** Exactly one of the two. */
  agentId?: string;
  instanceId?: string;
  /** When the machine is taken back, ms since the epoch. */
  deadline: number;
  reason: string;
  source: 'agent' | 'operator';
}

/**
 * Records a notice for an agent or an instance and has the autoscaler evaluate at once. Throws a
 * 404 for an agent that is not registered or a machine nobody knows, a 400 for an agent on no
 * instance the autoscaler knows of (an owned machine: nothing to replace or release).
 */
export async function reportInterruption(a: Autoscaler, master: Master, r: InterruptionReport): Promise<InterruptionRecord> {
  const agents = masterSource(master).agents();
  const agent = r.agentId ? agents.find((x) => x.id === r.agentId) : agents.find((x) => x.instanceId === r.instanceId);
  if (r.agentId && !agent) throw notFound(`agent_id: agent ${r.agentId} is not registered`);
  const instanceId = r.instanceId ?? agent?.instanceId;
  if (!instanceId) throw badRequest(`agent_id: agent ${r.agentId} runs on no instance the autoscaler knows (it has no 'instance' attribute)`);
  const rec = await a.records.instance(instanceId);
  if (!rec && !agent) throw notFound(`instance_id: instance ${instanceId} is not known to the autoscaler and no agent runs on it`);
  const notice = await recordInterruption(a, {
    instanceId, ...(agent ? { agentId: agent.id, used: { ...agent.used } } : {}), pool: rec?.pool ?? agent?.pool ?? 'unknown',
    deadline: r.deadline, reason: r.reason, source: r.source, receivedAt: master.clock.now(),
  });
  a.loop?.poke();
  return notice;
}

/**
 * An agent's own notice, for the autoscaler when the agent runs on an instance it rented (it has the
 * instance's record): true once recorded. False for any other machine — nothing to replace or
 * release — which the master drains by itself.
 */
export async function handOffAgentInterruption(a: Autoscaler, master: Master, agentId: string, deadline: number, reason: string): Promise<boolean> {
  const instanceId = masterSource(master).agents().find((x) => x.id === agentId)?.instanceId;
  if (!instanceId || !(await a.records.instance(instanceId))) return false;
  await reportInterruption(a, master, { agentId, deadline, reason, source: 'agent' });
  return true;
}
