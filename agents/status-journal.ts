// The agent's at-least-once delivery of task status updates. Every update is appended to
// `${workDir}/status-journal.jsonl` and fsynced *before* it is sent, sent in order per task, and
// re-sent (same uuid, so the master drops duplicates) until the master answers 202; then an ack
// line is appended. A restarted agent re-sends whatever has no ack line. The file is rewritten with
// only the unacknowledged updates once enough acks have piled up.
//
// Cost matters here (a busy agent journals three updates per task): lines waiting while a write is
// in flight go out together in one write and one fsync (group commit), ack lines are not fsynced
// (a lost ack line only means one more re-send, which the master drops by uuid), and the heads of
// every task's queue travel to the master together in one UPDATE call.
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TaskStatus } from '../src/mesos/task-status.ts';

export interface JournaledUpdate {
  framework_id: string;
  status: TaskStatus;
}

type Line = ({ type: 'update' } & JournaledUpdate) | { type: 'ack'; uuid: string };

/** Sends a batch of updates (at most one per task); resolves true only when the master answered 202. */
export type SendUpdates = (updates: readonly JournaledUpdate[]) => Promise<boolean>;

export interface JournalOptions {
  logger: Logger;
  maxBackoffMs: number;
  /** Rewrite the file after this many ack lines. */
  compactAfterAcks?: number;
  /** Most updates in one call to the master (the master accepts up to 500). */
  maxBatch?: number;
}

const FILE = 'status-journal.jsonl';
const taskKey = (u: JournaledUpdate): string => `${u.framework_id}/${u.status.task_id.value}`;

interface PendingLine { text: string; durable: boolean; resolve(): void; reject(e: unknown): void }

