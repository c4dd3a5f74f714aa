// A TypeScript client for the Mesos v1 scheduler HTTP API: subscribes, decodes the RecordIO event
// stream, sends calls with the stream id, acknowledges updates and re-subscribes after a break
// (jittered backoff over every master replica it was given, following 307 redirects to the
// leader; a stream silent for 5 heartbeat intervals counts as broken). Works against Spillway or
// Apache Mesos.
import { EventEmitter } from 'node:events';
import { RecordIODecoder } from '../mesos/recordio.ts';
import { backoffMs, MasterRotation, parseMasterUrls } from '../client/master-urls.ts';
import type { FrameworkInfo, Operation, TaskInfo } from '../mesos/scheduler-call.ts';
import type { TaskStatus } from '../mesos/task-status.ts';

export interface Offer {
  id: { value: string };
  framework_id: { value: string };
  agent_id: { value: string };
  hostname: string;
  url?: { scheme: string; address: { hostname: string; ip?: string; port: number } };
  resources: { name: string; type: string; scalar?: { value: number }; ranges?: { range: { begin: number; end: number }[] } }[];
  attributes: { name: string; type: string; text?: { value: string }; scalar?: { value: number } }[];
}

export interface SchedulerEvents {
  subscribed: [{ framework_id: { value: string }; heartbeat_interval_seconds: number }];
  offers: [Offer[]];
  rescind: [string];
  update: [TaskStatus];
  message: [{ agent_id: { value: string }; executor_id: { value: string }; data: string }];
  failure: [{ agent_id?: { value: string }; executor_id?: { value: string }; status?: number }];
  error: [string];
  heartbeat: [];
  /**
   * The stream ended. It is subscribed again after a backoff (`retrying`) — unless the master
   * refused this scheduler (an ERROR, then the end: "Framework failed over"): then the client is closed.
   */
  disconnected: [Error | undefined];
  /** A SUBSCRIBE failed (the master unreachable, 5xx, the stream broke) and is tried again after a backoff. */
  retrying: [Error];
}

export interface SchedulerClientOptions {
  /** The master's URL, or every master replica's (a list, or comma-separated). */
  master: string | readonly string[];
  framework: Omit<FrameworkInfo, 'id'> & { id?: { value: string } };
  /** Acknowledge every update carrying a uuid after the 'update' listeners ran (default true). */
  autoAcknowledge?: boolean;
  /** Re-subscribe when the stream breaks (default true). */
  reconnect?: boolean;
  maxBackoffMs?: number;
  /** A SUBSCRIBE unanswered for this long is abandoned for the next replica (default 10 s). */
  subscribeTimeoutMs?: number;
  /** A call made while the client re-subscribes (a failover) waits this long for it (default 30 s). */
  resubscribeWaitMs?: number;
}

/** Missed heartbeats after which the subscription counts as broken (the master may be frozen). */
const MISSED_HEARTBEATS = 5;

export class SchedulerClient extends EventEmitter<SchedulerEvents> {
  frameworkId: string | undefined;
  private streamId: string | undefined;
  private masterUrl: string;
  private readonly masters: MasterRotation;
  private silence: NodeJS.Timeout | undefined;
  private heartbeatMs = 0;
  private abort: AbortController | undefined;
  private closed = false;
  private subscribedOnce: Promise<void> | undefined;
  /** The message of the current stream's last event when it was an ERROR. */
  private lastError: string | undefined;
  private everSubscribed = false;
  /** Calls waiting in untilSubscribed. */
  private readonly waiters = new Set<(err?: Error) => void>();

  constructor(private readonly opts: SchedulerClientOptions) {
    super();
    this.masters = new MasterRotation(parseMasterUrls(opts.master));
    this.masterUrl = this.masters.current();
    this.frameworkId = opts.framework.id?.value;
  }

  /** Opens the subscription; resolves once SUBSCRIBED arrives. */
  subscribe(): Promise<void> {
    this.subscribedOnce ??= new Promise<void>((resolve, reject) => {
      this.once('subscribed', () => resolve());
      this.connect(0).catch(reject);
    });
    return this.subscribedOnce;
  }

  /** The replica (or leader) calls go to now. */
  get master(): string {
    return this.masterUrl;
  }

