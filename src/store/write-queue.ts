// What a Store sends to Redis, and when. Writes queued in one tick go out together; deferrable
// writes (state whose loss in a crash only causes a re-send: acknowledgements) wait up to
// `deferMs` even while other writes go out every tick under load, so that an acknowledgement's
// put of a task record usually meets the task's completion in the same call and is never sent
// (the store coalesces a call's writes per record). A write that goes takes every queued write to
// the same record or list with it, so each key's writes always go out in the order they were made.

export interface QueuedWrite<Op> {
  readonly ops: readonly Op[];
  resolve(): void;
  reject(e: unknown): void;
}

interface Entry<Op> extends QueuedWrite<Op> {
  readonly seq: number;
  /** Deferrable writes: when queued (ms, the queue's clock) and the keys they touch. */
  readonly deferredAt?: number;
  readonly keys?: readonly string[];
}

export interface WriteQueueOptions<Op> {
  /** Identifies the record or list an op writes (writes to the same key keep their order). */
  keyOf(op: Op): string;
  /** Sends one group of writes, oldest first. */
  send(writes: QueuedWrite<Op>[]): void;
  deferMs: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export class WriteQueue<Op> {
  private immediate: Entry<Op>[] = [];
  /** Deferrable writes, oldest first. */
  private deferred: Entry<Op>[] = [];
  /** Deferred writes per key: whether a going write has deferred company. */
  private readonly deferredKeys = new Map<string, number>();
  private seq = 0;
  private flushScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly o: WriteQueueOptions<Op>) {
    this.now = o.now ?? (() => performance.now());
  }

  get size(): number {
    return this.immediate.length + this.deferred.length;
  }

  push(write: QueuedWrite<Op>, deferrable = false): void {
    if (deferrable) {
      const keys = write.ops.length === 1 ? [this.o.keyOf(write.ops[0])] : [...new Set(write.ops.map((op) => this.o.keyOf(op)))];
      this.deferred.push({ ops: write.ops, resolve: write.resolve, reject: write.reject, seq: this.seq++, deferredAt: this.now(), keys });
      for (const k of keys) this.deferredKeys.set(k, (this.deferredKeys.get(k) ?? 0) + 1);
      this.timer ??= setTimeout(() => this.flushDue(), this.o.deferMs);
      return;
    }
    this.immediate.push({ ops: write.ops, resolve: write.resolve, reject: write.reject, seq: this.seq++ });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushDue());
  }

  /** Sends everything queued now (before a read, or when closing). */
  flushAll(): void {
    this.flushScheduled = false;
    this.clearTimer();
    const all = merge(this.immediate, this.deferred);
    this.immediate = [];
    this.deferred = [];
    this.deferredKeys.clear();
    if (all.length) this.o.send(all);
  }

  /** Sends what is due: immediate writes, deferred ones whose window ended, and their company. */
  private flushDue(): void {
    this.flushScheduled = false;
    this.clearTimer();
    // 1 ms of slack: a timer may fire a fraction of a millisecond before the clock says so.
    const dueBefore = this.now() - this.o.deferMs + 1;
    let old = 0;
    while (old < this.deferred.length && this.deferred[old].deferredAt! <= dueBefore) old++;
    const goingKeys = new Set<string>();
    if (this.deferredKeys.size) {
      for (const w of this.immediate) for (const op of w.ops) {
        const k = this.o.keyOf(op);
        if (this.deferredKeys.has(k)) goingKeys.add(k);
      }
    }
    let going: Entry<Op>[] = [];
    if (old > 0 || goingKeys.size > 0) {
      const goes = this.deferred.map((_, i) => i < old);
      for (let i = 0; i < old; i++) for (const k of this.deferred[i].keys!) goingKeys.add(k);
      // Until nothing changes: a waiting write on a going key goes, and its other keys with it.
      for (let changed = true; changed;) {
        changed = false;
        for (let i = old; i < this.deferred.length; i++) {
          if (goes[i] || !this.deferred[i].keys!.some((k) => goingKeys.has(k))) continue;
          goes[i] = changed = true;
          for (const k of this.deferred[i].keys!) goingKeys.add(k);
        }
      }
      going = this.deferred.filter((_, i) => goes[i]);
      this.deferred = this.deferred.filter((_, i) => !goes[i]);
      for (const w of going) for (const k of w.keys!) {
        const n = this.deferredKeys.get(k)! - 1;
        if (n === 0) this.deferredKeys.delete(k);
        else this.deferredKeys.set(k, n);
      }
    }
    const due = merge(this.immediate, going);
    this.immediate = [];
    const oldest = this.deferred[0]?.deferredAt;
    if (oldest !== undefined) this.timer = setTimeout(() => this.flushDue(), Math.max(1, oldest + this.o.deferMs - this.now()));
    if (due.length) this.o.send(due);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Two lists in queue order, merged into one in queue order. */
function merge<T extends { seq: number }>(a: T[], b: T[]): T[] {
  if (!b.length) return a;
  if (!a.length) return b;
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i].seq < b[j].seq) ? a[i++] : b[j++]);
  return out;
}
