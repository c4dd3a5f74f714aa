// A stand-in for the master's `/api/v1/agent` endpoint, enough to drive a real agent in tests:
// SUBSCRIBE streams RecordIO events, PING/UPDATE/UPDATE_OVERSUBSCRIBED answer 202 (or a scripted
// failure) and are recorded, and the test pushes LAUNCH/KILL/ERROR events down the stream.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { encodeRecord } from '../../src/mesos/recordio.ts';
import type { TaskStatus } from '../../src/mesos/task-status.ts';

export interface RecordedUpdate {
  framework_id: string;
  status: TaskStatus;
}

export interface SubscribeCall {
  agent_info: { id?: { value: string }; hostname: string; port: number; resources: unknown[]; attributes: unknown[] };
  tasks: { framework_id: { value: string }; task_id: { value: string }; state: string }[];
  version?: string;
}

export interface RecordedOversubscribed {
  agent_id: string;
  resources: { name: string; type?: string; scalar?: { value: number }; revocable?: object }[];
  /** Index of the SUBSCRIBE (in `subscribes`) whose stream carried the call. */
  subscription: number;
}

export class FakeMaster {
  readonly subscribes: SubscribeCall[] = [];
  readonly updates: RecordedUpdate[] = [];
  /** Every UPDATE that reached the master, including refused ones. */
  readonly updateAttempts: RecordedUpdate[] = [];
  /** Accepted UPDATE_OVERSUBSCRIBED calls, in order. */
  readonly oversubscribed: RecordedOversubscribed[] = [];
  pings = 0;
  private failUpdates = 0;
  private failOversubscribed = 0;
  private stream: http.ServerResponse | undefined;
  private streamId: string | undefined;
  private nextAgent = 1;

  private constructor(private readonly server: http.Server, readonly url: string, private readonly pingIntervalSeconds: number) {}

  static async start(opts: { pingIntervalSeconds?: number; port?: number } = {}): Promise<FakeMaster> {
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
    const master = new FakeMaster(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, opts.pingIntervalSeconds ?? 0.2);
    server.on('request', (req, res) => void master.handle(req, res));
    return master;
  }

  /** A non-leading master: answers every call with 307 to `leaderUrl`, like Mesos' redirect. */
  static async redirector(leaderUrl: string): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
    let hits = 0;
    const leader = new URL(leaderUrl);
    const server = http.createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(307, { location: `//${leader.host}/api/v1/agent` }).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      hits: () => hits,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
    };
  }

  get connected(): boolean {
    return this.stream !== undefined;
  }

  /** The next `n` UPDATE calls get `status` instead of 202. */
  failNextUpdates(n: number): void {
    this.failUpdates = n;
  }

  /** The next `n` UPDATE_OVERSUBSCRIBED calls get 500 instead of 202. */
  failNextOversubscribed(n: number): void {
    this.failOversubscribed = n;
  }

  /** The last reported estimate as `{ cpus, mem }` (0 for a resource left out). */
  lastOversubscribed(): { cpus: number; mem: number } | undefined {
    const last = this.oversubscribed.at(-1);
    if (!last) return undefined;
    const value = (name: string) => last.resources.filter((r) => r.name === name).reduce((s, r) => s + (r.scalar?.value ?? 0), 0);
    return { cpus: value('cpus'), mem: value('mem') };
  }

  send(event: object): void {
    if (!this.stream) throw new Error('no agent subscribed');
    this.stream.write(encodeRecord(event));
  }

  launch(frameworkId: string, task: object): void {
    this.send({ type: 'LAUNCH', launch: { framework_id: { value: frameworkId }, task } });
  }

  kill(frameworkId: string, taskId: string, gracePeriodSeconds?: number): void {
    this.send({ type: 'KILL', kill: { framework_id: { value: frameworkId }, task_id: { value: taskId }, ...(gracePeriodSeconds !== undefined ? { grace_period_seconds: gracePeriodSeconds } : {}) } });
  }

  /** Ends the agent's stream as a crashing master would. */
  dropStream(): void {
    this.stream?.destroy();
    this.stream = undefined;
    this.streamId = undefined;
  }

  updatesFor(taskId: string): RecordedUpdate[] {
    return this.updates.filter((u) => u.status.task_id.value === taskId);
  }

  statesOf(taskId: string): string[] {
    return this.updatesFor(taskId).map((u) => u.status.state);
  }

  async close(): Promise<void> {
    this.dropStream();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.url !== '/api/v1/agent' || req.method !== 'POST') return void res.writeHead(404).end();
    const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      type: string; agent_id?: { value: string }; subscribe?: SubscribeCall; update?: RecordedUpdate & { framework_id: { value: string } }; updates?: (RecordedUpdate & { framework_id: { value: string } })[];
      oversubscribed?: { resources: RecordedOversubscribed['resources'] };
    };
    if (call.type === 'SUBSCRIBE') return this.subscribe(call.subscribe!, res);
    if (req.headers['mesos-stream-id'] !== this.streamId || !this.streamId) return void res.writeHead(400).end('stale stream');
    if (call.type === 'PING') {
      this.pings++;
      return void res.writeHead(202).end();
    }
    if (call.type === 'UPDATE') {
      const batch = (call.updates ?? [call.update!]).map((x) => ({ framework_id: x.framework_id.value, status: x.status }));
      this.updateAttempts.push(...batch);
      if (this.failUpdates > 0) {
        this.failUpdates--;
        return void res.writeHead(500).end('injected failure');
      }
      for (const u of batch) if (!this.updates.some((x) => x.status.uuid === u.status.uuid)) this.updates.push(u);
      return void res.writeHead(202).end();
    }
    if (call.type === 'UPDATE_OVERSUBSCRIBED') {
      if (this.failOversubscribed > 0) {
        this.failOversubscribed--;
        return void res.writeHead(500).end('injected failure');
      }
      this.oversubscribed.push({ agent_id: call.agent_id?.value ?? '', resources: call.oversubscribed?.resources ?? [], subscription: this.subscribes.length - 1 });
      return void res.writeHead(202).end();
    }
    res.writeHead(400).end(`unsupported call ${call.type}`);
  }

  private subscribe(sub: SubscribeCall, res: http.ServerResponse): void {
    this.subscribes.push(sub);
    this.stream?.destroy();
    this.streamId = randomUUID();
    const agentId = sub.agent_info.id?.value ?? `agent-${this.nextAgent++}`;
    res.writeHead(200, { 'content-type': 'application/json', 'mesos-stream-id': this.streamId });
    res.flushHeaders();
    this.stream = res;
    res.on('close', () => { if (this.stream === res) { this.stream = undefined; this.streamId = undefined; } });
    res.write(encodeRecord({ type: 'SUBSCRIBED', subscribed: { agent_id: { value: agentId }, ping_interval_seconds: this.pingIntervalSeconds } }));
  }
}
