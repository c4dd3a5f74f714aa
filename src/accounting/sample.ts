// One accounting sample: what one agent was, held and cost during one interval. Built purely from a
// snapshot of the master's view of the agent, its pool class and the cost model; stored as is
// (JSON) under (agent, interval start), so writing it twice is writing it once.
//
// "allocated" is what the agent's live tasks hold (non-revocable resources; revocable tasks run on
// slack that is already counted as allocated). "used": when the agent reports oversubscription
// slack (agents started with --oversubscription measure their tasks), used = allocated to running
// tasks − the slack the agent measured as unused (cpus, mem; gpus as allocated); otherwise used =
// allocated to tasks that are running (TASK_RUNNING, TASK_KILLING) — an upper bound of real use.
import { billingRule, billingTopUp, splitCost, type Amounts, type CostModelConfig } from './cost-model.ts';
import type { AgentClass } from './pool-match.ts';

export const IDLE = '(idle)';

export interface TaskSnapshot {
  role: string;
  frameworkId: string;
  frameworkName: string;
  running: boolean;
  allocated: Amounts;
}

export interface AgentSnapshot {
  id: string;
  hostname: string;
  attributes: Readonly<Record<string, string>>;
  /** Non-revocable total. */
  total: Amounts;
  registeredAt: number;
  unreachableSince?: number;
  /** Oversubscription slack the agent last reported, if it reports any. */
  slack?: { cpus: number; mem: number };
  tasks: readonly TaskSnapshot[];
}

/**
 * [role, frameworkId, frameworkName, alloc cpus, mem, gpus, used cpus, mem, gpus, cost, listCost,
 * machine-hours]. Samples stored before machine-hours were recorded lack the last element.
 */
export type SliceTuple = [string, string, string, number, number, number, number, number, number, number, number, number?];

/** What a sample says about the machine itself; every usage row carries it too (rows.ts). */
export interface AgentDims {
  agent: string;
  host: string;
  /** FOCUS ResourceId: the provider's instance id, else the agent id. */
  res: string;
  pool: string;
  own: 'owned' | 'rented';
  prov: string;
  type: string;
  cap: 'on-demand' | 'spot' | 'owned';
  region: string;
  zone: string;
  cur: string;
}

export interface Sample extends AgentDims {
  v: 1;
  /** Interval start (ms since the epoch) and length (s). */
  start: number;
  len: number;
  /** Seconds of the interval the agent was present; billed seconds add the billing top-up. */
  present: number;
  billed: number;
  /** Billing starts here (when the agent first registered). */
  since: number;
  hourly: number;
  list: number;
  /** cpus, mem (MB), gpus: the agent's total, what tasks held, what was used */
  total: [number, number, number];
  alloc: [number, number, number];
  used: [number, number, number];
  /** 'estimator' (agent-measured slack) or 'running' (allocated to running tasks). */
  usedBy: 'estimator' | 'running';
  slices: SliceTuple[];
  /** Idle: [cost, listCost, machine-hours] (unallocated capacity + billing top-up; older samples lack the hours). */
  idle: [number, number, number?];
  cost: number;
  listCost: number;
  warn?: string;
}

const add = (a: Amounts, b: Amounts): Amounts => ({ cpus: a.cpus + b.cpus, mem: a.mem + b.mem, gpus: a.gpus + b.gpus });
const ZERO: Amounts = { cpus: 0, mem: 0, gpus: 0 };
const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
const round = (x: number): number => Math.round(x * 1e9) / 1e9;

/** Seconds of [start, end) during which the agent was registered and reachable. */
export function presentSeconds(agent: Pick<AgentSnapshot, 'registeredAt' | 'unreachableSince'>, start: number, end: number): number {
  const from = Math.max(start, agent.registeredAt);
  const to = Math.min(end, agent.unreachableSince ?? end);
  return Math.max(0, to - from) / 1000;
}

/**
 * The sample of one agent for the interval [start, start + lenSeconds), or undefined when the
 * agent was not there at all during it (and no billing top-up falls in it).
 */
export function buildSample(agent: AgentSnapshot, cls: AgentClass, start: number, lenSeconds: number, model: CostModelConfig): Sample | undefined {
  const end = start + lenSeconds * 1000;
  const present = presentSeconds(agent, start, end);
  const ended = agent.unreachableSince !== undefined && agent.unreachableSince >= start && agent.unreachableSince < end;
  const topUp = ended ? billingTopUp((agent.unreachableSince! - agent.registeredAt) / 1000, billingRule(model, cls.provider, cls.ownership)) : 0;
  if (present <= 0 && topUp <= 0) return undefined;

  // Allocation per (role, framework); tasks of an agent that is gone hold nothing any more. Agents
  // run a handful of groups, so a linear search beats a Map here (this runs per agent per interval).
  const list: { role: string; fw: string; name: string; alloc: Amounts; running: Amounts }[] = [];
  for (const t of present > 0 ? agent.tasks : []) {
    let g = list.find((x) => x.role === t.role && x.fw === t.frameworkId);
    if (!g) list.push((g = { role: t.role, fw: t.frameworkId, name: t.frameworkName, alloc: ZERO, running: ZERO }));
    g.alloc = add(g.alloc, t.allocated);
    if (t.running) g.running = add(g.running, t.allocated);
  }
  if (list.length > 1) list.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : a.fw < b.fw ? -1 : a.fw > b.fw ? 1 : 0));
  let alloc = ZERO;
  let running = ZERO;
  for (const g of list) { alloc = add(alloc, g.alloc); running = add(running, g.running); }
  const usedBy = agent.slack ? 'estimator' : 'running';
  const used: Amounts = agent.slack
    ? { cpus: Math.max(0, running.cpus - agent.slack.cpus), mem: Math.max(0, running.mem - agent.slack.mem), gpus: running.gpus }
    : running;
  const scale = { cpus: ratio(used.cpus, running.cpus), mem: ratio(used.mem, running.mem), gpus: ratio(used.gpus, running.gpus) };

  const costs = splitCost({
    hourly: cls.hourly, listHourly: cls.listHourly, presentSeconds: present, topUpSeconds: topUp, total: agent.total,
    slices: list.map((g) => ({ role: g.role, framework: g.fw, allocated: g.alloc })), split: model.split,
  });
  const slices: SliceTuple[] = list.map((g, i) => [
    g.role, g.fw, g.name, g.alloc.cpus, g.alloc.mem, g.alloc.gpus,
    round(g.running.cpus * scale.cpus), round(g.running.mem * scale.mem), round(g.running.gpus * scale.gpus),
    costs.slices[i].cost, costs.slices[i].listCost, costs.slices[i].hours,
  ]);
  return {
    v: 1, agent: agent.id, host: agent.hostname, start, len: lenSeconds, present, billed: present + topUp, since: agent.registeredAt,
    pool: cls.pool, own: cls.ownership, prov: cls.provider, type: cls.instanceType, cap: cls.capacityType,
    region: cls.region, zone: cls.zone, res: cls.resourceId, cur: model.currency, hourly: cls.hourly, list: cls.listHourly,
    total: [agent.total.cpus, agent.total.mem, agent.total.gpus], alloc: [alloc.cpus, alloc.mem, alloc.gpus], used: [used.cpus, used.mem, used.gpus],
    usedBy, slices, idle: [costs.idle.cost, costs.idle.listCost, costs.idle.hours], cost: costs.cost, listCost: costs.listCost,
    ...(cls.warning ? { warn: cls.warning } : {}),
  };
}
