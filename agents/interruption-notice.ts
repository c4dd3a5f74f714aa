// Notices that the cloud is about to take this VM back, read from its metadata server, so the agent
// can have itself drained while there is still time to stop its tasks cleanly:
//   aws-ec2      IMDSv2 `GET /latest/meta-data/spot/instance-action` — 404 until EC2 schedules a
//                Spot interruption, then {"action":"terminate"|"stop"|"hibernate","time":ISO-8601}
//                (two minutes' warning)
//   gcp-compute  `GET /computeMetadata/v1/instance/preempted` (Metadata-Flavor: Google) — "FALSE"
//                until the Spot/preemptible VM is preempted, then "TRUE" (30 seconds' warning)
// The server is polled every `intervalMs`; a notice is reported once. A metadata server that does
// not answer is logged (once per outage) and polled again: no notice is ever made up.
import type { Logger } from 'pino';
import type { Clock } from '../src/common/clock.ts';
import { Periodic } from '../src/common/periodic.ts';
import { imdsV2Token, metadataBase, type MetadataProvider } from './metadata-server.ts';

export type NoticeProvider = MetadataProvider;

export interface InterruptionNotice {
  provider: NoticeProvider;
  /** What the cloud will do: terminate, stop, hibernate (EC2) or preempt (GCE). */
  action: string;
  /** When it will, in ms since the epoch. */
  deadlineMs: number;
}

export interface InterruptionWatcherOptions {
  provider: NoticeProvider;
  /** Default: the cloud's own metadata server. */
  metadataUrl?: string;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  onNotice(notice: InterruptionNotice): void;
}

/** GCE gives a preempted VM 30 s before it stops it. */
export const GCE_PREEMPTION_NOTICE_MS = 30_000;
const REQUEST_TIMEOUT_MS = 2000;
/** IMDSv2 session tokens are asked for 6 h and renewed an hour early. */
const IMDS_TOKEN_TTL_S = 6 * 3600;

export class InterruptionWatcher {
  private readonly periodic: Periodic;
  private imdsToken: { value: string; until: number } | undefined;
  private noticed = false;
  private failing = false;
  private readonly base: string;

  constructor(private readonly opts: InterruptionWatcherOptions) {
    this.base = metadataBase(opts.provider, opts.metadataUrl);
    this.periodic = new Periodic(() => this.poll(), opts.intervalMs);
  }

  start(): void {
    this.periodic.start();
  }

  async stop(): Promise<void> {
    await this.periodic.stop();
  }

  /** One look at the metadata server; reports a notice (once) when there is one. */
  async poll(): Promise<InterruptionNotice | undefined> {
    let notice: InterruptionNotice | undefined;
    try {
      notice = this.opts.provider === 'aws-ec2' ? await this.pollEc2() : await this.pollGce();
      if (this.failing) this.opts.logger.info({ metadataUrl: this.base }, 'the metadata server answers again');
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.opts.logger.warn({ err: (e as Error).message, metadataUrl: this.base }, 'cannot read interruption notices from the metadata server; will keep trying');
      this.failing = true;
      return undefined;
    }
    if (notice && !this.noticed) {
      this.noticed = true;
      this.periodic.cancel();
      this.opts.onNotice(notice);
    }
    return notice;
  }

  private async pollEc2(): Promise<InterruptionNotice | undefined> {
    const res = await this.get('/latest/meta-data/spot/instance-action', { 'X-aws-ec2-metadata-token': await this.ec2Token() });
    const body = await res.text();
    if (res.status === 401) this.imdsToken = undefined; // expired or the instance was stopped and started: ask again
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`spot/instance-action answered ${res.status}: ${body.slice(0, 200)}`);
    let parsed: { action?: unknown; time?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new Error(`spot/instance-action is not JSON: ${body.slice(0, 200)}`);
    }
    const deadlineMs = typeof parsed.time === 'string' ? Date.parse(parsed.time) : NaN;
    if (typeof parsed.action !== 'string' || !Number.isFinite(deadlineMs)) throw new Error(`spot/instance-action lacks action and time: ${body.slice(0, 200)}`);
    return { provider: 'aws-ec2', action: parsed.action, deadlineMs };
  }

  private async ec2Token(): Promise<string> {
    const now = this.opts.clock.now();
    if (this.imdsToken && this.imdsToken.until > now) return this.imdsToken.value;
    const value = await imdsV2Token(this.base, IMDS_TOKEN_TTL_S, REQUEST_TIMEOUT_MS);
    this.imdsToken = { value, until: now + (IMDS_TOKEN_TTL_S - 3600) * 1000 };
    return value;
  }

  private async pollGce(): Promise<InterruptionNotice | undefined> {
    const res = await this.get('/computeMetadata/v1/instance/preempted', { 'Metadata-Flavor': 'Google' });
    const body = (await res.text()).trim();
    if (!res.ok) throw new Error(`instance/preempted answered ${res.status}: ${body.slice(0, 200)}`);
    if (body === 'FALSE') return undefined;
    if (body !== 'TRUE') throw new Error(`instance/preempted is neither TRUE nor FALSE: ${body.slice(0, 200)}`);
    return { provider: 'gcp-compute', action: 'preempt', deadlineMs: this.opts.clock.now() + GCE_PREEMPTION_NOTICE_MS };
  }

  private get(path: string, headers: Record<string, string>): Promise<Response> {
    return fetch(`${this.base}${path}`, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  }
}
