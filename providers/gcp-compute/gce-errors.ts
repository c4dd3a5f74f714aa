// Turns whatever the Compute SDK throws (or an operation's `error`) into one classification, and
// that into the typed provider errors of ../errors.ts.
//
// The SDK's error shape depends on its major version (see shared/STACK.md):
//  - @google-cloud/compute 6.x (google-gax 5, REST): a GaxiosError; `status`/`code` is the HTTP
//    status (403, 429, 503 …) and `message` is the JSON error body
//    `{"error":{"code":403,"message":…,"errors":[{"reason":"quotaExceeded",…}]}}`.
//  - 7.x: a GoogleError; `code` is a gRPC status number (7 PERMISSION_DENIED, 8 RESOURCE_EXHAUSTED,
//    14 UNAVAILABLE …) with `reason`/`statusDetails`/`details` from the body.
// gRPC codes are 0–16 and HTTP statuses ≥ 100, so one number tells which form it is.
//
// Order matters: GCE reports quota as HTTP 403 (reason quotaExceeded) and capacity stock-outs as
// 503-ish operation errors, so the specific GCE codes win over the generic status.
import type { protos } from '@google-cloud/compute';
import {
  AuthError, InsufficientCapacityError, InvalidConfigError, ProviderError, ProviderUnavailableError, QuotaExceededError, ThrottledError,
} from '../errors.ts';

export const KIND = 'gcp-compute';

export type GceErrorClass =
  | 'capacity' | 'quota' | 'throttled' | 'auth' | 'config' | 'unavailable' | 'network' | 'not-found' | 'already-exists';

export interface Classified {
  readonly cls: GceErrorClass;
  /** The most specific code seen: a GCE error code/reason, or `http-<status>` / `grpc-<code>`. */
  readonly code: string;
  readonly message: string;
  /** Worth retrying the same request (with the same requestId). */
  readonly retryable: boolean;
}

/** Not-found / already-exists are outcomes, not failures: callers catch this and decide. */
export class GceResourceError extends Error {
  constructor(readonly cls: 'not-found' | 'already-exists', message: string) {
    super(message);
    this.name = 'GceResourceError';
  }
}

const NETWORK_CODES = new Set(['TimeoutError', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

// gRPC status numbers (google.rpc.Code).
const GRPC = { CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;
const GRPC_NAMES: Record<string, number> = { ...GRPC };

interface Facts {
  http?: number;
  grpc?: number;
  /** Codes and reasons from the body, operation errors, ErrorInfo. */
  codes: string[];
  message: string;
  networkCode?: string;
}

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => typeof v === 'object' && v !== null;

function bodyFacts(body: unknown, f: Facts): void {
  if (!isObj(body)) return;
  const err = isObj(body.error) ? body.error : body;
  if (typeof err.code === 'number') {
    if (err.code >= 100) f.http ??= err.code;
    else f.grpc ??= err.code;
  }
  if (typeof err.status === 'string') {
    f.codes.push(err.status);
    if (GRPC_NAMES[err.status] !== undefined) f.grpc ??= GRPC_NAMES[err.status];
  }
  if (typeof err.message === 'string') f.message = err.message;
  for (const list of [err.errors, err.details]) {
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      if (!isObj(e)) continue;
      for (const k of ['reason', 'code']) if (typeof e[k] === 'string') f.codes.push(e[k] as string);
      if (typeof e.message === 'string' && !f.message) f.message = e.message;
    }
  }
}

function factsOf(e: unknown): Facts {
  const f: Facts = { codes: [], message: e instanceof Error ? e.message : String(e) };
  if (!isObj(e)) return f;
  // HTTP status first: GaxiosError has status (HTTP) and code (HTTP number or a Node error code).
  if (typeof e.status === 'number') f.http = e.status;
  const response = isObj(e.response) ? e.response : undefined;
  if (typeof response?.status === 'number') f.http ??= response.status;
  const code = typeof e.code === 'string' && /^\d+$/.test(e.code) ? Number(e.code) : e.code;
  if (typeof code === 'number') {
    if (code >= 100) f.http ??= code;
    else f.grpc = code;
  } else if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code)) f.networkCode = e.code;
    else f.codes.push(e.code);
  }
  // The error body: 6.x puts the JSON in message; some paths leave it in response.data.
  const msg = typeof e.message === 'string' ? e.message.trim() : '';
  if (msg.startsWith('{') || msg.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(msg);
      bodyFacts(Array.isArray(parsed) ? parsed.find((x) => isObj(x) && 'error' in x) : parsed, f);
    } catch { /* not JSON after all */ }
  }
  if (isObj(response?.data)) bodyFacts(response.data, f);
  // 7.x GoogleError extras.
  if (typeof e.reason === 'string') f.codes.push(e.reason);
  for (const list of [e.statusDetails, e.details, e.errors]) {
    if (!Array.isArray(list)) continue;
    for (const d of list) {
      if (!isObj(d)) continue;
      for (const k of ['reason', 'code']) if (typeof d[k] === 'string') f.codes.push(d[k] as string);
    }
  }
  // Transport failures: a reset socket, a refused connection, fetch's "fetch failed" wrapper.
  const cause = isObj(e.cause) ? e.cause : isObj(e.error) ? e.error : undefined;
  if (!f.networkCode && typeof cause?.code === 'string' && NETWORK_CODES.has(cause.code)) f.networkCode = cause.code;
  if (!f.networkCode && f.http === undefined && f.grpc === undefined && /socket hang up|fetch failed|other side closed/i.test(f.message)) f.networkCode = 'ECONNRESET';
  return f;
}

