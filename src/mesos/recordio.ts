// RecordIO framing used by Mesos streaming responses: "<length>\n<bytes>" per record, where length
// counts bytes (not characters) of the record that follows.

export function encodeRecord(obj: unknown): Buffer {
  return Buffer.from(recordText(obj), 'utf8');
}

/** One record as text, for writers that join several records into one write. */
export function recordText(obj: unknown): string {
  return recordOfJson(JSON.stringify(obj));
}

/** One record of JSON text already serialised. */
export function recordOfJson(json: string): string {
  return `${Buffer.byteLength(json, 'utf8')}\n${json}`;
}

/** Incremental decoder: feed chunks as they arrive, get whole records back. */
export class RecordIODecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: unknown[] = [];
    for (;;) {
      const nl = this.buffer.indexOf(0x0a);
      if (nl < 0) break;
      const header = this.buffer.subarray(0, nl).toString('ascii').trim();
      if (header === '') { this.buffer = this.buffer.subarray(nl + 1); continue; }
      const length = Number(header);
      if (!Number.isSafeInteger(length) || length < 0) throw new Error(`RecordIO: bad record length '${header}'`);
      if (this.buffer.length < nl + 1 + length) break;
      const body = this.buffer.subarray(nl + 1, nl + 1 + length);
      this.buffer = this.buffer.subarray(nl + 1 + length);
      out.push(JSON.parse(body.toString('utf8')));
    }
    return out;
  }
}
