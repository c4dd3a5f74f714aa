// Jittered exponential backoff around one API call. The SDK's own retries are switched off (call
// option `retry: null`), so this is the only retry layer and its sleep is injectable for tests.
import type { Logger } from '../../src/common/logger.ts';
import { classifyApiError, toProviderError } from './gce-errors.ts';

export interface RetryPolicy {
  /** Total attempts including the first (default 5). */
  readonly maxAttempts: number;
  /** First backoff ceiling in ms (default 500); doubles per attempt up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** [0, 1) — Math.random by default; tests pin it. */
  readonly random: () => number;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** "Full jitter": uniform in [0, min(cap, base · 2^(attempt-1))). */
export function backoffDelay(attempt: number, p: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const ceiling = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(p.random() * ceiling);
}

/**
 * Runs `fn`, retrying 429/rate-limit, 5xx and transport failures. Errors that are not worth
 * retrying, or that outlast the attempts, are thrown as typed provider errors (not-found and
 * already-exists as GceResourceError); errors that are not API errors are rethrown unchanged.
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, p: RetryPolicy, log?: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const c = classifyApiError(e);
      if (!c) throw e;
      if (!c.retryable || attempt >= p.maxAttempts) throw toProviderError(c, what, attempt);
      const delay = backoffDelay(attempt, p);
      log?.warn({ call: what, attempt, code: c.code, delayMs: delay }, 'gce call failed, retrying');
      await p.sleep(delay);
    }
  }
}
