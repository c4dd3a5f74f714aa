// A subscriber's event stream over a chunked HTTP response, RecordIO-framed as Mesos does, with
// each record in its own HTTP chunk as Mesos writes them: some schedulers (the mesos-framework npm
// package) read one record per chunk. `body` yields the records of one turn of the event loop as
// an array, which call-endpoint.ts writes in one socket write.
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { recordOfJson, recordText } from '../mesos/recordio.ts';
import type { EventSink } from '../master/records.ts';

export class HttpEventSink implements EventSink {
  readonly id = randomUUID();
  /** Arrays of RecordIO records (object mode). */
  readonly body = new PassThrough({ objectMode: true });
  private done = false;
  /** Records sent during this turn of the event loop; written together (one socket write, not one per event). */
  private queued: string[] = [];

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

  flush(): void {
    if (this.done || this.queued.length === 0) return;
    const records = this.queued;
    this.queued = [];
    this.body.write(records);
  }

  /** The client went away: no more writes. */
  markClosed(): void {
    this.done = true;
  }
}
