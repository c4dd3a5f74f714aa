// What the leader's autoscaler loop reads from the master it runs beside: the demand frameworks
// expressed with REQUEST, the registered agents with their free and used resources, the agents
// held deactivated (also unreachable ones: a static machine that is off), and one
// action — marking an agent whose machine vanished as gone. In-process, because the loop runs only
// on the leader, where the mirror is.
import type { Master } from '../master/master.ts';
import type { AgentLive } from '../master/records.ts';
import { isTerminal } from '../mesos/task-status.ts';
import { flatten, nonRevocable } from '../resources/resource-set.ts';
import { subtract, type Resources } from '../resources/resources.ts';
import { isDoNotDisrupt } from '../../policies/scaling/scale-down.ts';
import type { AgentView, Quantities } from './evaluate.ts';
import type { HeldAgent } from './reconcile.ts';
import type { Demand } from './plan-types.ts';

export interface ClusterSource {
  demands(): Demand[];
  agents(): AgentView[];
  /** Agents the master holds deactivated (drained, or DEACTIVATE_AGENT), reachable or not. */
  heldAgents(): HeldAgent[];
  /** A cheap fingerprint of the demand: when it changes, the loop evaluates soon. */
  demandSignature(): string;
  /** The agent's machine is gone: report its tasks lost and forget it, so demand is re-planned. */
  markAgentGone(agentId: string, why: string): Promise<void>;
}

const q = (r: Resources): Quantities => ({ cpus: r.scalars.cpus ?? 0, mem: r.scalars.mem ?? 0, disk: r.scalars.disk ?? 0, gpus: r.scalars.gpus ?? 0 });

function attributesOf(a: AgentLive): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of a.record.attributes) out[x.name] = x.text?.value ?? (x.scalar ? String(x.scalar.value) : '');
  return out;
}

/** DRAIN_AGENT / DEACTIVATE_AGENT keep offers away from the agent: it takes no new units. */
function isDraining(m: Master, a: AgentLive): boolean {
  return m.maintenance.drains.isDeactivated(a.record.id);
}

export function masterSource(m: Master): ClusterSource {
  return {
    demands() {
      const out: Demand[] = [];
      for (const units of m.demands.values()) {
        for (const u of units) {
          out.push({
            id: u.id, frameworkId: u.frameworkId, role: u.role, count: u.count, since: u.since,
            shape: { cpus: u.shape.scalars.cpus ?? 0, mem: u.shape.scalars.mem ?? 0, disk: u.shape.scalars.disk ?? 0, gpus: u.shape.scalars.gpus ?? 0 },
            ...(u.constraints.length ? { constraints: u.constraints } : {}),
          });
        }
      }
      return out;
    },
    demandSignature() {
      let s = '';
      for (const [fid, units] of m.demands) s += `${fid}:${units.map((u) => `${u.id}=${u.count}`).join(',')};`;
      return s;
    },
    agents() {
      const out: AgentView[] = [];
      for (const a of m.state.agents.values()) {
        if (a.record.unreachableSince || !m.allocator.hasAgent(a.record.id)) continue;
        const attributes = attributesOf(a);
        const total = flatten(nonRevocable(a.record.resources));
        const used = flatten(nonRevocable(m.usedOn(a.record.id)));
        // Offered resources count as free: the framework holding them can use them for its demand.
        const free = subtract(total, used);
        const tasks = m.state.tasksOfAgent(a.record.id).filter((t) => !isTerminal(t.state));
        out.push({
          id: a.record.id, hostname: a.record.hostname, attributes,
          ...(attributes.pool ? { pool: attributes.pool } : {}),
          ...(attributes.instance ? { instanceId: attributes.instance } : {}),
          total: q(total), used: q(used), free: q(free),
          reserved: a.record.resources.some((b) => b.reservation !== undefined),
          doNotDisrupt: tasks.filter((t) => isDoNotDisrupt(t.info.labels?.labels)).map((t) => t.info.task_id.value),
          draining: isDraining(m, a),
          active: Boolean(a.stream),
        });
      }
      return out.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    },
    heldAgents() {
      const d = m.maintenance.drains;
      const out: HeldAgent[] = [];
      for (const a of m.state.agents.values()) {
        if (!d.isDeactivated(a.record.id)) continue;
        const { pool, instance } = attributesOf(a);
        out.push({
          id: a.record.id, hostname: a.record.hostname, ...(pool ? { pool } : {}), ...(instance ? { instanceId: instance } : {}),
          active: Boolean(a.stream), deactivated: d.deactivated.has(a.record.id),
        });
      }
      return out;
    },
    async markAgentGone(agentId, why) {
      const a = m.state.agents.get(agentId);
      if (!a || a.record.unreachableSince) return;
      await m.markUnreachable(a, why);
    },
  };
}
