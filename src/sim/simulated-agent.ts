// An in-process agent that speaks the real agent protocol over HTTP but runs nothing: each launched
// task reports TASK_RUNNING and then a terminal state at once (or when told). For the master-only
// benchmark, for tests of the master, and for simulations of large clusters. With `replicas` it
// follows the leader like a real agent: when its stream ends it subscribes again (through any
// replica, following 307s) with the tasks it runs. Its updates are not journaled or retried.
import { RecordIODecoder } from '../mesos/recordio.ts';
import { newStatusUuid, type TaskState } from '../mesos/task-status.ts';
import { toMesos } from '../resources/mesos-resources.ts';
import { resources, type Resources } from '../resources/resources.ts';
import { MAX_UPDATES_PER_CALL } from '../master/agent-calls.ts';

export interface SimulatedAgentOptions {
  master: string;
  hostname?: string;
  resources?: Resources;
  /** Resources in Mesos JSON, for reservations (overrides `resources`). */
  mesosResources?: object[];
  attributes?: { name: string; type: 'TEXT'; text: { value: string } }[];
  /** What a launched task does: finish at once (default), or stay running until `finish()`. */
  behaviour?: 'finish' | 'run';
  agentId?: string;
  /** Master replicas to re-subscribe through when the stream ends (default: none — the agent stays away). */
  replicas?: string[];
  /**
   * Sends a call other than SUBSCRIBE (default: fetch). The master-only benchmark passes a
   * pipelining client, so that thousands of UPDATE calls a second cost the benchmark little.
   */
  post?: AgentCallTransport;
}

/** POSTs a JSON body to `url` with `headers`; resolves with the answer's status and text. */
export type AgentCallTransport = (url: string, body: string, headers: Record<string, string>) => Promise<{ status: number; body: string }>;

const fetchTransport: AgentCallTransport = async (url, body, headers) => {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
};

interface LaunchedTask { frameworkId: string; taskId: string }

export class SimulatedAgent {
  agentId: string | undefined;
  private streamId: string | undefined;
  private abort = new AbortController();
  private pinger: NodeJS.Timeout | undefined;
  readonly running = new Map<string, LaunchedTask>();
  readonly launched: LaunchedTask[] = [];
  private subscribed!: () => void;
  private outbox: { update: object; resolve(): void; reject(e: unknown): void }[] = [];
  /** The master calls go to: the leader the last SUBSCRIBE reached. */
  private master: string;
  private stopped = false;
  /** SUBSCRIBEs answered so far (re-subscriptions after a failover included). */
  subscriptions = 0;

  constructor(private readonly opts: SimulatedAgentOptions) {
    this.agentId = opts.agentId;
    this.master = opts.master;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.subscribe(this.opts.master);
  }

