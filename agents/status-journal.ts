// The agent's at-least-once delivery of task status updates. Every update is appended to
// `${workDir}/status-journal.jsonl` and fsynced *before* it is sent, sent in order per task, and
// re-sent (same uuid, so the master drops duplicates) until the master answers 202; then an ack
// line is appended. A restarted agent re-sends whatever has no ack line. The file is rewritten with
// only the unacknowledged updates once enough acks have piled up.
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TaskStatus } from '../src/mesos/task-status.ts';

export interface JournaledUpdate {
  framework_id: string;
  status: TaskStatus;
}

type Line = ({ type: 'update' } & JournaledUpdate) | { type: 'ack'; uuid: string };

/** Sends one update; resolves true only when the master answered 202. */
export type SendUpdate = (update: JournaledUpdate) => Promise<boolean>;

export interface JournalOptions {
  logger: Logger;
  maxBackoffMs: number;
  /** Rewrite the file after this many ack lines. */
  compactAfterAcks?: number;
}

const FILE = 'status-journal.jsonl';
const taskKey = (u: JournaledUpdate): string => `${u.framework_id}/${u.status.task_id.value}`;

export class StatusJournal {
  /** Unacknowledged updates by uuid, in journal order (Map keeps insertion order). */
  private readonly unacked = new Map<string, JournaledUpdate>();
  private readonly queues = new Map<string, JournaledUpdate[]>();
  private writes: Promise<void> = Promise.resolve();
  private acksSinceCompaction = 0;
  private closed = false;
  private readonly sleepers = new Set<() => void>();

  private constructor(private readonly path: string, private file: FileHandle, private readonly send: SendUpdate, private readonly opts: JournalOptions) {}

  /** Opens (or creates) the journal and starts re-sending whatever was never acknowledged. */
  static async open(workDir: string, send: SendUpdate, opts: JournalOptions): Promise<StatusJournal> {
    await mkdir(workDir, { recursive: true });
    const path = join(workDir, FILE);
    const leftover = await loadUnacked(path, opts.logger);
    const journal = new StatusJournal(path, await open(path, 'a'), send, opts);
    for (const u of leftover) journal.unacked.set(u.status.uuid!, u);
    await journal.enqueueWrite(() => journal.compact());
    for (const u of leftover) journal.enqueueSend(u);
    if (leftover.length) opts.logger.info({ count: leftover.length }, 're-sending unacknowledged status updates');
    return journal;
  }

  /** Makes the update durable, then queues it for delivery. Resolves once it is on disk. */
  async record(update: JournaledUpdate): Promise<void> {
    if (!update.status.uuid) throw new Error('status update without uuid');
    // Registered before the append so a compaction queued behind it cannot drop it from the file.
    this.unacked.set(update.status.uuid, update);
    try {
      await this.enqueueWrite(() => this.append({ type: 'update', ...update }));
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

  /** Stops sending and closes the file; unacknowledged updates stay in it for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.sleepers) wake();
    await this.writes;
    await this.file.close();
  }

  private enqueueSend(update: JournaledUpdate): void {
    const key = taskKey(update);
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(update);
      return;
    }
    this.queues.set(key, [update]);
    void this.drain(key);
  }

  /** One sender per task: the head must be acknowledged before the next update is sent. */
  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key)!;
    let backoff = 100;
    while (queue.length > 0 && !this.closed) {
      const head = queue[0];
      const ok = await this.send(head).catch((err: Error) => {
        this.opts.logger.debug({ err: err.message }, 'status update send failed');
        return false;
      });
      if (this.closed) return;
      if (!ok) {
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
        continue;
      }
      backoff = 100;
      queue.shift();
      this.unacked.delete(head.status.uuid!);
      await this.enqueueWrite(() => this.acknowledge(head.status.uuid!)).catch(() => {}); // logged already
    }
    if (queue.length === 0) this.queues.delete(key);
  }

  private async acknowledge(uuid: string): Promise<void> {
    await this.append({ type: 'ack', uuid });
    if (++this.acksSinceCompaction >= (this.opts.compactAfterAcks ?? 1000)) await this.compact();
  }

  private async append(line: Line): Promise<void> {
    if (this.closed && line.type === 'update') throw new Error('status journal is closed');
    await this.file.write(`${JSON.stringify(line)}\n`);
    await this.file.sync();
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

  /** File writes are serialised: appends, acks and compactions never interleave. */
  private enqueueWrite(op: () => Promise<void>): Promise<void> {
    const next = this.writes.then(op);
    this.writes = next.catch((err: Error) => this.opts.logger.error({ err }, 'status journal write failed'));
    return next;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
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
