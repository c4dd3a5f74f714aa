// What every provider gets from the master: the cluster it tags instances with, where agents
// should find the master, a logger and the clock.
import type { Clock } from '../src/common/clock.ts';
import type { Logger } from '../src/common/logger.ts';

export interface ProviderContext {
  /** Cluster name; instances are tagged/labelled `spillway-cluster=<cluster>`. */
  readonly cluster: string;
  readonly masterUrl: string;
  readonly log: Logger;
  readonly clock: Clock;
}

/** Tag / label keys shared by the cloud adapters. */
export const TAGS = {
  cluster: 'spillway-cluster',
  pool: 'spillway-pool',
  managedBy: 'managed-by',
  token: 'spillway-launch-token',
} as const;
export const MANAGED_BY = 'spillway';
