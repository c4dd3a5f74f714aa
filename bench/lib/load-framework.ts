// The benchmark's scheduler: a lean Mesos v1 HTTP framework (calls pipelined on a few persistent
// connections, see pipelined-client.ts; no SDK in the hot path) that launches a fixed number of
// identical tasks as fast as the master lets it.
//
//  * every offer is packed with as many pending tasks as fit (cpus and mem), in one ACCEPT;
//  * offers with no room (or arriving once everything is launched) are declined;
//  * every update carrying a uuid is acknowledged at once (the master sends a task's next update
//    only after the previous one was acknowledged);
//  * latency of a task = arrival of the OFFERS event whose offer launched it → arrival of its
//    TASK_RUNNING update, both measured here with performance.now();
//  * the run ends when every task has a terminal update and all acknowledgements were answered.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { RecordIODecoder } from '../../src/mesos/recordio.ts';
import { PipelinedClient } from './pipelined-client.ts';

/** Connections the calls are pipelined on (the subscription has its own). */
const CALL_CONNECTIONS = 4;

export interface LoadOptions {
  master: string;
  tasks: number;
  taskCpus: number;
  taskMem: number;
  /** Shell command each task runs. */
  command: string;
  name: string;
  /** Give up (reject) after this long. */
  timeoutMs: number;
  /** refuse_seconds sent with ACCEPT (applies to the unused part of the offer). */
  acceptRefuseSeconds: number;
  progress?: (line: string) => void;
  progressEveryMs?: number;
}

export interface LoadResult {
  tasks: number;
  finished: number;
  /** Tasks that ended in another terminal state than TASK_FINISHED, by state. */
  failed: Record<string, number>;
  /** First OFFERS event → last terminal update acknowledged (202). */
  durationMs: number;
  /** offer → TASK_RUNNING per task (ms). */
  latenciesMs: number[];
  offers: number;
  accepts: number;
  declines: number;
  maxTasksPerAccept: number;
  updates: number;
  /** Terminal updates received again for a task that already had one (duplicate deliveries). */
  duplicateTerminal: number;
  callErrors: number;
}

interface MesosResource { name: string; scalar?: { value: number } }
interface MesosOffer { id: { value: string }; agent_id: { value: string }; resources: MesosResource[] }
interface Status { task_id: { value: string }; state: string; uuid?: string; agent_id?: { value: string }; message?: string }

const TERMINAL = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

const scalarOf = (o: MesosOffer, name: string): number =>
  o.resources.reduce((s, r) => s + (r.name === name ? r.scalar?.value ?? 0 : 0), 0);

export class LoadFramework {
  private calls: PipelinedClient | undefined;
  private readonly url: URL;
  private frameworkId = '';
  private streamId = '';
  private subscription: http.ClientRequest | undefined;
  private closed = false;

  private nextTask = 0;
  private readonly offeredAt = new Map<string, number>();
  private readonly latencies: number[] = [];
  private finished = 0;
  private readonly failed: Record<string, number> = {};
  private terminal = 0;
  private readonly ended = new Set<string>();
  private duplicates = 0;
  private pendingAcks = 0;
  private firstOfferAt: number | undefined;
  private offers = 0;
  private accepts = 0;
  private declines = 0;
  private maxPerAccept = 0;
  private updates = 0;
  private callErrors = 0;
  private running = 0;
  private firstError: string | undefined;

  private resolveRun!: (r: LoadResult) => void;
  private rejectRun!: (e: Error) => void;

  constructor(private readonly o: LoadOptions) {
    this.url = new URL('/api/v1/scheduler', o.master);
  }

  /** Subscribes, launches every task, resolves when all are terminal and acknowledged. */
  run(): Promise<LoadResult> {
    const done = new Promise<LoadResult>((resolve, reject) => { this.resolveRun = resolve; this.rejectRun = reject; });
    const timer = setTimeout(() => this.fail(new Error(`timed out after ${this.o.timeoutMs} ms: ${this.describe()}`)), this.o.timeoutMs);
    const ticker = setInterval(() => this.o.progress?.(this.describe()), this.o.progressEveryMs ?? 1000);
    this.subscribe();
    return done.finally(() => {
      clearTimeout(timer);
      clearInterval(ticker);
      this.close();
    });
  }

  close(): void {
    this.closed = true;
    this.subscription?.destroy();
    this.calls?.close();
  }

  private describe(): string {
    return `launched ${this.nextTask}/${this.o.tasks}, running-seen ${this.running}, terminal ${this.terminal} (failed ${this.terminal - this.finished}), offers ${this.offers}, accepts ${this.accepts}, declines ${this.declines}, acks in flight ${this.pendingAcks}`;
  }

  private fail(e: Error): void {
    this.firstError ??= e.message;
    this.rejectRun(e);
  }

