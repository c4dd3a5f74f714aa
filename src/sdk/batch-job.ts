// The batch framework from the Mesos talk, over the SDK: take offers while tasks remain, decline
// when done, stop when the last terminal status arrives. `spillway run` and examples/batch.ts use it.
import { EventEmitter } from 'node:events';
import type { TaskInfo } from '../mesos/scheduler-call.ts';
import { isTerminal, type TaskState, type TaskStatus } from '../mesos/task-status.ts';
import { SchedulerClient, offerScalar, taskResources, type Offer } from './scheduler-client.ts';

export interface BatchTask {
  id: string;
  command: string;
  cpus: number;
  mem: number;
  env?: Record<string, string>;
}

export interface TaskResult {
  id: string;
  state: TaskState;
  message?: string;
  agentId?: string;
  /** Where the task ran: the agent's host:port, for reading its sandbox. */
  agentAddress?: string;
}

export interface BatchJobOptions {
  /** The master's URL, or every replica's (a list, or comma-separated). */
  master: string | readonly string[];
  name?: string;
  role?: string;
  tasks: BatchTask[];
  /** Seconds the master should not re-offer declined resources once every task is placed. */
  doneRefuseSeconds?: number;
}

interface BatchEvents {
  launched: [BatchTask, Offer];
  update: [TaskStatus, TaskResult];
}

export class BatchJob extends EventEmitter<BatchEvents> {
  readonly client: SchedulerClient;
  private readonly pending: BatchTask[];
  private readonly results = new Map<string, TaskResult>();
  private readonly agentAddress = new Map<string, string>();
  private finished!: () => void;
  private done = false;
  /**
   * Offers wait for the REQUEST to be taken: a launch the master handled before it would not count
   * against the demand the REQUEST then states in full, and the autoscaler would add capacity for
   * tasks already placed.
   */
  private demandStated: Promise<void> = Promise.resolve();

  constructor(private readonly opts: BatchJobOptions) {
    super();
    this.pending = [...opts.tasks];
    this.client = new SchedulerClient({
      master: opts.master,
      framework: { user: process.env.USER ?? 'root', name: opts.name ?? 'spillway-batch', roles: [opts.role ?? '*'], failover_timeout: 60, capabilities: [{ type: 'MULTI_ROLE' }] },
    });
  }

  /** Runs every task to a terminal state and tears the framework down. */
  async run(): Promise<TaskResult[]> {
    const done = new Promise<void>((resolve) => { this.finished = () => { this.done = true; resolve(); }; });
    // Offers racing the teardown are not errors: the job is over.
    let stated!: () => void;
    this.demandStated = new Promise<void>((resolve) => { stated = resolve; });
    this.client.on('offers', (offers) => {
      this.demandStated.then(() => this.onOffers(offers)).catch((e) => { if (!this.done) this.client.emit('error', String(e)); });
    });
    this.client.on('update', (s) => this.onUpdate(s));
    await this.client.subscribe();
    if (this.opts.tasks.length === 0) this.finished();
    else await this.requestDemand();
    stated();
    await done;
    await this.client.teardown().catch(() => this.client.close());
    return this.opts.tasks.map((t) => this.results.get(t.id)!);
  }

  /**
   * Tells the master what the job needs (tasks by shape), so the autoscaler can add capacity when
   * the cluster is too small; every launch counts one unit off, as Mesos' REQUEST intends.
   */
  private async requestDemand(): Promise<void> {
    const byShape = new Map<string, { cpus: number; mem: number; count: number }>();
    for (const t of this.pending) {
      const k = `${t.cpus}/${t.mem}`;
      const e = byShape.get(k) ?? { cpus: t.cpus, mem: t.mem, count: 0 };
      e.count++;
      byShape.set(k, e);
    }
    await this.client.request([...byShape.values()].map((e) => ({ resources: taskResources(e.cpus, e.mem), count: e.count })));
  }

  private async onOffers(offers: Offer[]): Promise<void> {
    for (const offer of offers) {
      if (this.done) return;
      let cpus = offerScalar(offer, 'cpus');
      let mem = offerScalar(offer, 'mem');
      const address = offer.url ? `${offer.url.address.hostname}:${offer.url.address.port}` : offer.hostname;
      this.agentAddress.set(offer.agent_id.value, address);
      const chosen: BatchTask[] = [];
      while (this.pending.length && this.pending[0].cpus <= cpus && this.pending[0].mem <= mem) {
        const t = this.pending.shift()!;
        cpus -= t.cpus;
        mem -= t.mem;
        chosen.push(t);
      }
      if (chosen.length === 0) {
        // Nothing left to place (or nothing fits): decline, for long once all tasks are placed.
        await this.client.decline([offer.id.value], this.pending.length ? 1 : (this.opts.doneRefuseSeconds ?? 3600));
        continue;
      }
      const infos: TaskInfo[] = chosen.map((t) => ({
        name: t.id,
        task_id: { value: t.id },
        agent_id: offer.agent_id,
        resources: taskResources(t.cpus, t.mem),
        command: {
          value: t.command,
          shell: true,
          ...(t.env ? { environment: { variables: Object.entries(t.env).map(([name, value]) => ({ name, value })) } } : {}),
        },
      }));
      for (const t of chosen) this.results.set(t.id, { id: t.id, state: 'TASK_STAGING', agentId: offer.agent_id.value, agentAddress: address });
      await this.client.launch(offer.id.value, infos, 1);
      for (const t of chosen) this.emit('launched', t, offer);
    }
  }

  private onUpdate(s: TaskStatus): void {
    const id = s.task_id.value;
    const prev = this.results.get(id);
    const agentId = s.agent_id?.value ?? prev?.agentId;
    const result: TaskResult = {
      id, state: s.state, message: s.message, agentId,
      agentAddress: agentId ? this.agentAddress.get(agentId) : prev?.agentAddress,
    };
    this.results.set(id, result);
    // A task the master refused before launch goes back to the queue only if the offer was stale.
    if (s.state === 'TASK_LOST' && s.reason === 'REASON_INVALID_OFFERS') {
      const task = this.opts.tasks.find((t) => t.id === id);
      if (task) { this.pending.push(task); this.client.revive().catch(() => {}); this.emit('update', s, result); return; }
    }
    this.emit('update', s, result);
    const allDone = this.pending.length === 0 && this.opts.tasks.every((t) => {
      const r = this.results.get(t.id);
      return r !== undefined && isTerminal(r.state);
    });
    if (allDone) this.finished();
  }
}
