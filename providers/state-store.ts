// Where a provider that keeps its own inventory (static machines: which are on) keeps it: a file
// under --provider-state-dir (one host), or Redis, so that a leader on another host knows which
// machines are on. Read-modify-write is atomic in both (the file: one event loop; Redis: WATCH).
import type { Redis } from 'ioredis';
import { StateFile } from './state-file.ts';

export interface StateStore<T> {
  read(): Promise<T>;
  /** Applies `change` to the current value and stores it; resolves with what was stored. */
  update(change: (value: T) => void): Promise<T>;
}

export class FileStateStore<T> implements StateStore<T> {
  private readonly file: StateFile<T>;

  constructor(path: string, empty: () => T) {
    this.file = new StateFile(path, empty);
  }

  async read(): Promise<T> {
    return this.file.read();
  }

  async update(change: (value: T) => void): Promise<T> {
    return this.file.update(change);
  }
}

/**
 * One JSON value under a Redis key. Until the key exists its value is `seed()` — the state file an
 * earlier version kept — so upgrading keeps what that file knew.
 */
export class RedisStateStore<T> implements StateStore<T> {
  constructor(private readonly redis: Redis, private readonly key: string, private readonly seed: () => T) {}

  async read(): Promise<T> {
    const raw = await this.redis.get(this.key);
    return raw === null ? this.seed() : (JSON.parse(raw) as T);
  }

  async update(change: (value: T) => void): Promise<T> {
    // A dedicated connection: WATCH belongs to a connection, and the shared one carries other calls.
    const conn = this.redis.duplicate();
    try {
      for (let attempt = 0; attempt < 50; attempt++) {
        await conn.watch(this.key);
        const raw = await conn.get(this.key);
        const value = raw === null ? this.seed() : (JSON.parse(raw) as T);
        change(value);
        const done = await conn.multi().set(this.key, JSON.stringify(value)).exec();
        if (done !== null) return value; // null: someone else wrote meanwhile; read again
      }
      throw new Error(`${this.key}: too many concurrent updates`);
    } finally {
      conn.disconnect();
    }
  }
}