  private subscribe(): void {
    const body = JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'bench', name: this.o.name, failover_timeout: 0 } } });
    const req = http.request(this.url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        this.fail(new Error(`SUBSCRIBE failed: ${res.statusCode}`));
        return;
      }
      this.streamId = String(res.headers['mesos-stream-id'] ?? '');
      const decoder = new RecordIODecoder();
      res.on('data', (chunk: Buffer) => {
        try {
          for (const ev of decoder.push(chunk)) this.onEvent(ev as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
        } catch (e) {
          this.fail(e as Error);
        }
      });
      res.on('close', () => { if (!this.closed) this.fail(new Error(`subscription stream closed: ${this.describe()}`)); });
    });
    req.on('error', (e) => { if (!this.closed) this.fail(e); });
    req.end(body);
    this.subscription = req;
  }

  private onEvent(ev: Record<string, any>): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    switch (ev.type) {
      case 'SUBSCRIBED':
        this.frameworkId = ev.subscribed.framework_id.value;
        break;
      case 'OFFERS': {
        const now = performance.now();
        this.firstOfferAt ??= now;
        for (const offer of (ev.offers?.offers ?? []) as MesosOffer[]) this.onOffer(offer, now);
        break;
      }
      case 'UPDATE':
        this.onUpdate(ev.update.status as Status);
        break;
      case 'ERROR':
        this.fail(new Error(`master sent ERROR: ${ev.message}`));
        break;
      default:
        break; // HEARTBEAT, RESCIND (not expected: no offer timeout), FAILURE
    }
  }

  private onOffer(offer: MesosOffer, now: number): void {
    this.offers++;
    // Milli-units, as the master rounds scalars to 0.001.
    const cpus = Math.round(scalarOf(offer, 'cpus') * 1000);
    const mem = Math.round(scalarOf(offer, 'mem') * 1000);
    const fit = Math.min(
      this.o.tasks - this.nextTask,
      Math.floor(cpus / Math.round(this.o.taskCpus * 1000)),
      Math.floor(mem / Math.round(this.o.taskMem * 1000)),
    );
    if (fit <= 0) {
      this.declines++;
      // Nothing fits (or nothing left): a filter keeps this exact remainder away; anything larger
      // (resources freed by a finished task) is offered again regardless.
      this.call({ type: 'DECLINE', decline: { offer_ids: [offer.id], filters: { refuse_seconds: this.nextTask < this.o.tasks ? 1 : 3600 } } });
      return;
    }
    const resources = [
      { name: 'cpus', type: 'SCALAR', scalar: { value: this.o.taskCpus } },
      { name: 'mem', type: 'SCALAR', scalar: { value: this.o.taskMem } },
    ];
    const taskInfos = new Array(fit);
    for (let i = 0; i < fit; i++) {
      const id = `bench-${this.nextTask++}`;
      this.offeredAt.set(id, now);
      taskInfos[i] = { name: id, task_id: { value: id }, agent_id: offer.agent_id, resources, command: { value: this.o.command, shell: true } };
    }
    this.accepts++;
    this.maxPerAccept = Math.max(this.maxPerAccept, fit);
    this.call({
      type: 'ACCEPT',
      accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: taskInfos } }], filters: { refuse_seconds: this.o.acceptRefuseSeconds } },
    });
  }

  private onUpdate(s: Status): void {
    this.updates++;
    const now = performance.now();
    const id = s.task_id.value;
    if (s.state === 'TASK_RUNNING') {
      const at = this.offeredAt.get(id);
      if (at !== undefined) {
        this.latencies.push(now - at);
        this.offeredAt.delete(id);
        this.running++;
      }
    }
    if (TERMINAL.has(s.state) && this.ended.has(id)) {
      this.duplicates++; // the same terminal update delivered twice: counted once
    } else if (TERMINAL.has(s.state)) {
      this.ended.add(id);
      this.terminal++;
      if (s.state === 'TASK_FINISHED') this.finished++;
      else {
        this.failed[s.state] = (this.failed[s.state] ?? 0) + 1;
        if (this.firstError === undefined) {
          this.firstError = `${id}: ${s.state} ${s.message ?? ''}`;
          this.o.progress?.(`first failed task: ${this.firstError}`);
        }
      }
      this.offeredAt.delete(id);
    }
    if (s.uuid) {
      this.pendingAcks++;
      this.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: s.agent_id, task_id: s.task_id, uuid: s.uuid } }, () => {
        this.pendingAcks--;
        this.maybeDone();
      });
    } else {
      this.maybeDone();
    }
  }

  private maybeDone(): void {
    if (this.terminal < this.o.tasks || this.pendingAcks > 0) return;
    this.resolveRun({
      tasks: this.o.tasks,
      finished: this.finished,
      failed: { ...this.failed },
      durationMs: performance.now() - (this.firstOfferAt ?? 0),
      latenciesMs: this.latencies,
      offers: this.offers,
      accepts: this.accepts,
      declines: this.declines,
      maxTasksPerAccept: this.maxPerAccept,
      updates: this.updates,
      duplicateTerminal: this.duplicates,
      callErrors: this.callErrors,
    });
  }

  /** POSTs a call on the pipelined connections; anything but 202 counts as an error. */
  private call(call: Record<string, unknown>, after?: () => void): void {
    const body = JSON.stringify({ framework_id: { value: this.frameworkId }, ...call });
    this.calls ??= new PipelinedClient(this.url, CALL_CONNECTIONS, (e) => { if (!this.closed) this.fail(new Error(`call connection failed: ${e.message}`)); });
    this.calls.post(body, { 'Mesos-Stream-Id': this.streamId }, (outcome) => {
      if (outcome instanceof Error) {
        if (this.closed) return;
        this.callErrors++;
        this.o.progress?.(`${String(call.type)} failed: ${outcome.message}`);
      } else if (outcome.status !== 202) {
        this.callErrors++;
        this.o.progress?.(`${String(call.type)} answered ${outcome.status}: ${outcome.body.slice(0, 300)}`);
      }
      after?.();
    });
  }
}
