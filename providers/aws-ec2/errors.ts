// EC2 error codes → the typed provider errors, and which failures are worth retrying. The SDK
// hands us a ServiceException whose `name`/`Code` is the EC2 error code; network failures come as
// plain errors with a Node `code` (ECONNRESET …) and no HTTP status.
import {
  AuthError, IdempotencyConflictError, InsufficientCapacityError, InvalidConfigError, type ProviderError,
  ProviderUnavailableError, QuotaExceededError, ThrottledError,
} from '../errors.ts';

export const KIND = 'aws-ec2';

/**
 * No capacity for this type/zone right now: back the pool/type off. `Unsupported` ("type not offered
 * in this zone", "spot not available for this type") is treated the same way, as Karpenter does:
 * the right reaction is to try another type or zone, not to declare the pool broken.
 */
export const CAPACITY_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity', 'InsufficientHostCapacity', 'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity', 'UnfulfillableCapacity', 'SpotMaxPriceTooLow', 'InsufficientFreeAddressesInSubnet',
  'Unsupported',
]);
/** An account limit: back off; raising it is a human's job. */
export const QUOTA_CODES: ReadonlySet<string> = new Set([
  'InstanceLimitExceeded', 'VcpuLimitExceeded', 'MaxSpotInstanceCountExceeded', 'ResourceLimitExceeded',
]);
/** Rate limiting: retried with jittered exponential backoff, then ThrottledError. */
export const THROTTLE_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'RequestThrottledException',
  'TooManyRequestsException', 'SlowDown', 'EC2ThrottledException',
]);
/** Credentials missing, wrong or not allowed: never retried. */
export const AUTH_CODES: ReadonlySet<string> = new Set([
  'UnauthorizedOperation', 'AuthFailure', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'OptInRequired',
  'Blocked', 'ExpiredToken', 'IncompleteSignature', 'MissingAuthenticationToken', 'RequestExpired',
  'CredentialsProviderError',
]);
export const CONFLICT_CODES: ReadonlySet<string> = new Set(['IdempotentParameterMismatch']);
/** Server-side trouble that a retry may fix (besides any 5xx). */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(['InternalError', 'InternalFailure', 'ServiceUnavailable', 'Unavailable']);
/** Node / smithy names for a request that never got an HTTP answer. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException',
]);

export interface Ec2ErrorInfo {
  /** EC2 error code (`RequestLimitExceeded` …) or the Node error code for network failures. */
  readonly code: string;
  readonly status?: number;
  readonly message: string;
  readonly attempts?: number;
  /** No HTTP response at all (connection reset, timeout …). */
  readonly network: boolean;
}

export function ec2ErrorInfo(e: unknown): Ec2ErrorInfo {
  const err = (e ?? {}) as { name?: unknown; Code?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number; attempts?: number }; $fault?: unknown };
  const status = err.$metadata?.httpStatusCode;
  const message = typeof err.message === 'string' ? err.message : String(e);
  // Service exceptions carry the EC2 code in Code/name; network errors carry a Node code.
  const serviceCode = typeof err.Code === 'string' ? err.Code : err.$fault !== undefined && typeof err.name === 'string' ? err.name : undefined;
  const nodeCode = typeof err.code === 'string' ? err.code : undefined;
  const name = typeof err.name === 'string' ? err.name : 'Error';
  const code = serviceCode ?? nodeCode ?? name;
  const network = status === undefined && serviceCode === undefined && (NETWORK_CODES.has(code) || NETWORK_CODES.has(name));
  return { code, status, message, attempts: err.$metadata?.attempts, network };
}

/** Whether a failed call may be retried, and why. Capacity, quota, auth and config errors never are. */
export function retryClass(e: unknown): 'throttle' | 'transient' | undefined {
  const i = ec2ErrorInfo(e);
  if (THROTTLE_CODES.has(i.code) || i.status === 429) return 'throttle';
  if (CAPACITY_CODES.has(i.code) || QUOTA_CODES.has(i.code) || AUTH_CODES.has(i.code) || CONFLICT_CODES.has(i.code)) return undefined;
  if (i.network || TRANSIENT_CODES.has(i.code) || (i.status !== undefined && i.status >= 500)) return 'transient';
  return undefined;
}

/** What the failed call was about, for messages: the pool(s) and, for launches, the instance type. */
export interface CallContext {
  readonly op: string;
  readonly pools: readonly string[];
  readonly instanceType?: string;
  readonly count?: number;
}

export function describeCall(c: CallContext): string {
  const pools = c.pools.length === 1 ? `pool '${c.pools[0]}'` : `pools ${c.pools.map((p) => `'${p}'`).join(', ')}`;
  const what = c.instanceType ? ` (${c.count !== undefined ? `${c.count} × ` : ''}${c.instanceType})` : '';
  return `aws-ec2 ${pools}${what}: ${c.op}`;
}

/** Maps any error from an EC2 call (after the SDK's retries) to a typed ProviderError. */
export function mapEc2Error(e: unknown, c: CallContext): ProviderError {
  const i = ec2ErrorInfo(e);
  const where = describeCall(c);
  const detail = `${i.code}: ${i.message}`;
  const tries = i.attempts && i.attempts > 1 ? ` (after ${i.attempts} attempts)` : '';
  let out: ProviderError;
  if (CAPACITY_CODES.has(i.code)) out = new InsufficientCapacityError(`${where}: no capacity: ${detail}`, KIND, i.code);
  else if (QUOTA_CODES.has(i.code)) out = new QuotaExceededError(`${where}: account limit reached: ${detail}`, KIND, i.code);
  else if (AUTH_CODES.has(i.code)) out = new AuthError(`${where}: not authorised: ${detail}`, KIND, i.code);
  else if (CONFLICT_CODES.has(i.code)) {
    out = new IdempotencyConflictError(`${where}: the launch token was already used with different parameters: ${detail}`, KIND, i.code);
  } else if (retryClass(e) === 'throttle') out = new ThrottledError(`${where}: throttled${tries}: ${detail}`, KIND, i.code);
  else if (retryClass(e) === 'transient') out = new ProviderUnavailableError(`${where}: EC2 unavailable${tries}: ${detail}`, KIND, i.code);
  // Any other 4xx (InvalidParameterValue, InvalidAMIID.NotFound, InvalidSubnetID.NotFound …) means
  // the request built from the pool is wrong: a configuration problem, not something to retry.
  else out = new InvalidConfigError(`${where}: EC2 rejected the request: ${detail}`, KIND, i.code);
  out.cause = e;
  return out;
}
