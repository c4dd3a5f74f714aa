// Typed provider errors (after Karpenter's cloudprovider errors) with is…() helpers, so the planner
// can tell "back off this pool/type" from "retry" from "fix your configuration".

export abstract class ProviderError extends Error {
  abstract readonly kind: 'capacity' | 'quota' | 'throttled' | 'auth' | 'config' | 'conflict' | 'unavailable';
  constructor(message: string, readonly provider: string, readonly code?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The provider has no capacity for this type/zone now: back the pool/type off. */
export class InsufficientCapacityError extends ProviderError {
  readonly kind = 'capacity' as const;
}

/** An account or project limit is reached: back off; raising the limit is a human's job. */
export class QuotaExceededError extends ProviderError {
  readonly kind = 'quota' as const;
}

/** Rate limited; adapters retry with jittered backoff before surfacing this. */
export class ThrottledError extends ProviderError {
  readonly kind = 'throttled' as const;
}

/** Credentials missing, wrong or not allowed: never retried. */
export class AuthError extends ProviderError {
  readonly kind = 'auth' as const;
}

/** The pool or request is wrong (missing region, unknown type …): raised before any API call. */
export class InvalidConfigError extends ProviderError {
  readonly kind = 'config' as const;
}

/** The same idempotency token was used with different parameters. */
export class IdempotencyConflictError extends ProviderError {
  readonly kind = 'conflict' as const;
}

/** Transient server-side trouble (5xx) that outlasted the retries. */
export class ProviderUnavailableError extends ProviderError {
  readonly kind = 'unavailable' as const;
}

export const isCapacityError = (e: unknown): e is InsufficientCapacityError | QuotaExceededError =>
  e instanceof InsufficientCapacityError || e instanceof QuotaExceededError;
export const isRetryable = (e: unknown): boolean => e instanceof ThrottledError || e instanceof ProviderUnavailableError;
export const isConfigError = (e: unknown): e is InvalidConfigError | AuthError => e instanceof InvalidConfigError || e instanceof AuthError;
