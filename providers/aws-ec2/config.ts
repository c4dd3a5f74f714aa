// Checks on the pool and the launch request that must pass before any EC2 call. Pools normally come
// through PoolSchema (which already requires region and amiId/launchTemplate), but the adapter does
// not trust that: hand-built pools get the same clear InvalidConfigError.
import type { LaunchSpec } from '../provider.ts';
import type { Pool } from '../pool-config.ts';
import { InvalidConfigError } from '../errors.ts';
import { KIND } from './errors.ts';

export type AwsSection = NonNullable<Pool['aws']>;

const REGION = /^[a-z]{2,}(-[a-z0-9]+)+-\d+$/;
/** Launch tokens go into a tag value (≤ 256 characters). */
export const MAX_TOKEN_LENGTH = 256;

const fail = (pool: string, msg: string, code = 'InvalidConfig'): never => {
  throw new InvalidConfigError(`aws-ec2 pool '${pool}': ${msg}`, KIND, code);
};

/** The pool's `aws` section, checked. */
export function checkPool(pool: Pool): AwsSection {
  if (pool.provider !== 'aws-ec2') fail(pool.name, `provider is '${pool.provider}', not 'aws-ec2'`);
  const aws = pool.aws;
  if (!aws) return fail(pool.name, "no 'aws' section (region, amiId or launchTemplate …)");
  if (typeof aws.region !== 'string' || aws.region.trim() === '') {
    fail(pool.name, 'aws.region is missing: EC2 needs a region (e.g. us-east-1)', 'MissingRegion');
  }
  if (!REGION.test(aws.region)) fail(pool.name, `aws.region '${aws.region}' does not look like an AWS region (e.g. us-east-1)`, 'MissingRegion');
  if (aws.endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(aws.endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail(pool.name, `aws.endpoint '${aws.endpoint}' is not an http(s) URL`);
  }
  const lt = aws.launchTemplate;
  if (lt) {
    if (lt.id && lt.name) fail(pool.name, 'aws.launchTemplate: give id or name, not both');
    if (!lt.id && !lt.name) fail(pool.name, 'aws.launchTemplate needs an id or a name');
  } else if (!aws.amiId) {
    fail(pool.name, 'give either aws.launchTemplate or aws.amiId');
  }
  if (aws.credentials && (!aws.credentials.accessKeyId || !aws.credentials.secretAccessKey)) {
    fail(pool.name, 'aws.credentials needs both accessKeyId and secretAccessKey', 'MissingCredentials');
  }
  if (pool.instanceTypes.length === 0) fail(pool.name, 'no instanceTypes: the price book lists what this pool may launch');
  return aws;
}

export interface CheckedLaunch {
  readonly capacityType: 'on-demand' | 'spot';
}

/** The launch request against the pool: count, instance type, token, zone, capacity type. */
export function checkLaunch(pool: Pool, aws: AwsSection, count: number, spec: LaunchSpec): CheckedLaunch {
  const where = `pool '${pool.name}' (${spec.instanceType})`;
  const bad = (msg: string, code = 'InvalidLaunch'): never => {
    throw new InvalidConfigError(`aws-ec2 ${where}: ${msg}`, KIND, code);
  };
  if (!Number.isInteger(count) || count <= 0) bad(`count must be a positive integer, got ${count}`, 'InvalidCount');
  if (!pool.instanceTypes.some((t) => t.name === spec.instanceType)) {
    bad(`instance type '${spec.instanceType}' is not in the pool's price book (${pool.instanceTypes.map((t) => t.name).join(', ')})`, 'UnknownInstanceType');
  }
  if (typeof spec.token !== 'string' || spec.token.length === 0) bad('a launch token is required (it makes the launch idempotent)', 'MissingToken');
  if (spec.token.length > MAX_TOKEN_LENGTH) bad(`launch token is ${spec.token.length} characters; at most ${MAX_TOKEN_LENGTH} fit a tag`, 'InvalidToken');
  const capacityType = spec.capacityType ?? pool.capacityType;
  if (capacityType !== 'on-demand' && capacityType !== 'spot') bad(`capacityType '${String(capacityType)}' is neither on-demand nor spot`);
  if (spec.zone !== undefined && !spec.zone.startsWith(aws.region)) bad(`zone '${spec.zone}' is not in region ${aws.region}`, 'InvalidZone');
  return { capacityType };
}