export class StatusJournal {
  /** Unacknowledged updates by uuid, in journal order (Map keeps insertion order). */
  private readonly unacked = new Map<string, JournaledUpdate>();
  /** Per task, its updates not yet accepted by the master, oldest first; only heads are sent. */
  private readonly queues = new Map<string, JournaledUpdate[]>();
  private lines: PendingLine[] = [];
  private compactionWanted = false;
  private writer: Promise<void> | undefined;
  private acksSinceCompaction = 0;
  private sending = false;
  private pumpScheduled = false;
  private backoffMs = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly path: string, private file: FileHandle, private readonly send: SendUpdates, private readonly opts: JournalOptions) {}

  /** Opens (or creates) the journal and starts re-sending whatever was never acknowledged. */
  static async open(workDir: string, send: SendUpdates, opts: JournalOptions): Promise<StatusJournal> {
    await mkdir(workDir, { recursive: true });
    const path = join(workDir, FILE);
    const leftover = await loadUnacked(path, opts.logger);
    const journal = new StatusJournal(path, await open(path, 'a'), send, opts);
    for (const u of leftover) journal.unacked.set(u.status.uuid!, u);
    await journal.compact();
    for (const u of leftover) journal.enqueueSend(u);
    if (leftover.length) opts.logger.info({ count: leftover.length }, 're-sending unacknowledged status updates');
    return journal;
  }

  /** Makes the update durable, then queues it for delivery. Resolves once it is on disk. */
  async record(update: JournaledUpdate): Promise<void> {
    if (!update.status.uuid) throw new Error('status update without uuid');
    if (this.closed) throw new Error('status journal is closed');
    // Registered before the append so a compaction running meanwhile cannot drop it from the file.
    this.unacked.set(update.status.uuid, update);
    try {
      await this.append({ type: 'update', ...update }, true);
    } catch (err) {
      this.unacked.delete(update.status.uuid);
      throw err;
    }
    this.enqueueSend(update);
  }

  /** Updates still waiting for the master's 202, oldest first. */
  unacknowledged(): JournaledUpdate[] {
    return [...this.unacked.values()];
  }

  /** Whether an update of this task still waits for the master's 202. */
  hasUnacknowledged(frameworkId: string, taskId: string): boolean {
    return this.queues.has(`${frameworkId}/${taskId}`);
  }

  /** Stops sending and closes the file; unacknowledged updates stay in it for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    while (this.writer) await this.writer;
    await this.file.close();
  }

  private enqueueSend(update: JournaledUpdate): void {
    const key = taskKey(update);
    const queue = this.queues.get(key);
    if (queue) queue.push(update);
    else this.queues.set(key, [update]);
    this.schedulePump();
  }

  /** Next tick, so that updates made durable by one fsync leave in one call. */
  private schedulePump(): void {
    if (this.pumpScheduled || this.sending || this.closed || this.retryTimer) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  /** One call in flight at a time, carrying the head of every task's queue. */
  private async pump(): Promise<void> {
    if (this.sending || this.closed) return;
    const heads: JournaledUpdate[] = [];
    const max = this.opts.maxBatch ?? 500;
    for (const queue of this.queues.values()) {
      heads.push(queue[0]);
      if (heads.length >= max) break;
    }
    if (heads.length === 0) return;
    this.sending = true;
    const ok = await this.send(heads).catch((err: Error) => {
      this.opts.logger.debug({ err: err.message }, 'status update send failed');
      return false;
    });
    this.sending = false;
    if (this.closed) return;
    if (!ok) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.pump();
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
      return;
    }
    this.backoffMs = 100;
    for (const head of heads) {
      const key = taskKey(head);
      const queue = this.queues.get(key)!;
      queue.shift();
      if (queue.length === 0) this.queues.delete(key);
      this.unacked.delete(head.status.uuid!);
      this.append({ type: 'ack', uuid: head.status.uuid! }, false).catch(() => {}); // logged by the writer
    }
    this.acksSinceCompaction += heads.length;
    if (this.acksSinceCompaction >= (this.opts.compactAfterAcks ?? 1000)) this.requestCompaction();
    this.schedulePump();
  }

  private append(line: Line, durable: boolean): Promise<void> {
    if (this.closed && line.type === 'update') return Promise.reject(new Error('status journal is closed'));
    return new Promise((resolve, reject) => {
      this.lines.push({ text: `${JSON.stringify(line)}\n`, durable, resolve, reject });
      this.startWriter();
    });
  }

  private requestCompaction(): void {
    this.compactionWanted = true;
    this.startWriter();
  }

  /** The single writer: appends, acks and compactions never interleave. */
  private startWriter(): void {
    if (this.writer) return;
    this.writer = this.writeLoop().finally(() => { this.writer = undefined; });
  }

  private async writeLoop(): Promise<void> {
    while (this.lines.length > 0 || this.compactionWanted) {
      if (this.lines.length > 0) {
        const batch = this.lines;
        this.lines = [];
        try {
          await this.file.write(batch.map((l) => l.text).join(''));
          if (batch.some((l) => l.durable)) await this.file.sync();
          for (const l of batch) l.resolve();
        } catch (err) {
          this.opts.logger.error({ err }, 'status journal write failed');
          for (const l of batch) l.reject(err);
        }
      } else {
        this.compactionWanted = false;
        await this.compact().catch((err: Error) => this.opts.logger.error({ err }, 'status journal compaction failed'));
      }
    }
  }

  /** Rewrites the journal with only the unacknowledged updates (temp file, fsync, rename). */
  private async compact(): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const out = await open(tmp, 'w');
    try {
      const body = [...this.unacked.values()].map((u) => JSON.stringify({ type: 'update', ...u }) + '\n').join('');
      await out.write(body);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path);
    await this.file.close();
    this.file = await open(this.path, 'a');
    this.acksSinceCompaction = 0;
  }
}

/** Replays the journal: updates minus acks, in order. A torn last line (crash mid-write) is skipped. */
async function loadUnacked(path: string, logger: Logger): Promise<JournaledUpdate[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const pending = new Map<string, JournaledUpdate>();
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      logger.warn('skipping a torn status journal line');
      continue;
    }
    if (line.type === 'ack') pending.delete(line.uuid);
    else if (line.status?.uuid) pending.set(line.status.uuid, { framework_id: line.framework_id, status: line.status });
  }
  return [...pending.values()];
}
