// EC2 instance → the provider's Instance.
import type { Instance as Ec2Instance } from '@aws-sdk/client-ec2';
import type { Instance, InstanceState } from '../provider.ts';
import { TAGS } from '../context.ts';
import { KIND } from './errors.ts';

export function mapState(name: string | undefined): InstanceState {
  switch (name) {
    case 'pending':
    case 'running':
    case 'stopping':
    case 'stopped':
    case 'terminated':
      return name;
    case 'shutting-down':
      return 'stopping';
    default:
      return 'unknown';
  }
}

export function tagValue(i: Ec2Instance, key: string): string | undefined {
  return i.Tags?.find((t) => t.Key === key)?.Value;
}

/** `fallbackPool` is used when EC2 returns the instance without tags (RunInstances may). */
export function toInstance(i: Ec2Instance, fallbackPool: string): Instance {
  const out: Instance = {
    id: i.InstanceId ?? '',
    pool: tagValue(i, TAGS.pool) ?? fallbackPool,
    provider: KIND,
    instanceType: i.InstanceType ?? '',
    capacityType: i.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    zone: i.Placement?.AvailabilityZone ?? '',
    state: mapState(i.State?.Name),
    launchedAt: i.LaunchTime ? new Date(i.LaunchTime).getTime() : 0,
    ...(i.PrivateIpAddress ? { privateAddress: i.PrivateIpAddress } : {}),
  };
  return out;
}
