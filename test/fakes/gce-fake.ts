// An HTTP-level fake of the Compute Engine v1 REST API — only the paths @google-cloud/compute's
// InstancesClient and ZoneOperationsClient call for insert/get/list/delete/wait (from the
// google.api.http rules in node_modules/@google-cloud/compute/build/protos/…/compute.proto):
//
//   POST   /compute/v1/projects/{project}/zones/{zone}/instances?requestId=…        (Insert)
//   GET    /compute/v1/projects/{project}/zones/{zone}/instances?filter=…&maxResults=…&pageToken=…
//   GET    /compute/v1/projects/{project}/zones/{zone}/instances/{instance}          (Get)
//   DELETE /compute/v1/projects/{project}/zones/{zone}/instances/{instance}?requestId=…
//   GET    /compute/v1/projects/{project}/zones/{zone}/operations/{operation}        (Get)
//   POST   /compute/v1/projects/{project}/zones/{zone}/operations/{operation}/wait   (Wait)
//
// Behaves like GCE where the adapter depends on it: operations go PENDING/RUNNING → DONE, a repeated
// requestId returns the original operation, an existing name is 409 alreadyExists, a missing one
// 404 notFound, list filters by label and pages with nextPageToken, errors are GCE's JSON shape.
// Faults can be injected; every request is recorded. Listens on 127.0.0.1 only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseFilter, FilterSyntaxError } from './gce-filter.ts';
import { GceIdentitySigner, startGceMetadata } from './gce-identity.ts';
import type { MetadataServer } from './ec2-identity.ts';

export type GceRoute =
  | 'instances.insert' | 'instances.list' | 'instances.get' | 'instances.delete'
  | 'zoneOperations.get' | 'zoneOperations.wait' | 'unknown';

export interface RecordedRequest {
  readonly method: string;
  readonly route: GceRoute;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly body?: unknown;
  /** Whether an Authorization header came along (the insecure mode must send none). */
  readonly authorization: boolean;
  /** HTTP status answered, or 'dropped' when the fake destroyed the socket instead. */
  status: number | 'dropped';
}

export interface GceFakeOptions {
  /** Largest page instances.list returns, whatever maxResults asks (default 500). */
  pageSize?: number;
  /** How many wait/get calls see an operation still RUNNING before it is DONE (default 0). */
  opWaitsBeforeDone?: number;
  /** Clock for creationTimestamp / operation times (default Date.now). */
  now?: () => number;
}

type Json = Record<string, any>;

interface FakeOperation {
  readonly project: string;
  readonly zone: string;
  readonly resource: Json;
  waitsLeft: number;
  complete: () => void;
}

interface Fault {
  remaining: number;
  status: number;
  reason: string;
  message: string;
  routes?: readonly GceRoute[];
}

const API = 'https://www.googleapis.com/compute/v1';
const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const METADATA_VALUE_LIMIT = 256 * 1024;
const METADATA_TOTAL_LIMIT = 512 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
}

/** GCE timestamps carry a local offset, e.g. 2026-11-02T09:15:00.123-07:00. */
function rfc3339(ms: number): string {
  return new Date(ms - 7 * 3600_000).toISOString().replace('Z', '-07:00');
}

export class GceFake {
  readonly requests: RecordedRequest[] = [];
  pageSize: number;
  opWaitsBeforeDone: number;
  private readonly now: () => number;
  private readonly instancesByKey = new Map<string, Json>();
  private readonly operations = new Map<string, FakeOperation>();
  private readonly requestIds = new Map<string, string>();
  private readonly faults: Fault[] = [];
  private readonly insertFailures: string[] = [];
  private dropAfterCreate = 0;
  private seq = 0;

  private constructor(private readonly server: Server, opts: GceFakeOptions) {
    this.pageSize = opts.pageSize ?? 500;
    this.opWaitsBeforeDone = opts.opWaitsBeforeDone ?? 0;
    this.now = opts.now ?? Date.now;
  }

