// GCE Instance resource → the provider contract's Instance.
import type { protos } from '@google-cloud/compute';
import type { CapacityType, Instance, InstanceState } from '../provider.ts';
import { TAGS } from '../context.ts';
import { KIND } from './gce-errors.ts';
import { urlTail } from './naming.ts';

export type GceInstance = protos.google.cloud.compute.v1.IInstance;

const STATES: Record<string, InstanceState> = {
  PROVISIONING: 'pending',
  STAGING: 'pending',
  RUNNING: 'running',
  STOPPING: 'stopping',
  SUSPENDING: 'stopping',
  PENDING_STOP: 'stopping',
  TERMINATED: 'stopped',
  STOPPED: 'stopped',
  SUSPENDED: 'stopped',
};

export function instanceState(status: unknown): InstanceState {
  return STATES[String(status ?? '')] ?? 'unknown';
}

export function capacityTypeOf(i: GceInstance): CapacityType {
  const s = i.scheduling;
  return s?.provisioningModel === 'SPOT' || s?.preemptible === true ? 'spot' : 'on-demand';
}

/**
 * `pool` is the pool the caller asked about (label values may be sanitised copies of the name);
 * `fallbackTime` is used only when GCE sent no parseable creationTimestamp.
 */
export function toInstance(i: GceInstance, pool: string, fallbackTime: number): Instance {
  const created = i.creationTimestamp ? Date.parse(i.creationTimestamp) : NaN;
  const address = i.networkInterfaces?.[0]?.networkIP ?? undefined;
  return {
    id: i.name ?? '',
    pool: pool || i.labels?.[TAGS.pool] || '',
    provider: KIND,
    instanceType: urlTail(i.machineType),
    capacityType: capacityTypeOf(i),
    zone: urlTail(i.zone),
    state: instanceState(i.status),
    launchedAt: Number.isFinite(created) ? created : fallbackTime,
    ...(address ? { privateAddress: address } : {}),
  };
}
