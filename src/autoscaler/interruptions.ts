// Spot interruption notices that reach the master from outside the providers' own
// `interruptions()`: an agent that saw its cloud's notice (or an operator) reports it with
// POST /v1/interruptions. The notice is recorded once per instance and logged; the next evaluation
// drains the agent at once and plans a replacement (evaluate.ts, step 2).
import type { Autoscaler } from './autoscaler.ts';
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