  private async connect(attempt: number): Promise<void> {
    if (this.closed) return;
    this.masterUrl = this.masters.current();
    const abort = new AbortController();
    this.abort = abort;
    const noAnswer = setTimeout(() => abort.abort(new Error('SUBSCRIBE got no answer')), this.opts.subscribeTimeoutMs ?? 10_000);
    const info = { ...this.opts.framework, ...(this.frameworkId ? { id: { value: this.frameworkId } } : {}) };
    const body = { type: 'SUBSCRIBE', ...(this.frameworkId ? { framework_id: { value: this.frameworkId } } : {}), subscribe: { framework_info: info } };
    let res: Response;
    try {
      res = await fetch(new URL('/api/v1/scheduler', this.masterUrl), {
        method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body), signal: abort.signal, redirect: 'follow',
      });
    } catch (e) {
      this.masters.fail();
      return this.retry(attempt, e as Error);
    } finally {
      clearTimeout(noAnswer);
    }
    if (res.status !== 200 || !res.body) {
      const text = await res.text().catch(() => '');
      const err = new Error(`SUBSCRIBE failed: ${res.status} ${text}`);
      if (attempt === 0 && !this.frameworkId && res.status < 500) throw err;
      if (res.status >= 400 && res.status < 500) {
        // Refused for good (asking again gets the same answer): the client ends, as after an ERROR.
        this.report(err.message);
        return this.endRefused(err);
      }
      this.masters.fail(); // 503: no leader there (yet); ask the next replica
      return this.retry(attempt, err);
    }
    if (res.redirected) {
      this.masters.follow(res.url);
      this.masterUrl = this.masters.current();
    }
    this.streamId = res.headers.get('Mesos-Stream-Id') ?? undefined;
    this.lastError = undefined;
    const decoder = new RecordIODecoder();
    let broke: Error | undefined;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const ev of decoder.push(Buffer.from(chunk))) this.dispatch(ev as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      }
    } catch (e) {
      broke = e as Error;
    }
    clearTimeout(this.silence);
    this.streamId = undefined;
    if (this.closed) return;
    const refusal = this.lastError;
    if (!broke && refusal !== undefined) {
      // An ERROR and then the end of the stream: the master refused or replaced this scheduler
      // ("Framework has been removed", "Framework failed over"). Mesos' driver aborts then, and so
      // does this client: subscribing again would only be refused again, or take the framework
      // back from the scheduler that replaced this one.
      if (this.everSubscribed) return this.endRefused(new Error(refusal));
      this.close();
      throw new Error(`SUBSCRIBE refused: ${refusal}`); // subscribe() rejects
    }
    this.masters.fail(); // the leader we were on may be gone: start with the next replica
    this.emit('disconnected', broke);
    return this.retry(0, broke ?? new Error('stream ended'));
  }

  /** Resolves once subscribed again; a client never subscribed, closed or not reconnecting fails at once. */
  private untilSubscribed(): Promise<void> {
    if (this.closed || !this.frameworkId || this.opts.reconnect === false) return Promise.reject(new Error('not subscribed'));
    const waitMs = this.opts.resubscribeWaitMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        this.off('subscribed', done);
        this.waiters.delete(settle);
        if (err) reject(err);
        else resolve();
      };
      const done = (): void => settle();
      const timer = setTimeout(() => settle(new Error(`not subscribed: no master took the subscription within ${waitMs} ms`)), waitMs);
      this.once('subscribed', done);
      this.waiters.add(settle);
    });
  }

  /** The master will not have this scheduler (again): the client ends, as Mesos' driver aborts. */
  private endRefused(why: Error): void {
    this.close();
    this.emit('disconnected', why);
  }

  /** The master's error text, to 'error' listeners (unheard, an 'error' event would throw inside the read loop). */
  private report(message: string): void {
    if (this.listenerCount('error') > 0) this.emit('error', message);
  }

  private async retry(attempt: number, why: Error): Promise<void> {
    if (this.closed || this.opts.reconnect === false) {
      if (!this.closed) this.emit('disconnected', why);
      return;
    }
    this.emit('retrying', why);
    await new Promise((r) => setTimeout(r, backoffMs(attempt, 100, this.opts.maxBackoffMs ?? 15_000)));
    return this.connect(attempt + 1);
  }

  /** Every event proves the stream alive; silence for MISSED_HEARTBEATS intervals breaks it. */
  private alive(): void {
    if (!this.heartbeatMs) return;
    clearTimeout(this.silence);
    const abort = this.abort;
    this.silence = setTimeout(() => abort?.abort(new Error(`no event from the master for ${MISSED_HEARTBEATS} heartbeat intervals`)), this.heartbeatMs * MISSED_HEARTBEATS);
    this.silence.unref();
  }

  private dispatch(ev: Record<string, any>): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (ev.type === 'SUBSCRIBED') this.heartbeatMs = (ev.subscribed.heartbeat_interval_seconds ?? 15) * 1000;
    this.alive();
    // Only an ERROR that is the stream's last event ends the client (see connect).
    this.lastError = ev.type === 'ERROR' ? String(ev.error?.message ?? ev.message) : undefined;
    if (ev.type === 'SUBSCRIBED') this.everSubscribed = true;
    switch (ev.type) {
      case 'SUBSCRIBED':
        this.frameworkId = ev.subscribed.framework_id.value;
        this.emit('subscribed', ev.subscribed);
        break;
      case 'OFFERS':
        this.emit('offers', ev.offers?.offers ?? []);
        break;
      case 'RESCIND':
        this.emit('rescind', ev.rescind.offer_id.value);
        break;
      case 'UPDATE': {
        const status = ev.update.status as TaskStatus;
        this.emit('update', status);
        if (status.uuid && this.opts.autoAcknowledge !== false) {
          this.acknowledge(status).catch(() => { /* re-sent by the master until acknowledged */ });
        }
        break;
      }
      case 'MESSAGE':
        this.emit('message', ev.message);
        break;
      case 'FAILURE':
        this.emit('failure', ev.failure);
        break;
      case 'ERROR':
        this.report(ev.error?.message ?? ev.message);
        break;
      case 'HEARTBEAT':
        this.emit('heartbeat');
        break;
    }
  }

  /** Sends a call; resolves on 202, rejects with the master's message otherwise. */
  async call(type: string, payload: Record<string, unknown> = {}): Promise<void> {
    if (!this.frameworkId || !this.streamId) await this.untilSubscribed();
    const res = await fetch(new URL('/api/v1/scheduler', this.masterUrl), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Mesos-Stream-Id': this.streamId ?? '' },
      body: JSON.stringify({ framework_id: { value: this.frameworkId }, type, ...payload }),
    });
    if (res.status !== 202) throw new Error(`${type} failed: ${res.status} ${await res.text()}`);
  }

  accept(offerIds: string[], operations: Operation[], refuseSeconds?: number): Promise<void> {
    return this.call('ACCEPT', { accept: { offer_ids: offerIds.map((value) => ({ value })), operations, ...(refuseSeconds !== undefined ? { filters: { refuse_seconds: refuseSeconds } } : {}) } });
  }

  launch(offerId: string, tasks: TaskInfo[], refuseSeconds?: number): Promise<void> {
    return this.accept([offerId], [{ type: 'LAUNCH', launch: { task_infos: tasks } }], refuseSeconds);
  }

  decline(offerIds: string[], refuseSeconds?: number): Promise<void> {
    return this.call('DECLINE', { decline: { offer_ids: offerIds.map((value) => ({ value })), ...(refuseSeconds !== undefined ? { filters: { refuse_seconds: refuseSeconds } } : {}) } });
  }

  acknowledge(status: TaskStatus): Promise<void> {
    return this.call('ACKNOWLEDGE', { acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } });
  }

  kill(taskId: string, agentId?: string): Promise<void> {
    return this.call('KILL', { kill: { task_id: { value: taskId }, ...(agentId ? { agent_id: { value: agentId } } : {}) } });
  }

  reconcile(tasks: { taskId: string; agentId?: string }[] = []): Promise<void> {
    return this.call('RECONCILE', { reconcile: { tasks: tasks.map((t) => ({ task_id: { value: t.taskId }, ...(t.agentId ? { agent_id: { value: t.agentId } } : {}) })) } });
  }

  revive(): Promise<void> {
    return this.call('REVIVE');
  }

  suppress(): Promise<void> {
    return this.call('SUPPRESS');
  }

  /**
   * REQUEST: tells the master (and its autoscaler) the resources this framework needs beyond what
   * it holds — each entry a shape × count. It states the whole current need: an empty list withdraws it.
   */
  request(requests: { resources: TaskInfo['resources']; count: number }[]): Promise<void> {
    return this.call('REQUEST', { request: { requests } });
  }

  async teardown(): Promise<void> {
    await this.call('TEARDOWN');
    this.close();
  }

  /** Closes the subscription stream without tearing the framework down. */
  close(): void {
    this.closed = true;
    clearTimeout(this.silence);
    this.abort?.abort();
    // Calls waiting for a re-subscription that will not come now fail at once.
    for (const settle of [...this.waiters]) settle(new Error('not subscribed: the client is closed'));
  }
}

/** Sums a scalar resource of an offer. */
export function offerScalar(offer: Offer, name: string): number {
  return offer.resources.filter((r) => r.name === name).reduce((s, r) => s + (r.scalar?.value ?? 0), 0);
}

/** Builds the Resource list of a task in Mesos JSON. */
export function taskResources(cpus: number, mem: number, disk = 0): TaskInfo['resources'] {
  const list: TaskInfo['resources'] = [
    { name: 'cpus', type: 'SCALAR', scalar: { value: cpus } },
    { name: 'mem', type: 'SCALAR', scalar: { value: mem } },
  ];
  if (disk > 0) list.push({ name: 'disk', type: 'SCALAR', scalar: { value: disk } });
  return list;
}
