// Our retry policy plugged into the SDK's own retry loop (a smithy RetryStrategyV2): the SDK
// re-sends the very same signed request (so a RunInstances retry carries the same ClientToken), we
// decide what is retryable (throttling, 5xx, lost connections — never capacity, quota or auth) and
// how long to wait: full-jitter exponential backoff with an injectable sleep, so tests take no time.
import type { EC2ClientConfig } from '@aws-sdk/client-ec2';
import { ec2ErrorInfo, retryClass } from './errors.ts';

type SdkRetryStrategy = Extract<NonNullable<EC2ClientConfig['retryStrategy']>, { acquireInitialRetryToken: unknown }>;
type RetryToken = Awaited<ReturnType<SdkRetryStrategy['acquireInitialRetryToken']>>;
type RetryErrorInfo = Parameters<SdkRetryStrategy['refreshRetryTokenForRetry']>[1];

export interface RetryOptions {
  /** Attempts per call including the first (default 5). */
  readonly maxAttempts?: number;
  /** Backoff before retry n is random() × min(maxDelayMs, baseDelayMs × 2^(n-1)) (default 200 ms). */
  readonly baseDelayMs?: number;
  /** Cap for one backoff (default 20 s). */
  readonly maxDelayMs?: number;
  /** Waits between attempts (default setTimeout); tests inject one that records and returns at once. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /** Called before each retry (for logs and tests). */
  readonly onRetry?: (info: { attempt: number; delayMs: number; code: string; kind: 'throttle' | 'transient' }) => void;
}

export const DEFAULT_RETRY = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 20_000 } as const;

// Not unref'd: a one-shot CLI run must not exit in the middle of a backoff.
const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The sleep of these options: the injected one, else a real timer. */
export const sleeperOf = (opts: RetryOptions = {}): ((ms: number) => Promise<void>) => opts.sleep ?? realSleep;

export function backoffMs(retry: number, opts: RetryOptions = {}): number {
  const base = opts.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const cap = opts.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const random = opts.random ?? Math.random;
  return Math.round(random() * Math.min(cap, base * 2 ** (retry - 1)));
}

class Token implements RetryToken {
  constructor(private readonly count: number) {}
  getRetryCount(): number {
    return this.count;
  }
  /** We already waited in refreshRetryTokenForRetry; the SDK must not wait again. */
  getRetryDelay(): number {
    return 0;
  }
}

export class Ec2RetryStrategy implements SdkRetryStrategy {
  readonly maxAttempts: number;

  constructor(private readonly opts: RetryOptions = {}) {
    this.maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? DEFAULT_RETRY.maxAttempts));
  }

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return new Token(0);
  }

  async refreshRetryTokenForRetry(token: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const kind = retryClass(info.error);
    const next = token.getRetryCount() + 1;
    // Throwing here makes the SDK give up and surface the last error.
    if (!kind || next >= this.maxAttempts) throw info.error;
    const delayMs = backoffMs(next, this.opts);
    this.opts.onRetry?.({ attempt: next + 1, delayMs, code: ec2ErrorInfo(info.error).code, kind });
    await sleeperOf(this.opts)(delayMs);
    return new Token(next);
  }

  recordSuccess(): void {}
}