  private async subscribe(url: string): Promise<void> {
    const ready = new Promise<void>((r) => { this.subscribed = r; });
    const res = await fetch(`${url}/api/v1/agent`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal: this.abort.signal,
      body: JSON.stringify({
        type: 'SUBSCRIBE',
        subscribe: {
          agent_info: {
            ...(this.agentId ? { id: { value: this.agentId } } : {}),
            hostname: this.opts.hostname ?? '127.0.0.1', port: 1,
            resources: this.opts.mesosResources ?? toMesos(this.opts.resources ?? resources({ cpus: 4, mem: 8192, disk: 10000 }, [[31000, 32000]])),
            attributes: this.opts.attributes ?? [],
          },
          tasks: [...this.running.values()].map((t) => ({ framework_id: { value: t.frameworkId }, task_id: { value: t.taskId }, state: 'TASK_RUNNING' })),
          version: 'simulated',
        },
      }),
    });
    if (res.status !== 200 || !res.body) throw new Error(`agent SUBSCRIBE failed: ${res.status} ${await res.text()}`);
    this.master = new URL(res.url).origin;
    this.streamId = res.headers.get('Mesos-Stream-Id') ?? undefined;
    void this.consume(res.body as unknown as AsyncIterable<Uint8Array>).then(() => this.followLeader());
    await ready;
    this.subscriptions++;
  }

  /** The stream ended: with `replicas`, subscribe again through them until one takes us. */
  private async followLeader(): Promise<void> {
    clearInterval(this.pinger);
    const replicas = this.opts.replicas;
    if (this.stopped || !replicas?.length) return;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.subscribe(replicas[attempt % replicas.length]);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.floor(attempt / replicas.length)) * (0.5 + Math.random() / 2)));
      }
    }
  }

  private async consume(body: AsyncIterable<Uint8Array>): Promise<void> {
    const decoder = new RecordIODecoder();
    try {
      for await (const chunk of body) {
        for (const ev of decoder.push(Buffer.from(chunk)) as Record<string, any>[]) { // eslint-disable-line @typescript-eslint/no-explicit-any
          if (ev.type === 'SUBSCRIBED') {
            this.agentId = ev.subscribed.agent_id.value;
            clearInterval(this.pinger);
            this.pinger = setInterval(() => { this.call({ type: 'PING' }).catch(() => {}); }, ev.subscribed.ping_interval_seconds * 1000 / 2);
            this.subscribed();
          } else if (ev.type === 'LAUNCH') {
            const t = { frameworkId: ev.launch.framework_id.value, taskId: ev.launch.task.task_id.value };
            this.launched.push(t);
            this.running.set(`${t.frameworkId}/${t.taskId}`, t);
            this.onLaunch(t).catch(() => { /* the master went away */ });
          } else if (ev.type === 'KILL') {
            this.finish(ev.kill.framework_id.value, ev.kill.task_id.value, 'TASK_KILLED').catch(() => { /* the master went away */ });
          }
        }
      }
    } catch {
      // aborted or the master went away
    }
  }

  private async onLaunch(t: LaunchedTask): Promise<void> {
    const running = this.update(t, 'TASK_RUNNING');
    if ((this.opts.behaviour ?? 'finish') === 'finish') await Promise.all([running, this.finish(t.frameworkId, t.taskId, 'TASK_FINISHED')]);
    else await running;
  }

  /** Ends a running task with the given state. */
  async finish(frameworkId: string, taskId: string, state: TaskState = 'TASK_FINISHED'): Promise<void> {
    const key = `${frameworkId}/${taskId}`;
    const t = this.running.get(key) ?? { frameworkId, taskId };
    this.running.delete(key);
    await this.update(t, state);
  }

  /** Queues an update; those made in one tick go to the master in one UPDATE call, in order. */
  private update(t: LaunchedTask, state: TaskState): Promise<void> {
    return new Promise((resolve, reject) => {
      this.outbox.push({
        update: {
          framework_id: { value: t.frameworkId },
          status: { task_id: { value: t.taskId }, state, uuid: newStatusUuid(), source: 'SOURCE_EXECUTOR', message: state === 'TASK_FINISHED' ? 'Command exited with status 0' : undefined },
        },
        resolve, reject,
      });
      if (this.outbox.length === 1) setImmediate(() => this.flushOutbox());
    });
  }

  private flushOutbox(): void {
    const batch = this.outbox.splice(0, this.outbox.length);
    for (let i = 0; i < batch.length; i += MAX_UPDATES_PER_CALL) {
      const part = batch.slice(i, i + MAX_UPDATES_PER_CALL);
      this.call({ type: 'UPDATE', updates: part.map((p) => p.update) }).then(
        () => { for (const p of part) p.resolve(); },
        (e: unknown) => { for (const p of part) p.reject(e); },
      );
    }
  }

  async call(body: Record<string, unknown>): Promise<void> {
    const res = await (this.opts.post ?? fetchTransport)(`${this.master}/api/v1/agent`, JSON.stringify({ agent_id: { value: this.agentId }, ...body }), {
      'Content-Type': 'application/json', 'Mesos-Stream-Id': this.streamId ?? '',
    });
    if (res.status !== 202) throw new Error(`agent ${String(body.type)} failed: ${res.status} ${res.body}`);
  }

  /** Reports oversubscribed slack, as the agent's resource estimator does. */
  reportSlack(slack: Resources): Promise<void> {
    return this.call({ type: 'UPDATE_OVERSUBSCRIBED', oversubscribed: { resources: toMesos(slack).map((r) => ({ ...r, revocable: {} })) } });
  }

  /** Drops the connection like a crashed agent (tasks are remembered for a later re-subscribe). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.pinger);
    this.abort.abort();
    this.abort = new AbortController();
  }
}
