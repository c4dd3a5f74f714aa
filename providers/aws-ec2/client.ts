// One EC2 client per target (region + endpoint + credentials), shared by the pools that point at it.
// Credentials: the pool's aws.credentials if given, else the SDK's default chain (env, shared files,
// SSO, web identity, ECS/IMDS) — resolved once up front so "no credentials anywhere" is a clear
// InvalidConfigError before any EC2 call rather than a confusing failure in the middle of a launch.
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Pool } from '../pool-config.ts';
import { InvalidConfigError } from '../errors.ts';
import { KIND } from './errors.ts';
import { Ec2RetryStrategy, type RetryOptions } from './retry.ts';
import type { AwsSection } from './config.ts';

export interface ClientOptions {
  readonly retry?: RetryOptions;
  /** Per-attempt socket timeout for a reply (default 30 s); a timed-out attempt is retried. */
  readonly requestTimeoutMs?: number;
  /** TCP connect timeout (default 5 s). */
  readonly connectionTimeoutMs?: number;
}

export interface Ec2Target {
  /** region|endpoint|access key id (or "default-chain"). */
  readonly key: string;
  readonly region: string;
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function targetOf(aws: AwsSection): Ec2Target {
  const key = [aws.region, aws.endpoint ?? '', aws.credentials?.accessKeyId ?? 'default-chain'].join('|');
  return { key, region: aws.region, endpoint: aws.endpoint, credentials: aws.credentials };
}

export function createEc2Client(target: Ec2Target, opts: ClientOptions = {}): EC2Client {
  const retryStrategy = new Ec2RetryStrategy(opts.retry);
  return new EC2Client({
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.credentials
      ? { credentials: { accessKeyId: target.credentials.accessKeyId, secretAccessKey: target.credentials.secretAccessKey } }
      : {}),
    retryStrategy,
    maxAttempts: retryStrategy.maxAttempts,
    requestHandler: { requestTimeout: opts.requestTimeoutMs ?? 30_000, throwOnRequestTimeout: true, connectionTimeout: opts.connectionTimeoutMs ?? 5_000 },
  });
}

/**
 * Makes sure the client has credentials. With explicit ones there is nothing to do; otherwise the
 * default chain must yield some, or the pools using this target get an InvalidConfigError.
 */
export async function checkCredentials(client: EC2Client, target: Ec2Target, pools: readonly Pool[]): Promise<void> {
  if (target.credentials) return;
  try {
    const creds = await client.config.credentials();
    if (!creds?.accessKeyId) throw new Error('the default chain returned no access key');
  } catch (e) {
    const names = pools.map((p) => `'${p.name}'`).join(', ');
    const why = e instanceof Error ? e.message : String(e);
    const endpointNote = target.endpoint
      ? `aws.endpoint is set (${target.endpoint}) but aws.credentials is not, and `
      : 'aws.credentials is not set and ';
    throw new InvalidConfigError(
      `aws-ec2 pool${pools.length === 1 ? '' : 's'} ${names}: no AWS credentials: ${endpointNote}the SDK's default credential chain ` +
        `(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared config/credentials files, SSO, web identity, container or instance role) found none (${why}); ` +
        'set aws.credentials or provide credentials through one of those',
      KIND, 'MissingCredentials',
    );
  }
}