  static async start(opts: GceFakeOptions = {}): Promise<GceFake> {
    let fake!: GceFake;
    const server = createServer((req, res) => fake.handle(req, res));
    fake = new GceFake(server, opts);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** For pool.gcp.apiEndpoint (with insecure: true). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- inspection ----

  calls(route: GceRoute): RecordedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  /** Instances currently present (any project/zone), in creation order. */
  instances(): Json[] {
    return [...this.instancesByKey.values()].map((i) => structuredClone(i));
  }

  instance(project: string, zone: string, name: string): Json | undefined {
    const i = this.instancesByKey.get(`${project}/${zone}/${name}`);
    return i && structuredClone(i);
  }

  // ---- instance identity ----

  private signer: GceIdentitySigner | undefined;

  /** Signs instance identity tokens; its jwks() plays Google's oauth2/v3/certs. */
  identitySigner(): GceIdentitySigner {
    return (this.signer ??= new GceIdentitySigner(this.now));
  }

  /** The metadata server of an instance this fake created, serving its identity token. */
  startMetadataServer(project: string, zone: string, name: string): Promise<MetadataServer> {
    const inst = this.instancesByKey.get(`${project}/${zone}/${name}`);
    if (!inst) throw new Error(`fake: no instance ${name}`);
    return startGceMetadata(this.identitySigner(), inst, project, zone);
  }

  // ---- state manipulation ----

  /** Adds an instance directly (another cluster's, a hand-made one …). */
  seed(project: string, zone: string, partial: Json & { name: string }): Json {
    const inst = this.materialise(project, zone, { machineType: `zones/${zone}/machineTypes/e2-small`, ...partial });
    inst.status = partial.status ?? 'RUNNING';
    this.instancesByKey.set(`${project}/${zone}/${inst.name}`, inst);
    return structuredClone(inst);
  }

  setStatus(project: string, zone: string, name: string, status: string): void {
    const i = this.instancesByKey.get(`${project}/${zone}/${name}`);
    if (!i) throw new Error(`no instance ${name}`);
    i.status = status;
  }

  remove(project: string, zone: string, name: string): void {
    this.instancesByKey.delete(`${project}/${zone}/${name}`);
  }

  /** Simulates GCE's requestId dedup window passing: old request ids are forgotten. */
  forgetRequestIds(): void {
    this.requestIds.clear();
  }

  // ---- fault injection ----

  /** The next `times` matching calls answer `status` with a GCE error body. */
  failNext(times: number, status: number, reason: string, opts: { message?: string; routes?: readonly GceRoute[] } = {}): void {
    this.faults.push({ remaining: times, status, reason, message: opts.message ?? `${reason} (injected)`, routes: opts.routes });
  }

  throttleNext(times: number, routes?: readonly GceRoute[]): void {
    this.failNext(times, 429, 'rateLimitExceeded', { message: 'Rate Limit Exceeded', routes });
  }

  unavailableNext(times: number, routes?: readonly GceRoute[]): void {
    this.failNext(times, 503, 'backendError', { message: 'Internal error. Please try again or contact Google Support.', routes });
  }

  forbiddenNext(times: number, routes?: readonly GceRoute[]): void {
    this.failNext(times, 403, 'forbidden', { message: "Required 'compute.instances.create' permission for 'projects/p/zones/z/instances/x'", routes });
  }

  unauthenticatedNext(times: number, routes?: readonly GceRoute[]): void {
    this.failNext(times, 401, 'required', { message: 'Request is missing required authentication credential.', routes });
  }

  /** Synchronous quota error, as GCE answers an insert over a regional quota (HTTP 403 quotaExceeded). */
  quotaExceededNext(times: number, routes: readonly GceRoute[] = ['instances.insert']): void {
    this.failNext(times, 403, 'quotaExceeded', { message: "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1.", routes });
  }

  /**
   * The next `times` new inserts are accepted, but their operation finishes DONE with this error
   * code (ZONE_RESOURCE_POOL_EXHAUSTED, ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS, QUOTA_EXCEEDED …)
   * and no instance is created.
   */
  failNextInserts(times: number, code: string): void {
    for (let i = 0; i < times; i++) this.insertFailures.push(code);
  }

  /** The next `times` new inserts are carried out, then the socket is destroyed without a reply. */
  dropReplyAfterCreate(times = 1): void {
    this.dropAfterCreate += times;
  }

  // ---- HTTP ----

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const query = Object.fromEntries(url.searchParams);
      const text = Buffer.concat(chunks).toString('utf8');
      const { route, params } = this.route(req.method ?? 'GET', url.pathname);
      const rec: RecordedRequest = {
        method: req.method ?? 'GET', route, path: url.pathname, query, authorization: req.headers.authorization !== undefined, status: 0,
      };
      this.requests.push(rec);
      try {
        let body: Json | undefined;
        if (text) {
          try {
            body = JSON.parse(text) as Json;
          } catch {
            throw new HttpError(400, 'parseError', 'This API does not support parsing form-encoded input.');
          }
          (rec as { body?: unknown }).body = body;
        }
        if (route === 'unknown') throw new HttpError(404, 'notFound', `The requested URL ${url.pathname} was not found on this server.`);
        const fault = this.faults.find((f) => f.remaining > 0 && (!f.routes || f.routes.includes(route)));
        if (fault) {
          fault.remaining--;
          throw new HttpError(fault.status, fault.reason, fault.message);
        }
        const out = this.dispatch(route, params, query, body ?? {});
        if (out === 'drop') {
          rec.status = 'dropped';
          req.socket.destroy();
          return;
        }
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(out));
      } catch (e) {
        const err = e instanceof HttpError ? e : new HttpError(500, 'backendError', (e as Error).message);
        rec.status = err.status;
        res.writeHead(err.status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify({ error: { code: err.status, message: err.message, errors: [{ message: err.message, domain: err.status === 429 || err.reason === 'quotaExceeded' ? 'usageLimits' : 'global', reason: err.reason }] } }));
      }
    });
  }

  private route(method: string, path: string): { route: GceRoute; params: string[] } {
    const m = /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/(instances|operations)(?:\/([^/]+))?(\/wait)?$/.exec(path);
    if (!m) return { route: 'unknown', params: [] };
    const [, project, zone, kind, name, wait] = m;
    const params = [decodeURIComponent(project), decodeURIComponent(zone), name ? decodeURIComponent(name) : ''];
    if (kind === 'instances' && !wait) {
      if (!name && method === 'POST') return { route: 'instances.insert', params };
      if (!name && method === 'GET') return { route: 'instances.list', params };
      if (name && method === 'GET') return { route: 'instances.get', params };
      if (name && method === 'DELETE') return { route: 'instances.delete', params };
    }
    if (kind === 'operations' && name) {
      if (wait && method === 'POST') return { route: 'zoneOperations.wait', params };
      if (!wait && method === 'GET') return { route: 'zoneOperations.get', params };
    }
    return { route: 'unknown', params: [] };
  }

  private dispatch(route: GceRoute, [project, zone, name]: string[], query: Record<string, string>, body: Json): Json | 'drop' {
    switch (route) {
      case 'instances.insert': return this.insert(project, zone, query.requestId, body);
      case 'instances.list': return this.list(project, zone, query);
      case 'instances.get': return structuredClone(this.mustGet(project, zone, name));
      case 'instances.delete': return this.delete(project, zone, name, query.requestId);
      case 'zoneOperations.get':
      case 'zoneOperations.wait': return this.poll(project, zone, name);
      default: throw new HttpError(404, 'notFound', 'not found');
    }
  }

  // ---- resources ----

  private mustGet(project: string, zone: string, name: string): Json {
    const i = this.instancesByKey.get(`${project}/${zone}/${name}`);
    if (!i) throw new HttpError(404, 'notFound', `The resource 'projects/${project}/zones/${zone}/instances/${name}' was not found`);
    return i;
  }

  private checkRequestId(requestId: string | undefined): void {
    if (requestId === undefined) return;
    if (!UUID.test(requestId) || /^[0-]+$/.test(requestId)) throw new HttpError(400, 'invalid', `Invalid value for field 'requestId': '${requestId}'. The request ID must be a valid UUID with the exception that zero UUID is not supported.`);
  }

  private validateInstance(zone: string, b: Json): void {
    const bad = (field: string, why: string): never => { throw new HttpError(400, 'invalid', `Invalid value for field 'resource.${field}': ${why}`); };
    if (typeof b.name !== 'string' || !NAME.test(b.name)) bad('name', `'${String(b.name)}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`);
    const mt = /(?:^|\/)zones\/([^/]+)\/machineTypes\/([^/]+)$/.exec(String(b.machineType ?? ''));
    if (!mt) bad('machineType', `'${String(b.machineType)}'. Expected zones/<zone>/machineTypes/<type>`);
    else if (mt[1] !== zone) bad('machineType', `machine type zone ${mt[1]} differs from ${zone}`);
    const disks = Array.isArray(b.disks) ? b.disks : [];
    const boot = disks.filter((d: Json) => d.boot);
    if (boot.length !== 1) bad('disks', 'exactly one boot disk is required');
    if (!boot[0].initializeParams?.sourceImage && !boot[0].source) bad('disks[0].initializeParams.sourceImage', 'a boot disk needs a source image or disk');
    if (!Array.isArray(b.networkInterfaces) || b.networkInterfaces.length === 0) bad('networkInterfaces', 'at least one network interface is required');
    const labels = (b.labels ?? {}) as Record<string, unknown>;
    if (Object.keys(labels).length > 64) bad('labels', 'at most 64 labels');
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_KEY.test(k)) bad(`labels.${k}`, 'label keys must start with a lowercase letter and contain only [a-z0-9_-], ≤ 63');
      if (typeof v !== 'string' || !LABEL_VALUE.test(v)) bad(`labels.${k}`, `label value '${String(v)}' must contain only [a-z0-9_-], ≤ 63`);
    }
    let total = 0;
    for (const [i, item] of ((b.metadata?.items ?? []) as Json[]).entries()) {
      const n = Buffer.byteLength(String(item.key ?? '')) + Buffer.byteLength(String(item.value ?? ''));
      if (Buffer.byteLength(String(item.value ?? '')) > METADATA_VALUE_LIMIT) bad(`metadata.items[${i}].value`, 'metadata values are limited to 256 KB');
      total += n;
    }
    if (total > METADATA_TOTAL_LIMIT) bad('metadata', 'metadata is limited to 512 KB in total');
    const s = b.scheduling ?? {};
    if (s.provisioningModel === 'SPOT' && (s.automaticRestart !== false || s.onHostMaintenance !== 'TERMINATE')) {
      bad('scheduling', 'Spot VMs require automaticRestart false and onHostMaintenance TERMINATE');
    }
  }

  private materialise(project: string, zone: string, b: Json): Json {
    const n = ++this.seq;
    const type = String(b.machineType).split('/').pop();
    const self = `${API}/projects/${project}/zones/${zone}/instances/${b.name}`;
    return {
      ...structuredClone(b),
      kind: 'compute#instance',
      id: String(4_000_000_000_000_000 + n),
      creationTimestamp: b.creationTimestamp ?? rfc3339(this.now()),
      zone: `${API}/projects/${project}/zones/${zone}`,
      machineType: `${API}/projects/${project}/zones/${zone}/machineTypes/${type}`,
      status: 'PROVISIONING',
      selfLink: self,
      labels: b.labels ?? {},
      labelFingerprint: 'fake' + n,
      scheduling: { automaticRestart: true, onHostMaintenance: 'MIGRATE', provisioningModel: 'STANDARD', preemptible: false, ...(b.scheduling ?? {}) },
      networkInterfaces: ((b.networkInterfaces ?? [{}]) as Json[]).map((nic, i) => ({
        kind: 'compute#networkInterface',
        name: `nic${i}`,
        network: `${API}/projects/${project}/${nic.network ?? 'global/networks/default'}`,
        ...(nic.subnetwork ? { subnetwork: `${API}/projects/${project}/${nic.subnetwork}` } : {}),
        networkIP: `10.128.${Math.floor(n / 250)}.${(n % 250) + 2}`,
      })),
      disks: ((b.disks ?? []) as Json[]).map((d, i) => ({ ...d, kind: 'compute#attachedDisk', index: i, deviceName: `persistent-disk-${i}`, source: `${API}/projects/${project}/zones/${zone}/disks/${b.name}${i ? `-${i}` : ''}` })),
    };
  }

  private newOperation(project: string, zone: string, type: 'insert' | 'delete', target: string, complete: () => void): FakeOperation {
    const n = ++this.seq;
    const name = `operation-${this.now()}-${n.toString(16).padStart(8, '0')}-fake`;
    const zoneUrl = `${API}/projects/${project}/zones/${zone}`;
    const op: FakeOperation = {
      project, zone, waitsLeft: this.opWaitsBeforeDone, complete,
      resource: {
        kind: 'compute#operation', id: String(7_000_000_000_000_000 + n), name, zone: zoneUrl, operationType: type,
        targetLink: `${zoneUrl}/instances/${target}`, targetId: String(4_000_000_000_000_000 + n), status: 'PENDING',
        user: 'spillway-test@example.iam.gserviceaccount.com', progress: 0, insertTime: rfc3339(this.now()), selfLink: `${zoneUrl}/operations/${name}`,
      },
    };
    this.operations.set(name, op);
    return op;
  }

  private finish(op: FakeOperation): void {
    if (op.resource.status === 'DONE') return;
    op.resource.status = 'DONE';
    op.resource.progress = 100;
    op.resource.endTime = rfc3339(this.now());
    op.complete();
  }

  private fail(op: FakeOperation, code: string): void {
    const http = code === 'QUOTA_EXCEEDED' ? 403 : 503;
    const message = code === 'QUOTA_EXCEEDED'
      ? "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1."
      : `The zone '${op.resource.zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`;
    op.resource.error = { errors: [{ code, message }] };
    op.resource.httpErrorStatusCode = http;
    op.resource.httpErrorMessage = http === 403 ? 'FORBIDDEN' : 'SERVICE UNAVAILABLE';
  }

  private insert(project: string, zone: string, requestId: string | undefined, body: Json): Json | 'drop' {
    this.checkRequestId(requestId);
    const dedupKey = requestId && `${project}/${requestId}`;
    const seen = dedupKey ? this.requestIds.get(dedupKey) : undefined;
    if (seen) return structuredClone(this.operations.get(seen)!.resource);
    this.validateInstance(zone, body);
    const key = `${project}/${zone}/${body.name}`;
    if (this.instancesByKey.has(key)) throw new HttpError(409, 'alreadyExists', `The resource 'projects/${project}/zones/${zone}/instances/${body.name}' already exists`);
    const failure = this.insertFailures.shift();
    let op: FakeOperation;
    if (failure) {
      op = this.newOperation(project, zone, 'insert', body.name, () => this.fail(op, failure));
    } else {
      const inst = this.materialise(project, zone, body);
      this.instancesByKey.set(key, inst);
      op = this.newOperation(project, zone, 'insert', body.name, () => {
        if (inst.status === 'PROVISIONING') inst.status = 'RUNNING';
      });
      op.resource.targetId = inst.id;
    }
    op.resource.status = 'RUNNING';
    if (dedupKey) this.requestIds.set(dedupKey, op.resource.name);
    if (this.dropAfterCreate > 0) {
      this.dropAfterCreate--;
      return 'drop';
    }
    return structuredClone(op.resource);
  }

  private delete(project: string, zone: string, name: string, requestId: string | undefined): Json {
    this.checkRequestId(requestId);
    const dedupKey = requestId && `${project}/${requestId}`;
    const seen = dedupKey ? this.requestIds.get(dedupKey) : undefined;
    if (seen) return structuredClone(this.operations.get(seen)!.resource);
    const key = `${project}/${zone}/${name}`;
    const inst = this.mustGet(project, zone, name);
    inst.status = 'STOPPING';
    const op = this.newOperation(project, zone, 'delete', name, () => { this.instancesByKey.delete(key); });
    op.resource.targetId = inst.id;
    op.resource.status = 'RUNNING';
    if (dedupKey) this.requestIds.set(dedupKey, op.resource.name);
    return structuredClone(op.resource);
  }

  private poll(project: string, zone: string, name: string): Json {
    const op = this.operations.get(name);
    if (!op || op.project !== project || op.zone !== zone) {
      throw new HttpError(404, 'notFound', `The resource 'projects/${project}/zones/${zone}/operations/${name}' was not found`);
    }
    if (op.resource.status !== 'DONE') {
      if (op.waitsLeft > 0) {
        op.waitsLeft--;
        op.resource.status = 'RUNNING';
        op.resource.startTime ??= rfc3339(this.now());
      } else {
        this.finish(op);
      }
    }
    return structuredClone(op.resource);
  }

  private list(project: string, zone: string, query: Record<string, string>): Json {
    let match: (r: Record<string, unknown>) => boolean;
    try {
      match = parseFilter(query.filter ?? '');
    } catch (e) {
      if (e instanceof FilterSyntaxError) throw new HttpError(400, 'invalid', `Invalid value for field 'filter': '${query.filter}'. ${e.message}`);
      throw e;
    }
    const asked = query.maxResults !== undefined ? Number(query.maxResults) : 500;
    if (!Number.isInteger(asked) || asked < 0 || asked > 500) throw new HttpError(400, 'invalid', `Invalid value for field 'maxResults': '${query.maxResults}'. Must be less than or equal to 500`);
    const size = Math.max(1, Math.min(asked || 500, this.pageSize));
    let offset = 0;
    if (query.pageToken) {
      const m = /^page:(\d+)$/.exec(Buffer.from(query.pageToken, 'base64url').toString('utf8'));
      if (!m) throw new HttpError(400, 'invalid', `Invalid value for field 'pageToken': '${query.pageToken}'`);
      offset = Number(m[1]);
    }
    const all = [...this.instancesByKey.entries()].filter(([k]) => k.startsWith(`${project}/${zone}/`)).map(([, v]) => v).filter((i) => match(i));
    const page = all.slice(offset, offset + size);
    const nextOffset = offset + page.length;
    return {
      kind: 'compute#instanceList',
      id: `projects/${project}/zones/${zone}/instances`,
      items: structuredClone(page),
      selfLink: `${API}/projects/${project}/zones/${zone}/instances`,
      ...(nextOffset < all.length ? { nextPageToken: Buffer.from(`page:${nextOffset}`).toString('base64url') } : {}),
    };
  }
}
