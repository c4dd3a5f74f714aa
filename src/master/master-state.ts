// The leader's in-memory mirror of durable state, with the indexes the hot paths need
// (tasks by agent and by framework). It holds no I/O; the Master writes through the Store.
import type { AgentLive, FrameworkLive, Offer, TaskRecord } from './records.ts';
import { taskKey } from './records.ts';

export class MasterState {
  readonly agents = new Map<string, AgentLive>();
  readonly frameworks = new Map<string, FrameworkLive>();
  readonly tasks = new Map<string, TaskRecord>();
  readonly offers = new Map<string, Offer>();
  private readonly byAgent = new Map<string, Set<string>>();
  private readonly byFramework = new Map<string, Set<string>>();
  private readonly offersByAgent = new Map<string, Set<string>>();
  private readonly offersByFramework = new Map<string, Set<string>>();

  putTask(t: TaskRecord): void {
    const key = taskKey(t.frameworkId, t.info.task_id.value);
    this.tasks.set(key, t);
    index(this.byAgent, t.agentId, key);
    index(this.byFramework, t.frameworkId, key);
  }

  deleteTask(t: TaskRecord): void {
    const key = taskKey(t.frameworkId, t.info.task_id.value);
    this.tasks.delete(key);
    unindex(this.byAgent, t.agentId, key);
    unindex(this.byFramework, t.frameworkId, key);
  }

  task(frameworkId: string, taskId: string): TaskRecord | undefined {
    return this.tasks.get(taskKey(frameworkId, taskId));
  }

  tasksOfAgent(agentId: string): TaskRecord[] {
    return [...(this.byAgent.get(agentId) ?? [])].map((k) => this.tasks.get(k)!);
  }

  tasksOfFramework(frameworkId: string): TaskRecord[] {
    return [...(this.byFramework.get(frameworkId) ?? [])].map((k) => this.tasks.get(k)!);
  }

  putOffer(o: Offer): void {
    this.offers.set(o.id, o);
    index(this.offersByAgent, o.agentId, o.id);
    index(this.offersByFramework, o.frameworkId, o.id);
  }

  deleteOffer(o: Offer): void {
    this.offers.delete(o.id);
    unindex(this.offersByAgent, o.agentId, o.id);
    unindex(this.offersByFramework, o.frameworkId, o.id);
  }

  offersOfAgent(agentId: string): Offer[] {
    return [...(this.offersByAgent.get(agentId) ?? [])].map((id) => this.offers.get(id)!);
  }

  offersOfFramework(frameworkId: string): Offer[] {
    return [...(this.offersByFramework.get(frameworkId) ?? [])].map((id) => this.offers.get(id)!);
  }
}

function index(map: Map<string, Set<string>>, k: string, v: string): void {
  let s = map.get(k);
  if (!s) map.set(k, (s = new Set()));
  s.add(v);
}

function unindex(map: Map<string, Set<string>>, k: string, v: string): void {
  const s = map.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) map.delete(k);
}
