// The autoscaler's BullMQ queues (producer side). Every job id is deterministic, so the same plan
// step, drain or release queued twice is one job (BullMQ ignores an add with a known id):
//
//   provision  launch_<pool>_<type>_g<n>   launch or power on (the id is also the provider token)
//              boot_<instance>_<t>         delayed to the pool's boot timeout: registered, or gone?
//   drain      drain_<agent>_<t>           DRAIN_AGENT on the leader, wait for DRAINED
//   release    release_<instance>_<t>      terminate / power off
//
// <t> is the instance record's launchedAt: one job per lifetime of an instance. A static machine's
// id (`rack/node1`) and its agent's id come back at every power-on, and finished jobs are kept a
// day, so without it the second drain or power-off of the machine would be ignored as done.
//
// Keys use BullMQ's `prefix` with the cluster's hash tag (`{spillway:<cluster>}:bull`), so Redis
// Cluster keeps them in one slot; the connection has `maxRetriesPerRequest: null` as Workers need.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { keyPrefix } from '../store/redis-store.ts';
import type { LaunchRecord } from './records.ts';
import type { DrainOrder } from './evaluate.ts';

export const QUEUE = { provision: 'provision', drain: 'drain', release: 'release' } as const;

export interface LaunchJobData { readonly kind: 'launch'; readonly launchId: string }
export interface BootCheckJobData { readonly kind: 'boot-check'; readonly instanceId: string; readonly launchedAt?: number }
export type ProvisionJobData = LaunchJobData | BootCheckJobData;

/** A drain order of an evaluation, as its job carries it. */
export interface DrainJobData extends DrainOrder {
  /** Rented machines are marked gone once drained (they never come back); owned ones are kept. */
  readonly markGone: boolean;
}

export interface ReleaseJobData {
  readonly instanceId: string;
  readonly pool: string;
  readonly agentId?: string;
  readonly reason: string;
  /** The instance record's launchedAt (see the job ids above). */
  readonly launchedAt?: number;
}

export function bullPrefix(cluster: string): string {
  return `${keyPrefix(cluster)}bull`;
}

/** `<kind>_<id>_<launchedAt>` (BullMQ ids may not contain ':'). */
const lifetimeJobId = (kind: string, id: string, launchedAt: number | undefined): string =>
  `${kind}_${id.replace(/[^A-Za-z0-9._-]/g, '_')}${launchedAt === undefined ? '' : `_${launchedAt}`}`;
export const bootCheckJobId = (instanceId: string, launchedAt?: number): string => lifetimeJobId('boot', instanceId, launchedAt);
export const drainJobId = (agentId: string, launchedAt?: number): string => lifetimeJobId('drain', agentId, launchedAt);
export const releaseJobId = (instanceId: string, launchedAt?: number): string => lifetimeJobId('release', instanceId, launchedAt);

export interface QueueOptions {
  /** Attempts per job (retries with exponential backoff in between). */
  attempts?: number;
  /** First retry delay (ms); doubles each time. */
  backoffMs?: number;
}

export class AutoscalerQueues {
  readonly provision: Queue<ProvisionJobData>;
  readonly drain: Queue<DrainJobData>;
  readonly release: Queue<ReleaseJobData>;
  private readonly defaults: JobsOptions;

  constructor(connection: Redis, readonly cluster: string, opts: QueueOptions = {}) {
    const prefix = bullPrefix(cluster);
    this.defaults = {
      attempts: opts.attempts ?? 5,
      backoff: { type: 'exponential', delay: opts.backoffMs ?? 2_000 },
      // Finished jobs stay a day, so a step queued again within it is still recognised as done.
      removeOnComplete: { age: 86_400, count: 5_000 },
      removeOnFail: { age: 7 * 86_400, count: 5_000 },
    };
    this.provision = new Queue<ProvisionJobData>(QUEUE.provision, { connection, prefix, defaultJobOptions: this.defaults });
    this.drain = new Queue<DrainJobData>(QUEUE.drain, { connection, prefix, defaultJobOptions: this.defaults });
    this.release = new Queue<ReleaseJobData>(QUEUE.release, { connection, prefix, defaultJobOptions: this.defaults });
  }

  async addLaunch(l: LaunchRecord): Promise<void> {
    await this.provision.add('launch', { kind: 'launch', launchId: l.jobId }, { jobId: l.jobId });
  }

  async addBootCheck(r: { instanceId: string; launchedAt: number }, delayMs: number): Promise<void> {
    const data: BootCheckJobData = { kind: 'boot-check', instanceId: r.instanceId, launchedAt: r.launchedAt };
    await this.provision.add('boot-check', data, { jobId: bootCheckJobId(r.instanceId, r.launchedAt), delay: Math.max(0, delayMs) });
  }

  async addDrain(d: DrainJobData): Promise<void> {
    await this.drain.add('drain', d, { jobId: drainJobId(d.agentId, d.launchedAt), ...(d.urgent ? { priority: 1 } : {}) });
  }

  async addRelease(r: ReleaseJobData): Promise<void> {
    await this.release.add('release', r, { jobId: releaseJobId(r.instanceId, r.launchedAt) });
  }

  async close(): Promise<void> {
    await Promise.all([this.provision.close(), this.drain.close(), this.release.close()]);
  }
}
