// RunInstances input for one launch. Idempotency rides on EC2's ClientToken: a hash of cluster,
// pool and the caller's launch token, so the same token for the same pool always maps to the same
// ClientToken (EC2 then returns the instances it already started) while equal tokens in other
// pools or clusters cannot collide. MinCount = MaxCount: all or nothing.
import { createHash } from 'node:crypto';
import type { RunInstancesCommandInput, Tag } from '@aws-sdk/client-ec2';
import type { LaunchSpec } from '../provider.ts';
import type { Pool } from '../pool-config.ts';
import { MANAGED_BY, TAGS } from '../context.ts';
import type { AwsSection } from './config.ts';

/** EC2 allows at most 64 ASCII characters. */
export const CLIENT_TOKEN_MAX = 64;

export function clientTokenFor(cluster: string, pool: string, token: string): string {
  const digest = createHash('sha256').update(`${cluster}\n${pool}\n${token}`).digest('hex');
  return `spillway-${digest}`.slice(0, CLIENT_TOKEN_MAX);
}

export function spillwayTags(cluster: string, pool: string, token: string): Tag[] {
  return [
    { Key: TAGS.cluster, Value: cluster },
    { Key: TAGS.pool, Value: pool },
    { Key: TAGS.managedBy, Value: MANAGED_BY },
    { Key: TAGS.token, Value: token },
  ];
}

export interface LaunchInput {
  readonly cluster: string;
  readonly pool: Pool;
  readonly aws: AwsSection;
  readonly count: number;
  readonly spec: LaunchSpec;
  readonly capacityType: 'on-demand' | 'spot';
  /** Already base64-encoded (see user-data.ts). */
  readonly userDataBase64?: string;
}

export function runInstancesInput(l: LaunchInput): RunInstancesCommandInput {
  const { aws, spec } = l;
  const tags = spillwayTags(l.cluster, l.pool.name, spec.token);
  const input: RunInstancesCommandInput = {
    ClientToken: clientTokenFor(l.cluster, l.pool.name, spec.token),
    MinCount: l.count,
    MaxCount: l.count,
    InstanceType: spec.instanceType as RunInstancesCommandInput['InstanceType'],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
  };
  if (aws.launchTemplate) {
    const lt = aws.launchTemplate;
    input.LaunchTemplate = {
      ...(lt.id ? { LaunchTemplateId: lt.id } : { LaunchTemplateName: lt.name }),
      Version: lt.version ?? '$Default',
    };
  }
  // With a launch template these override the template's values; without one they are the launch.
  if (aws.amiId) input.ImageId = aws.amiId;
  if (aws.subnetId) input.SubnetId = aws.subnetId;
  if (aws.securityGroupIds && aws.securityGroupIds.length > 0) input.SecurityGroupIds = [...aws.securityGroupIds];
  if (aws.instanceProfile) {
    input.IamInstanceProfile = aws.instanceProfile.startsWith('arn:') ? { Arn: aws.instanceProfile } : { Name: aws.instanceProfile };
  }
  if (aws.keyName) input.KeyName = aws.keyName;
  if (spec.zone) input.Placement = { AvailabilityZone: spec.zone };
  if (l.userDataBase64) input.UserData = l.userDataBase64;
  // A rented agent that shuts itself down (`poweroff`) is terminated, not left stopped: EC2's
  // default is stop, and a stopped instance serves nothing yet still bills for its volumes.
  if (l.pool.ownership === 'rented') input.InstanceInitiatedShutdownBehavior = 'terminate';
  if (l.capacityType === 'spot') {
    input.InstanceMarketOptions = {
      MarketType: 'spot',
      SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
    };
  }
  return input;
}
