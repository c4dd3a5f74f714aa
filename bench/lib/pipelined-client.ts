// HTTP/1.1 pipelining for the benchmark's framework: calls go out on a few persistent connections
// without waiting for the previous answer (RFC 9112 §9.3.2; node:http servers answer pipelined
// requests in order). A framework acknowledges every status update with its own call, so at
// thousands of tasks a second the client's cost per request decides whether the benchmark
// measures the master or itself: node:http's client spends ~10× more per request than writing
// the request bytes to a socket and counting the status lines that come back.
//
// Scope: POST with a JSON body, responses with a Content-Length (the master's call endpoints
// always send one). Anything else fails the call loudly rather than being misparsed.
import net from 'node:net';

export interface CallOutcome { status: number; body: string }

interface Waiter { done(outcome: CallOutcome | Error): void }

class PipelinedConnection {
  private readonly socket: net.Socket;
  private readonly waiting: Waiter[] = [];
  private buffer = '';
  private out: string[] = [];
  private failed: Error | undefined;

  constructor(host: string, port: number, private readonly onBroken: (e: Error) => void) {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => this.onData(chunk));
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
  }

  get inFlight(): number {
    return this.waiting.length;
  }

  get broken(): boolean {
    return this.failed !== undefined;
  }

  send(request: string, done: Waiter['done']): void {
    if (this.failed) return done(this.failed);
    this.waiting.push({ done });
    this.out.push(request);
    // Requests made in one tick leave in one write.
    if (this.out.length === 1) setImmediate(() => this.flush());
  }

  close(): void {
    this.failed ??= new Error('closed');
    this.socket.destroy();
  }

  private flush(): void {
    if (this.failed || this.out.length === 0) return;
    this.socket.write(this.out.join(''), 'latin1');
    this.out = [];
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.slice(0, end);
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length || !Number.isInteger(status)) return this.fail(new Error(`unsupported response: ${head.slice(0, 200)}`));
      const total = end + 4 + Number(length[1]);
      if (this.buffer.length < total) return;
      const body = Buffer.from(this.buffer.slice(end + 4, total), 'latin1').toString('utf8');
      this.buffer = this.buffer.slice(total);
      this.waiting.shift()?.done({ status, body });
    }
  }

  private fail(e: Error): void {
    this.failed ??= e;
    const lost = this.waiting.splice(0);
    for (const w of lost) w.done(this.failed);
    // A connection the server closed while idle (keep-alive timeout) lost nothing: the client
    // opens another when it needs one. Only calls lost on the way count as a failure.
    if (lost.length > 0) this.onBroken(this.failed);
  }
}

export class PipelinedClient {
  private readonly connections: PipelinedConnection[] = [];
  private closed = false;
  private readonly host: string;
  private readonly port: number;

  constructor(private readonly url: URL, connections: number, private readonly onBroken: (e: Error) => void) {
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 80);
    for (let i = 0; i < connections; i++) this.connections.push(this.connect());
  }

  private connect(): PipelinedConnection {
    return new PipelinedConnection(this.host, this.port, (e) => { if (!this.closed) this.onBroken(e); });
  }

  /** POSTs `body` (JSON text) with `headers`; resolves with the status and body, in any case. */
  post(body: string, headers: Record<string, string>, done: (outcome: CallOutcome | Error) => void): void {
    let head = `POST ${this.url.pathname} HTTP/1.1\r\nHost: ${this.url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    // The least loaded connection keeps the queues short; one the server closed is replaced.
    let at = 0;
    for (let i = 0; i < this.connections.length; i++) {
      const c = this.connections[i];
      if (c.broken && !this.closed) this.connections[i] = this.connect();
      if (this.connections[i].inFlight < this.connections[at].inFlight) at = i;
    }
    const best = this.connections[at];
    best.send(`${head}\r\n${Buffer.from(body, 'utf8').toString('latin1')}`, done);
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections) c.close();
  }
}
