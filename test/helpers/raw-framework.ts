// A Mesos v1 HTTP scheduler written straight from the Mesos docs with node:http — no Spillway SDK
// and no Spillway code — so tests prove that frameworks written for Mesos by others work unchanged.
import http from 'node:http';

export type Event = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class RawFramework {
  frameworkId = '';
  streamId = '';
  readonly events: Event[] = [];
  private waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  private req: http.ClientRequest | undefined;
  private res: http.IncomingMessage | undefined;
  closed = false;

  /** Acknowledge every update that carries a uuid, as the docs require of schedulers. */
  constructor(readonly master: string, private readonly autoAck = true) {}

  /** SUBSCRIBE; resolves with the HTTP status and, when 200, after the SUBSCRIBED event. */
  subscribe(frameworkInfo: object, extra: object = {}): Promise<number> {
    const url = new URL('/api/v1/scheduler', this.master);
    const body = JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: frameworkInfo }, ...extra });
    return new Promise((resolve, reject) => {
      this.req = http.request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json', Connection: 'close' } }, (res) => {
        this.res = res;
        if (res.statusCode !== 200) { res.resume(); resolve(res.statusCode ?? 0); return; }
        this.streamId = String(res.headers['mesos-stream-id'] ?? '');
        // RecordIO, per the docs: "<length>\n<bytes>".
        let buf = Buffer.alloc(0);
        res.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          for (;;) {
            const nl = buf.indexOf(10);
            if (nl < 0) break;
            const len = parseInt(buf.subarray(0, nl).toString(), 10);
            if (buf.length < nl + 1 + len) break;
            const ev = JSON.parse(buf.subarray(nl + 1, nl + 1 + len).toString()) as Event;
            buf = buf.subarray(nl + 1 + len);
            this.onEvent(ev);
            if (ev.type === 'SUBSCRIBED') { this.frameworkId = ev.subscribed.framework_id.value; resolve(200); }
          }
        });
        res.on('close', () => { this.closed = true; });
      });
      this.req.on('error', (e) => { if (!this.closed) reject(e); });
      this.req.end(body);
    });
  }

  private onEvent(ev: Event): void {
    this.events.push(ev);
    const status = ev.type === 'UPDATE' ? ev.update.status : undefined;
    if (this.autoAck && status?.uuid) {
      void this.call({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } }).catch(() => {});
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(ev)) return true;
      w.resolve(ev);
      return false;
    });
  }

  /** The first event (already seen or future) matching pred. */
  next(pred: (e: Event) => boolean, timeoutMs = 20_000, fromIndex = 0): Promise<Event> {
    const seen = this.events.slice(fromIndex).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for an event; saw ${this.events.map((e) => e.type).join(',')}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }

  /** Waits for an event arriving after now. */
  nextNew(pred: (e: Event) => boolean, timeoutMs = 20_000): Promise<Event> {
    return this.next(pred, timeoutMs, this.events.length);
  }

  /** Sends a call; returns status and body text. */
  async call(call: object, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return rawPost(this.master, '/api/v1/scheduler', JSON.stringify({ framework_id: { value: this.frameworkId }, ...call }), {
      'Content-Type': 'application/json', 'Mesos-Stream-Id': this.streamId, ...headers,
    });
  }

  close(): void {
    this.closed = true;
    this.req?.destroy();
    this.res?.destroy();
  }
}

export function rawPost(master: string, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, master), { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const scalarRes = (name: string, value: number) => ({ name, type: 'SCALAR', scalar: { value } });
