// A subscriber's event stream over a chunked HTTP response, RecordIO-framed as Mesos does, with
// each record in its own HTTP chunk as Mesos writes them: some schedulers (the mesos-framework npm
// package) read one record per chunk. `body` yields the records of one turn of the event loop as
// an array, which call-endpoint.ts writes in one socket write.
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { recordOfJson, recordText } from '../mesos/recordio.ts';
import type { EventSink } from '../master/records.ts';

/** What the sink needs of the HTTP response it feeds. */
export interface SinkConnection {
  /** Hands what the response has been given to the kernel now (coalesced-writes.ts writeNow). */
  writeNow(): void;
  /** Drops the connection. */
  destroy(): void;
}

export class HttpEventSink implements EventSink {
  readonly id = randomUUID();
  /** Arrays of RecordIO records (object mode). */
  readonly body = new PassThrough({ objectMode: true });
  private done = false;
  /** Records sent during this turn of the event loop; written together (one socket write, not one per event). */
  private queued: string[] = [];
  /** The response's connection, once it is under way (call-endpoint.ts). */
  private connection: SinkConnection | undefined;

  get closed(): boolean {
    return this.done;
  }

  send(event: object): void {
    if (!this.done) this.queue(recordText(event));
  }

  sendJson(json: string): void {
    if (!this.done) this.queue(recordOfJson(json));
  }

  private queue(record: string): void {
    this.queued.push(record);
    if (this.queued.length === 1) setImmediate(() => this.flush());
  }

  close(): void {
    if (this.done) return;
    this.flush();
    this.done = true;
    this.body.end();
  }

  /** Sends what is queued now, through to the socket (the response's writes are synchronous while it keeps up). */
  flush(): void {
    if (this.done || this.queued.length === 0) return;
    const records = this.queued;
    this.queued = [];
    this.body.write(records);
    this.connection?.writeNow();
  }

  /** Called by the HTTP layer once the response is under way. */
  attach(connection: SinkConnection): void {
    this.connection = connection;
  }

  /**
   * Breaks the connection instead of ending the stream: what a subscriber sees of a master that
   * stops (as of a Mesos master, whose process exits). A clean end is kept for a refusal (an ERROR
   * and then the end), which tells a scheduler not to subscribe again.
   */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.queued = [];
    if (this.connection) this.connection.destroy();
    else this.body.destroy();
  }

  /** The client went away: no more writes. */
  markClosed(): void {
    this.done = true;
  }
}
