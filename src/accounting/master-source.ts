// What the sampler reads from the master: a snapshot of every agent with its live tasks. The only
// place accounting looks inside the master's mirror.
import type { Master } from '../master/master.ts';
import { isTerminal } from '../mesos/task-status.ts';
import { flatten, nonRevocable } from '../resources/resource-set.ts';
import { scalar, type Resources } from '../resources/resources.ts';
import type { MesosAttribute } from '../master/records.ts';
import type { Amounts } from './cost-model.ts';
import type { AgentSnapshot } from './sample.ts';

export interface AccountingSource {
  agents(): AgentSnapshot[];
}

const amounts = (r: Resources): Amounts => ({ cpus: scalar(r, 'cpus'), mem: scalar(r, 'mem'), gpus: scalar(r, 'gpus') });

export function attributeMap(attrs: readonly MesosAttribute[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of attrs) {
    if (a.type === 'TEXT' && a.text) out[a.name] = a.text.value;
    else if (a.type === 'SCALAR' && a.scalar) out[a.name] = String(a.scalar.value);
  }
  return out;
}

export function masterSource(m: Master): AccountingSource {
  return {
    // Departed agents (removed, with unreachableSince = when they left) are billed to then; an
    // interval after that has nothing of them, so they cost only the end they have.
    agents: () => [...m.state.agents.values(), ...m.departedAgents.filter((d) => !m.state.agents.has(d.id)).map((record) => ({ record }))].map(({ record }) => ({
      id: record.id,
      hostname: record.hostname,
      attributes: attributeMap(record.attributes),
      total: amounts(flatten(nonRevocable(record.resources))),
      registeredAt: record.registeredAt,
      ...(record.unreachableSince !== undefined ? { unreachableSince: record.unreachableSince } : {}),
      ...(record.revocable ? { slack: { cpus: scalar(record.revocable, 'cpus'), mem: scalar(record.revocable, 'mem') } } : {}),
      tasks: m.state.tasksOfAgent(record.id)
        .filter((t) => !isTerminal(t.state) && t.state !== 'TASK_UNREACHABLE')
        .map((t) => ({
          role: t.role,
          frameworkId: t.frameworkId,
          frameworkName: m.state.frameworks.get(t.frameworkId)?.record.info.name ?? t.frameworkId,
          running: t.state === 'TASK_RUNNING' || t.state === 'TASK_KILLING',
          allocated: amounts(flatten(nonRevocable(t.resources))),
        }))
        .filter((t) => t.allocated.cpus > 0 || t.allocated.mem > 0 || t.allocated.gpus > 0),
    })),
  };
}