function decide(f: Facts): Classified | undefined {
  const has = (re: RegExp) => f.codes.some((c) => re.test(c));
  const mk = (cls: GceErrorClass, code: string, retryable = false): Classified => ({ cls, code, message: f.message, retryable });
  const statusCode = f.http !== undefined ? `http-${f.http}` : f.grpc !== undefined ? `grpc-${f.grpc}` : 'unknown';
  const pick = (re: RegExp) => f.codes.find((c) => re.test(c)) ?? statusCode;

  const CAPACITY = /ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)?|resourcePoolExhausted/i;
  if (has(CAPACITY)) return mk('capacity', pick(CAPACITY));
  const QUOTA = /QUOTA_EXCEEDED|quotaExceeded/;
  if (has(QUOTA) || /Quota '[^']+' exceeded/i.test(f.message)) return mk('quota', pick(QUOTA));
  const RATE = /rateLimitExceeded|userRateLimitExceeded|RATE_LIMIT_EXCEEDED/;
  if (has(RATE) || f.http === 429 || f.grpc === GRPC.RESOURCE_EXHAUSTED) return mk('throttled', pick(RATE), true);
  // Credential trouble raised by google-auth-library before/while getting a token (no API status).
  const CREDENTIALS = /Could not load the default credentials|Could not refresh access token|invalid_grant|unauthorized_client|invalid_client/i;
  if (CREDENTIALS.test(f.message) || has(CREDENTIALS)) return mk('auth', pick(CREDENTIALS) === statusCode ? 'credentials' : pick(CREDENTIALS));
  const EXISTS = /RESOURCE_ALREADY_EXISTS|alreadyExists/;
  if (has(EXISTS) || f.grpc === GRPC.ALREADY_EXISTS) return mk('already-exists', pick(EXISTS));
  const NOT_FOUND = /RESOURCE_NOT_FOUND|^notFound$/;
  if (has(NOT_FOUND) || f.http === 404 || f.grpc === GRPC.NOT_FOUND) return mk('not-found', pick(NOT_FOUND));
  if (f.http === 401 || f.http === 403 || f.grpc === GRPC.UNAUTHENTICATED || f.grpc === GRPC.PERMISSION_DENIED) return mk('auth', statusCode);
  if (f.http === 409 && /already exists/i.test(f.message)) return mk('already-exists', statusCode);
  if ((f.http !== undefined && (f.http >= 500 || f.http === 408 || f.http === 409))
    || (f.grpc !== undefined && ([GRPC.UNAVAILABLE, GRPC.INTERNAL, GRPC.DEADLINE_EXCEEDED, GRPC.ABORTED, GRPC.UNKNOWN, GRPC.CANCELLED] as number[]).includes(f.grpc))) {
    return mk('unavailable', statusCode, true);
  }
  if (f.networkCode) return mk('network', f.networkCode, true);
  if ((f.http !== undefined && f.http >= 400) || (f.grpc !== undefined && ([GRPC.INVALID_ARGUMENT, GRPC.FAILED_PRECONDITION, GRPC.OUT_OF_RANGE, GRPC.UNIMPLEMENTED] as number[]).includes(f.grpc))) {
    return mk('config', f.codes[0] ?? statusCode);
  }
  return undefined;
}

/** Classifies an SDK/transport error; undefined for errors that are not API errors (bugs …). */
export function classifyApiError(e: unknown): Classified | undefined {
  if (e instanceof ProviderError || e instanceof GceResourceError) return undefined;
  return decide(factsOf(e));
}

/** Classifies a DONE operation's `error` (codes like ZONE_RESOURCE_POOL_EXHAUSTED, QUOTA_EXCEEDED). */
export function classifyOperationError(op: protos.google.cloud.compute.v1.IOperation): Classified | undefined {
  const errors = op.error?.errors ?? [];
  if (!errors.length && !op.httpErrorStatusCode) return undefined;
  const f: Facts = {
    codes: errors.map((e) => e.code ?? '').filter(Boolean),
    message: errors.map((e) => `${e.code ?? 'ERROR'}: ${e.message ?? ''}`).join('; ') || op.httpErrorMessage || 'operation failed',
    http: op.httpErrorStatusCode ?? undefined,
  };
  const c = decide(f);
  // An operation that failed is final: the same requestId returns the same failed operation, so
  // retrying it is pointless; a new attempt needs a new launch token.
  return c ? { ...c, retryable: false } : { cls: 'unavailable', code: f.codes[0] ?? 'OPERATION_FAILED', message: f.message, retryable: false };
}

/** The typed provider error for a classification (not-found / already-exists → GceResourceError). */
export function toProviderError(c: Classified, context: string, attempts?: number): Error {
  const msg = `${context}: ${c.message}${attempts && attempts > 1 ? ` (after ${attempts} attempts)` : ''}`;
  switch (c.cls) {
    case 'capacity': return new InsufficientCapacityError(msg, KIND, c.code);
    case 'quota': return new QuotaExceededError(msg, KIND, c.code);
    case 'throttled': return new ThrottledError(msg, KIND, c.code);
    case 'auth': return new AuthError(msg, KIND, c.code);
    case 'config': return new InvalidConfigError(msg, KIND, c.code);
    case 'unavailable':
    case 'network': return new ProviderUnavailableError(msg, KIND, c.code);
    case 'not-found':
    case 'already-exists': return new GceResourceError(c.cls, msg);
  }
}
