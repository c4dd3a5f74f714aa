// Oversubscription on the agent (Mesos' resource estimator + QoS controller, docs/oversubscription.md
// in Mesos). Every `intervalMs` it samples what each running task uses, estimates the slack of the
// non-revocable tasks, reports the estimate to the master with UPDATE_OVERSUBSCRIBED when it
// differs from the last one the master accepted (and again after every (re)subscription), then lets
// the QoS controller preempt revocable tasks if the host shows interference.
import type { Logger } from 'pino';
import type { RunningTask } from '../task-manager.ts';
import { ProcLoadProbe, type LoadProbe } from './load-probe.ts';
import { DEFAULT_LOAD_THRESHOLD, QosController, type QosTask } from './qos-controller.ts';
import { DEFAULT_SAFETY_MARGIN, estimateSlack, oversubscribedResources, sameEstimate, type SlackEstimate } from './slack-estimator.ts';
import { ProcUsageSampler, type UsageSampler } from './usage-sampler.ts';
import { Periodic } from '../../src/common/periodic.ts';

export const DEFAULT_OVERSUBSCRIPTION_INTERVAL_MS = 5000;

export interface OversubscriptionOptions {
  enabled: boolean;
  /** How often to estimate, report and run QoS corrections (default 5000 ms). */
  intervalMs?: number;
  /** Share of the non-revocable allocation kept as headroom, 0 ≤ x < 1 (default 0.1). */
  safetyMargin?: number;
  /** Load per cpu (1-minute load average ÷ cpus) above which revocable tasks are preempted (default 0.9). */
  loadThreshold?: number;
  /** Replaces the /proc sampler (tests). */
  sampler?: UsageSampler;
  /** Replaces the /proc/loadavg probe (tests). */
  loadProbe?: LoadProbe;
}

export interface ResolvedOversubscription {
  intervalMs: number;
  safetyMargin: number;
  loadThreshold: number;
  sampler: UsageSampler;
  loadProbe: LoadProbe;
}

/** Defaults applied and values checked; throws with the option named. */
export function resolveOversubscription(o: OversubscriptionOptions): ResolvedOversubscription {
  const intervalMs = o.intervalMs ?? DEFAULT_OVERSUBSCRIPTION_INTERVAL_MS;
  const safetyMargin = o.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
  const loadThreshold = o.loadThreshold ?? DEFAULT_LOAD_THRESHOLD;
  if (!Number.isFinite(intervalMs) || intervalMs < 10) throw new Error(`oversubscription.intervalMs: ${intervalMs} is not a number of milliseconds ≥ 10`);
  if (!Number.isFinite(safetyMargin) || safetyMargin < 0 || safetyMargin >= 1) throw new Error(`oversubscription.safetyMargin: ${safetyMargin} is not in [0, 1)`);
  if (!Number.isFinite(loadThreshold) || loadThreshold <= 0) throw new Error(`oversubscription.loadThreshold: ${loadThreshold} is not a positive number`);
  return { intervalMs, safetyMargin, loadThreshold, sampler: o.sampler ?? new ProcUsageSampler(), loadProbe: o.loadProbe ?? new ProcLoadProbe() };
}

/** What the monitor needs from the agent's task manager. */
export interface TaskSource {
  runningTasks(): RunningTask[];
  preempt(frameworkId: string, taskId: string, message: string): boolean;
}

export interface MonitorDeps {
  tasks: TaskSource;
  logger: Logger;
  /** Whether a call can go to the master now (subscribed, with a stream id). */
  subscribed(): boolean;
  /** Sends UPDATE_OVERSUBSCRIBED with these resources; resolves true on 202. */
  send(resources: Record<string, unknown>[]): Promise<boolean>;
}

export class OversubscriptionMonitor {
  private readonly qos: QosController;
  /** A slow round (or master) makes the next tick skip, not queue (Periodic). */
  private readonly rounds: Periodic;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;
  private latest: SlackEstimate | undefined;
  /** The estimate the master accepted on the current stream. */
  private accepted: SlackEstimate | undefined;
  private generation = 0;
  private sending: Promise<void> = Promise.resolve();
  private refusedLogged = false;

  constructor(private readonly opts: ResolvedOversubscription, private readonly deps: MonitorDeps) {
    this.qos = new QosController({ loadThreshold: opts.loadThreshold });
    // The first round after one interval: usage is a rate over the time since the last sample.
    this.rounds = new Periodic(() => this.enqueueRound(), opts.intervalMs, { immediately: false });
  }

  start(): void {
    if (!this.stopped) this.rounds.start();
  }

  /** No more rounds or reports; waits for a round in progress (not for a report in flight: the
   *  connection's shutdown ends that one). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.rounds.cancel();
    await this.ticking;
  }

  /** The latest estimate (undefined before the first interval). */
  estimate(): SlackEstimate | undefined {
    return this.latest;
  }

  /**
   * One round now: sample, estimate, report, correct. Rounds never overlap. Resolves once the round
   * is done and the report it made (if any) was answered, so tests can drive the monitor step by step.
   */
  async tick(): Promise<void> {
    await this.enqueueRound();
    await this.sending;
  }

  private enqueueRound(): Promise<void> {
    this.ticking = this.ticking.then(() => this.round()).catch((err: Error) =>
      this.deps.logger.warn({ err: err.message }, 'oversubscription round failed'));
    return this.ticking;
  }

  /** A new stream: the master must hear the current estimate again. */
  onSubscribed(): void {
    this.generation++;
    this.accepted = undefined;
    this.report();
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const running = this.deps.tasks.runningTasks();
    const keyed = running.map((t) => ({ ...t, key: `${t.frameworkId}/${t.taskId}` }));
    const usage = await this.opts.sampler.sample(keyed.map(({ key, frameworkId, taskId, pgid }) => ({ key, frameworkId, taskId, pgid })));
    const tasks: QosTask[] = keyed.map((t) => ({ ...t, usage: usage.get(t.key) }));
    const estimate = estimateSlack(tasks, this.opts.safetyMargin);
    if (!sameEstimate(estimate, this.latest)) this.deps.logger.info({ cpus: estimate.cpus, mem: estimate.mem }, 'oversubscribable slack estimate changed');
    this.latest = estimate;
    this.report();
    const load = await this.opts.loadProbe.read();
    for (const c of this.qos.corrections({ tasks, estimate, load })) {
      if (this.stopped) break;
      this.deps.tasks.preempt(c.frameworkId, c.taskId, c.message);
    }
  }

  /** Sends the latest estimate unless the master already accepted it on this stream. */
  private report(): void {
    this.sending = this.sending.then(async () => {
      const estimate = this.latest;
      if (!estimate || this.stopped || sameEstimate(estimate, this.accepted) || !this.deps.subscribed()) return;
      const generation = this.generation;
      const ok = await this.deps.send(oversubscribedResources(estimate)).catch((err: Error) => {
        this.deps.logger.debug({ err: err.message }, 'UPDATE_OVERSUBSCRIBED failed');
        return false;
      });
      if (ok && generation === this.generation) this.accepted = estimate;
      if (!ok && !this.refusedLogged) {
        this.refusedLogged = true;
        this.deps.logger.warn('master did not accept UPDATE_OVERSUBSCRIBED; retrying every interval');
      }
      if (ok) this.refusedLogged = false;
    });
  }
}
