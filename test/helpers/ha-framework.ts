// The framework of the fault tests, on the SDK (so it follows the leader): launches a list of
// tasks a few per ACCEPT, records every update it receives, and behaves as a careful Mesos
// framework does when the master fails under it — an ACCEPT without an answer is "uncertain" and
// is reconciled after re-subscribing: a task the master knows is kept, an unknown one launched again;
// a task that ends TASK_LOST/TASK_DROPPED is launched again under a new id (`<id>~<n>`).
import { SchedulerClient, taskResources, type Offer } from '../../src/sdk/scheduler-client.ts';
import { isTerminal, type TaskStatus } from '../../src/mesos/task-status.ts';

export interface LaunchingFrameworkOptions {
  masters: string[];
  name?: string;
  /** Tasks per ACCEPT at most (a burst is many ACCEPTs). */
  perAccept?: number;
  cpus?: number;
  mem?: number;
  command: (taskId: string) => string;
  failoverTimeout?: number;
  capabilities?: { type: string }[];
  frameworkId?: string;
}

export class LaunchingFramework {
  readonly client: SchedulerClient;
  /** Every update received, in arrival order (duplicates included). */
  readonly received: TaskStatus[] = [];
  /** Task ids whose ACCEPT was answered 202, or that reconciliation showed the master knows. */
  readonly accepted = new Set<string>();
  /** Task ids whose ACCEPT was answered 202: the master promised to run them. */
  readonly confirmed = new Set<string>();
  /** Launches answered 202 but refused for stale offers (REASON_INVALID_OFFERS). */
  private readonly refused = new Set<string>();
  /** A lost task → the id it was launched again under. */
  readonly relaunchedAs = new Map<string, string>();
  /** Every task id ever sent in an ACCEPT. */
  readonly launched = new Set<string>();
  /** Task ids whose ACCEPT got no answer: launched or not, the master knows. */
  readonly uncertain = new Set<string>();
  /** ACCEPTs answered 202 so far (fault tests trigger on it). */
  acceptsDone = 0;
  onAccepted: ((count: number) => void) | undefined;
  subscriptions = 0;
  private queue: string[] = [];
  private readonly inFlight = new Set<string>();

  constructor(private readonly opts: LaunchingFrameworkOptions) {
    this.client = new SchedulerClient({
      master: opts.masters, maxBackoffMs: 1000,
      framework: {
        user: 'test', name: opts.name ?? 'ha-fault', failover_timeout: opts.failoverTimeout ?? 3600,
        ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
        ...(opts.frameworkId ? { id: { value: opts.frameworkId } } : {}),
      },
    });
    this.client.on('update', (s) => this.onUpdate(s));
    this.client.on('offers', (offers) => { for (const o of offers) void this.onOffer(o); });
    this.client.on('subscribed', () => { if (++this.subscriptions > 1) void this.reconcileUncertain(); });
    this.client.on('error', () => { /* e.g. "Framework failed over": the test looks at the state */ });
  }

  get frameworkId(): string {
    return this.client.frameworkId!;
  }

  async start(taskIds: string[] = []): Promise<void> {
    this.queue.push(...taskIds);
    await this.client.subscribe();
  }

  /** Queues more tasks and asks for offers. */
  launch(taskIds: string[]): void {
    this.queue.push(...taskIds);
    this.client.revive().catch(() => { /* offers come after the next subscription anyway */ });
  }

  /** Updates of one task, de-duplicated by uuid, in first-arrival order (reconciliation answers left out). */
  updatesOf(taskId: string): TaskStatus[] {
    const seen = new Set<string>();
    return this.received.filter((s) => s.task_id.value === taskId && s.uuid !== undefined && !seen.has(s.uuid) && (seen.add(s.uuid), true));
  }

  lastState(taskId: string): string | undefined {
    return this.received.filter((s) => s.task_id.value === taskId && s.reason !== 'REASON_RECONCILIATION').at(-1)?.state;
  }

  /** Every one of `ids` has reached a terminal state here. */
  allTerminal(ids: Iterable<string>): boolean {
    for (const id of ids) {
      const s = this.lastState(id);
      if (!s || !isTerminal(s as TaskStatus['state'])) return false;
    }
    return true;
  }

