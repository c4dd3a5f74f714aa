// The autoscaler's BullMQ queues (producer side). Every job id is deterministic, so the same plan
// step, drain or release queued twice is one job (BullMQ ignores an add with a known id):
//
//   provision  launch_<pool>_<type>_g<n>   launch or power on (the id is also the provider token)
//              boot_<instance>             delayed to the pool's boot timeout: registered, or gone?
//   drain      drain_<agent>               DRAIN_AGENT on the leader, wait for DRAINED
//   release    release_<instance>          terminate / power off
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
export interface BootCheckJobData { readonly kind: 'boot-check'; readonly instanceId: string }
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
}

export function bullPrefix(cluster: string): string {
  return `${keyPrefix(cluster)}bull`;
}

export const bootCheckJobId = (instanceId: string): string => `boot_${instanceId.replace(/[^A-Za-z0-9._-]/g, '_')}`;
export const drainJobId = (agentId: string): string => `drain_${agentId.replace(/[^A-Za-z0-9._-]/g, '_')}`;
export const releaseJobId = (instanceId: string): string => `release_${instanceId.replace(/[^A-Za-z0-9._-]/g, '_')}`;

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

  async addBootCheck(instanceId: string, delayMs: number): Promise<void> {
    await this.provision.add('boot-check', { kind: 'boot-check', instanceId }, { jobId: bootCheckJobId(instanceId), delay: Math.max(0, delayMs) });
  }

  async addDrain(d: DrainJobData): Promise<void> {
    await this.drain.add('drain', d, { jobId: drainJobId(d.agentId), ...(d.urgent ? { priority: 1 } : {}) });
  }

  async addRelease(r: ReleaseJobData): Promise<void> {
    await this.release.add('release', r, { jobId: releaseJobId(r.instanceId) });
  }

  async close(): Promise<void> {
    await Promise.all([this.provision.close(), this.drain.close(), this.release.close()]);
  }
}
