// The Store one leadership term writes through. Each term gets its own RedisStore (own write
// queue, own epoch) on the process's shared Redis connection, holding the epoch the election
// granted — so nothing a finished term still has in flight can ever be sent under a newer term's
// epoch. When the term ends, `retire()` fails every pending and later call with FencedError: a
// call whose reply was lost with a Redis connection would otherwise never settle.
import type { Redis } from 'ioredis';
import { RedisStore } from '../store/redis-store.ts';
import { FencedError, type HashName, type ListName, type Snapshot, type Store, type WriteOp } from '../store/store.ts';

export class TermStore implements Store {
  private readonly inner: RedisStore;
  private retired = false;

  /** True once the term ended: its FencedErrors are expected, not a reason to step down. */
  get isRetired(): boolean {
    return this.retired;
  }
  private readonly onRetire = new Set<(e: Error) => void>();

  constructor(redis: Redis, cluster: string, readonly epoch: number) {
    this.inner = new RedisStore(redis, cluster);
    this.inner.useEpoch(epoch);
  }

  /** The election already bumped the epoch for this term; nothing to claim. */
  async claimEpoch(): Promise<number> {
    if (this.retired) throw this.deposed();
    return this.epoch;
  }

  write(ops: readonly WriteOp[], options?: { deferrable?: boolean }): Promise<void> {
    return this.guard(() => this.inner.write(ops, options));
  }

  load(): Promise<Snapshot> {
    return this.guard(() => this.inner.load());
  }

  readHash(hash: HashName): Promise<Map<string, unknown>> {
    return this.guard(() => this.inner.readHash(hash));
  }

  readList(list: ListName, limit: number): Promise<unknown[]> {
    return this.guard(() => this.inner.readList(list, limit));
  }

  /** Ends the term: everything pending or later fails with FencedError. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    // Writes still queued inside the RedisStore go out under epoch 0, which never exists (INCR
    // starts at 1): the script refuses them. Only a batch already on the wire may still land.
    this.inner.useEpoch(0);
    const e = this.deposed();
    for (const reject of this.onRetire) reject(e);
    this.onRetire.clear();
  }

  /** The connection belongs to the process, not to a term: closing a term only retires it. */
  async close(): Promise<void> {
    this.retire();
  }

  private deposed(): FencedError {
    return new FencedError(`newer than ${this.epoch} (this master's term ended)`);
  }

  private guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.retired) return Promise.reject(this.deposed());
    return new Promise<T>((resolve, reject) => {
      this.onRetire.add(reject);
      fn().then(
        (v) => { this.onRetire.delete(reject); resolve(v); },
        (e: unknown) => { this.onRetire.delete(reject); reject(isConnectionError(e) ? new FencedError('unknown (the Redis connection was lost; this term is ending)') : e); },
      );
    });
  }
}

/** ioredis' errors for a command that could not be sent or whose connection dropped; READONLY: Redis was demoted (Sentinel failover). */
function isConnectionError(e: unknown): boolean {
  const m = (e as Error)?.message ?? '';
  return /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|^READONLY/.test(m);
}