  close(): void {
    this.client.close();
  }

  /** The id a task's work ended up under (following relaunches). */
  finalId(id: string): string {
    let cur = id;
    while (this.relaunchedAs.has(cur)) cur = this.relaunchedAs.get(cur)!;
    return cur;
  }

  /** Every one of `ids` (or its relaunch) has ended, and not as lost. */
  allSettled(ids: Iterable<string>): boolean {
    for (const id of ids) {
      const s = this.lastState(this.finalId(id));
      if (!s || !isTerminal(s as TaskStatus['state']) || s === 'TASK_LOST' || s === 'TASK_DROPPED') return false;
    }
    return true;
  }

  private onUpdate(s: TaskStatus): void {
    this.received.push(s);
    const id = s.task_id.value;
    // An ACCEPT of offers the master no longer has (sent across a failover) is answered 202 with
    // an untracked TASK_LOST/DROPPED, as Mesos does: a refusal, not an acknowledged launch.
    if (s.uuid === undefined && s.reason === 'REASON_INVALID_OFFERS') { this.refused.add(id); this.confirmed.delete(id); }
    if ((s.state === 'TASK_LOST' || s.state === 'TASK_DROPPED') && s.reason !== 'REASON_RECONCILIATION' && this.launched.has(id) && !this.relaunchedAs.has(id)) {
      const m = /^(.*)~(\d+)$/.exec(id);
      const again = m ? `${m[1]}~${Number(m[2]) + 1}` : `${id}~1`;
      this.relaunchedAs.set(id, again);
      this.launch([again]);
    }
    if (!this.uncertain.has(id) || s.reason !== 'REASON_RECONCILIATION') {
      if (this.uncertain.delete(id)) this.accepted.add(id);
      return;
    }
    this.uncertain.delete(id);
    if (/unknown/i.test(s.message ?? '')) this.launch([id]); // never launched: again
    else this.accepted.add(id);
  }

  private async onOffer(o: Offer): Promise<void> {
    const cpus = this.opts.cpus ?? 0.1;
    const fit = Math.floor((o.resources.filter((r) => r.name === 'cpus').reduce((s, r) => s + (r.scalar?.value ?? 0), 0) + 1e-9) / cpus);
    const batch = this.queue.splice(0, Math.min(fit, this.opts.perAccept ?? 20));
    if (batch.length === 0) {
      await this.client.decline([o.id.value], this.queue.length ? 0 : 5).catch(() => {});
      return;
    }
    for (const id of batch) { this.inFlight.add(id); this.launched.add(id); }
    const tasks = batch.map((id) => ({
      name: id, task_id: { value: id }, agent_id: o.agent_id, resources: taskResources(cpus, this.opts.mem ?? 16), command: { value: this.opts.command(id) },
    }));
    try {
      await this.client.launch(o.id.value, tasks, 0);
      for (const id of batch) { this.accepted.add(id); if (!this.refused.has(id)) this.confirmed.add(id); }
      this.acceptsDone++;
      this.onAccepted?.(this.acceptsDone);
    } catch (e) {
      // 4xx: refused outright (a stale offer after a failover) — nothing launched; else no answer.
      if (/failed: 4\d\d|^not subscribed$/.test((e as Error).message)) this.queue.unshift(...batch);
      else for (const id of batch) this.uncertain.add(id);
    } finally {
      for (const id of batch) this.inFlight.delete(id);
    }
  }

  /** After a re-subscription: ask about every uncertain task nothing was heard of. */
  async reconcileUncertain(): Promise<void> {
    const ids = [...this.uncertain].filter((id) => !this.received.some((s) => s.task_id.value === id));
    for (const id of [...this.uncertain]) if (!ids.includes(id)) { this.uncertain.delete(id); this.accepted.add(id); }
    if (ids.length) await this.client.reconcile(ids.map((taskId) => ({ taskId }))).catch(() => {});
    if (this.queue.length) await this.client.revive().catch(() => {});
  }
}
