// The agent protocol spoken by hand (node:http), for tests of who may act as an agent: SUBSCRIBE
// with or without a join token or credential, then calls on that stream.
import http from 'node:http';
import https from 'node:https';
import { RecordIODecoder } from '../../src/mesos/recordio.ts';

export interface Answer { status: number; body: string }

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AgentEvent = Record<string, any>;

export class RawAgent {
  agentId = '';
  streamId = '';
  credential = '';
  /** Every event of the current stream, in order. */
  readonly events: AgentEvent[] = [];
  private res: http.IncomingMessage | undefined;

  constructor(readonly master: string, private readonly tls: { ca?: string } = {}) {}

  /** SUBSCRIBE; on 200 resolves after SUBSCRIBED (stream kept open), else with the refusal text. */
  subscribe(o: { authorization?: string; pool?: string; id?: string; attributes?: Record<string, string>; identity?: object; hostname?: string; resources?: object[] } = {}): Promise<Answer> {
    const attributes = Object.entries({ ...(o.pool ? { pool: o.pool } : {}), ...(o.attributes ?? {}) }).map(([name, value]) => ({ name, type: 'TEXT', text: { value } }));
    const body = JSON.stringify({
      type: 'SUBSCRIBE',
      subscribe: {
        agent_info: {
          ...(o.id ? { id: { value: o.id } } : {}), hostname: o.hostname ?? '127.0.0.1', port: 5999, attributes,
          resources: o.resources ?? [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }, { name: 'mem', type: 'SCALAR', scalar: { value: 128 } }],
        },
        tasks: [], version: 'test', ...(o.identity ? { identity: o.identity } : {}),
      },
    });
    return new Promise((resolve, reject) => {
      const req = this.request((res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => { text += c; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          return;
        }
        this.res = res;
        this.streamId = String(res.headers['mesos-stream-id'] ?? '');
        this.credential = String(res.headers['spillway-agent-credential'] ?? '');
        const decoder = new RecordIODecoder();
        res.on('data', (c: Buffer) => {
          for (const ev of decoder.push(c) as AgentEvent[]) {
            this.events.push(ev);
            if (ev.type === 'SUBSCRIBED' && !this.agentId) {
              this.agentId = ev.subscribed.agent_id.value;
              resolve({ status: 200, body: '' });
            }
          }
        });
        res.on('error', () => {});
      }, o.authorization);
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A call on the current stream (PING by default) as agent `agentId` with `authorization`. */
  call(o: { type?: string; agentId?: string; authorization?: string; extra?: object } = {}): Promise<Answer> {
    const body = JSON.stringify({ type: o.type ?? 'PING', agent_id: { value: o.agentId ?? this.agentId }, ...(o.extra ?? {}) });
    return new Promise((resolve, reject) => {
      const req = this.request((res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      }, o.authorization, this.streamId);
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The first event of the stream that matches, waiting up to `timeoutMs` for it. */
  async next(pred: (e: AgentEvent) => boolean, timeoutMs = 5000): Promise<AgentEvent> {
    for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 20))) {
      const e = this.events.find(pred);
      if (e) return e;
      if (Date.now() > end) throw new Error(`the agent saw no such event; it saw ${this.events.map((x) => x.type).join(',')}`);
    }
  }

  close(): void {
    this.res?.destroy();
  }

  private request(onResponse: (res: http.IncomingMessage) => void, authorization?: string, streamId?: string): http.ClientRequest {
    const url = new URL('/api/v1/agent', this.master);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Connection: 'close' };
    if (authorization) headers.Authorization = authorization;
    if (streamId) headers['Mesos-Stream-Id'] = streamId;
    return url.protocol === 'https:'
      ? https.request(url, { method: 'POST', headers, ca: this.tls.ca }, onResponse)
      : http.request(url, { method: 'POST', headers }, onResponse);
  }
}

/** A pino logger whose JSON lines the test can read (to check what the master logged). */
export async function captureLog(): Promise<{ log: import('pino').Logger; lines: () => Record<string, unknown>[] }> {
  const { pino } = await import('pino');
  const { Writable } = await import('node:stream');
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { log: pino({ level: 'info' }, sink), lines: () => lines };
}
