// The durable-state seam. The master keeps an in-memory mirror and writes every mutation through a
// Store before it acknowledges the client. RedisStore (beside this file) is the real one.

/** Hashes of records, keyed by id. */
export type HashName = 'agents' | 'frameworks' | 'tasks' | 'meta' | 'weights' | 'quotas' | 'demands'
  // Maintenance (src/master/maintenance.ts): agent drains and deactivations, agents marked gone,
  // the maintenance schedule, machine modes and frameworks' answers to inverse offers.
  | 'agent_drains' | 'deactivated_agents' | 'gone_agents' | 'maintenance' | 'machines' | 'inverse_offer_statuses'
  // Join tokens (src/auth/join-tokens.ts), read on demand.
  | 'join_tokens';
/** Capped lists, newest first. */
export type ListName = 'completed_tasks' | 'removed_frameworks' | 'policy_versions' | 'departed_agents';

export type WriteOp =
  /** `encode`: the value's JSON, when the writer knows a cheaper way than JSON.stringify (same value). */
  | { readonly op: 'put'; readonly hash: HashName; readonly id: string; readonly value: unknown; readonly encode?: (value: never) => string }
  | { readonly op: 'delete'; readonly hash: HashName; readonly id: string }
  | { readonly op: 'append'; readonly list: ListName; readonly value: unknown; readonly max: number; readonly encode?: (value: never) => string };

export interface Snapshot {
  readonly agents: Map<string, unknown>;
  readonly frameworks: Map<string, unknown>;
  readonly tasks: Map<string, unknown>;
  readonly meta: Map<string, unknown>;
  readonly weights: Map<string, unknown>;
  readonly quotas: Map<string, unknown>;
  readonly demands: Map<string, unknown>;
}

export interface Store {
  /** Becomes the writer: bumps the fencing epoch; writes of any older holder fail from now on. */
  claimEpoch(): Promise<number>;
  /**
   * Writes a batch atomically, guarded by the epoch. Rejects with FencedError when deposed.
   * `deferrable` writes may wait a few milliseconds to share a call with later writes (for
   * state whose loss in a crash only causes a re-send, e.g. acknowledgements).
   */
  write(ops: readonly WriteOp[], options?: { deferrable?: boolean }): Promise<void>;
  load(): Promise<Snapshot>;
  /** Every record of one hash (for state the Snapshot does not carry). */
  readHash(hash: HashName): Promise<Map<string, unknown>>;
  readList(list: ListName, limit: number): Promise<unknown[]>;
  close(): Promise<void>;
}

export class FencedError extends Error {
  constructor(readonly currentEpoch: string | null) {
    super(`this master was deposed: the fencing epoch is now ${currentEpoch}`);
    this.name = 'FencedError';
  }
}

/**
 * A write Redis refused for another reason than the epoch (a key of another type, a script or
 * permission error). The master's in-memory state already holds the change, so it is now ahead
 * of Redis; the term ends as when fenced, and the next one reloads what Redis really holds.
 */
export class WriteRefusedError extends FencedError {
  constructor(readonly refusal: unknown) {
    super(null);
    this.message = `Redis refused a write (${refusal instanceof Error ? refusal.message : String(refusal)}); this term ends so that the next reloads what Redis holds`;
    this.name = 'WriteRefusedError';
  }
}

