// Redis implementation of the Store. Writes issued in the same tick (and deferrable ones, a little
// later: src/store/write-queue.ts) are coalesced into one fenced Lua call
// (src/store/lua/fenced-batch.lua): one round trip for a burst of launches, atomic, and a no-op for
// a master that lost its epoch. Every key carries the `{spillway:<cluster>}` hash tag.
import { readFileSync } from 'node:fs';
import { Redis, type Result } from 'ioredis';
import { FencedError, type HashName, type ListName, type Snapshot, type Store, type WriteOp } from './store.ts';
import { WriteQueue, type QueuedWrite } from './write-queue.ts';

const FENCED_BATCH = readFileSync(new URL('./lua/fenced-batch.lua', import.meta.url), 'utf8');
const MAX_OPS_PER_CALL = 2000;
/** How long a deferrable write may wait for company (see Store.write). */
const DEFER_MS = 20;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    fencedBatch(numKeys: number, ...args: (string | number)[]): Result<number, Context>;
  }
}

type Pending = QueuedWrite<WriteOp>;

/** The record or list an op writes. */
const keyOf = (op: WriteOp): string => (op.op === 'append' ? `list\u0000${op.list}` : `${op.hash}\u0000${op.id}`);

export function keyPrefix(cluster: string): string {
  return `{spillway:${cluster}}:`;
}

export class RedisStore implements Store {
  private readonly redis: Redis;
  private readonly prefix: string;
  private epoch: number | undefined;
  private readonly queue = new WriteQueue<WriteOp>({ keyOf, deferMs: DEFER_MS, send: (writes) => this.sendAll(writes) });

  constructor(redis: Redis, cluster = 'default') {
    this.redis = redis;
    this.prefix = keyPrefix(cluster);
    this.redis.defineCommand('fencedBatch', { lua: FENCED_BATCH });
  }

  static connect(url: string, cluster = 'default'): RedisStore {
    return new RedisStore(new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null }), cluster);
  }

  key(name: string): string {
    return this.prefix + name;
  }

  get client(): Redis {
    return this.redis;
  }

  async claimEpoch(): Promise<number> {
    this.epoch = await this.redis.incr(this.key('epoch'));
    return this.epoch;
  }

  /** Writes under an epoch granted elsewhere (the leader election bumps it with the lease). */
  useEpoch(epoch: number): void {
    this.epoch = epoch;
  }

  write(ops: readonly WriteOp[], options?: { deferrable?: boolean }): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.queue.push({ ops, resolve, reject }, options?.deferrable));
  }

  private sendAll(queue: readonly Pending[]): void {
    // Group whole requests into calls of bounded size; a request is never split across calls.
    let batch: Pending[] = [];
    let count = 0;
    for (const p of queue) {
      if (count + p.ops.length > MAX_OPS_PER_CALL && batch.length) {
        this.send(batch);
        batch = [];
        count = 0;
      }
      batch.push(p);
      count += p.ops.length;
    }
    if (batch.length) this.send(batch);
  }

  private send(batch: Pending[]): void {
    if (this.epoch === undefined) {
      for (const p of batch) p.reject(new Error('RedisStore.write before claimEpoch'));
      return;
    }
    const keys: string[] = [this.key('epoch')];
    const keyIndex = new Map<string, number>();
    const indexOf = (name: string): number => {
      let i = keyIndex.get(name);
      if (i === undefined) {
        keys.push(this.key(name));
        i = keys.length;
        keyIndex.set(name, i);
      }
      return i;
    };
    const args: string[] = [String(this.epoch)];
    for (const op of coalesce(batch)) {
      if (op.op === 'put') args.push('HSET', String(indexOf(op.hash)), op.id, op.encode ? op.encode(op.value as never) : JSON.stringify(op.value));
      else if (op.op === 'delete') args.push('HDEL', String(indexOf(op.hash)), op.id, '');
      else args.push('LPUSHTRIM', String(indexOf(op.list)), op.encode ? op.encode(op.value as never) : JSON.stringify(op.value), String(op.max));
    }
    this.redis.fencedBatch(keys.length, ...keys, ...args).then(
      () => { for (const p of batch) p.resolve(); },
      (e: unknown) => {
        const msg = e instanceof Error ? e.message : String(e);
        const err = msg.startsWith('FENCED') ? new FencedError(msg.slice(7) || null) : e;
        for (const p of batch) p.reject(err);
      },
    );
  }

  /** Sends queued writes now, so a read issued next (same connection, in order) sees them. */
  private flushBeforeRead(): void {
    this.queue.flushAll();
  }

  async readHash(h: HashName): Promise<Map<string, unknown>> {
    this.flushBeforeRead();
    const raw = await this.redis.hgetall(this.key(h));
    return new Map(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v)]));
  }

  async load(): Promise<Snapshot> {
    const read = (h: HashName): Promise<Map<string, unknown>> => this.readHash(h);
    const [agents, frameworks, tasks, meta, weights, quotas, demands] = await Promise.all(
      (['agents', 'frameworks', 'tasks', 'meta', 'weights', 'quotas', 'demands'] as const).map(read),
    );
    return { agents, frameworks, tasks, meta, weights, quotas, demands };
  }

  async readList(list: ListName, limit: number): Promise<unknown[]> {
    this.flushBeforeRead();
    const raw = await this.redis.lrange(this.key(list), 0, limit - 1);
    return raw.map((v) => JSON.parse(v));
  }

  async close(): Promise<void> {
    // Let queued writes go out before the connection closes.
    if (this.queue.size) {
      this.queue.flushAll();
      await new Promise((r) => setImmediate(r));
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The ops of one atomic call, with every hash field written once: its last put or delete wins
 * (a task launched, updated twice and completed in one tick costs one HDEL, not four full
 * records). Values are serialised here, at send time, so a record mutated again before the flush
 * is written in its newest form — never older than what the callers awaiting this call saw.
 * List appends keep their order.
 */
function coalesce(batch: readonly Pending[]): WriteOp[] {
  const fields = new Map<string, WriteOp>();
  const appends: WriteOp[] = [];
  for (const p of batch) {
    for (const op of p.ops) {
      if (op.op === 'append') appends.push(op);
      else {
        const key = keyOf(op);
        fields.delete(key); // re-insert: keeps the map in last-write order
        fields.set(key, op);
      }
    }
  }
  return [...fields.values(), ...appends];
}
