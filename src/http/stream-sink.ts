// A subscriber's event stream over a chunked HTTP response, RecordIO-framed as Mesos does.
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { encodeRecord } from '../mesos/recordio.ts';
import type { EventSink } from '../master/records.ts';

export class HttpEventSink implements EventSink {
  readonly id = randomUUID();
  readonly body = new PassThrough();
  private done = false;

  get closed(): boolean {
    return this.done;
  }

  send(event: object): void {
    if (this.done) return;
    this.body.write(encodeRecord(event));
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.body.end();
  }

  /** The client went away: no more writes. */
  markClosed(): void {
    this.done = true;
  }
}
