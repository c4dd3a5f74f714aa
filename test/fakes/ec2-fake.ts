// An HTTP-level fake of the EC2 Query API for tests, driven through the real @aws-sdk/client-ec2:
// node:http on 127.0.0.1 (port 0), form-encoded POST bodies in, 2016-11-15 XML out. It keeps state
// (instances with tags and states, ClientToken reservations, spot price history), behaves like EC2
// where the adapter depends on it (ClientToken idempotency, all-or-nothing TerminateInstances with
// InvalidInstanceID.NotFound, NextToken pagination, MaxResults bounds), records every request and
// can inject faults: error codes, throttling, capacity and limit errors, slow replies and replies
// lost after the work was done. Signatures are not checked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { parseQuery, q, unflatten, type QueryParams, type QueryTree } from './ec2-query.ts';
import { el, errorResponse, opt, response, set, type XmlChild, type XmlNode } from './ec2-xml.ts';
import { Ec2IdentitySigner, startEc2Metadata, type MetadataServer } from './ec2-identity.ts';

export type Ec2StateName = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
const STATE_CODE: Record<Ec2StateName, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };
const LIVE: ReadonlySet<Ec2StateName> = new Set(['pending', 'running', 'stopping', 'stopped']);

export interface FakeInstance {
  readonly id: string;
  readonly reservationId: string;
  readonly instanceType: string;
  readonly zone: string;
  state: Ec2StateName;
  readonly launchTime: number;
  readonly privateIp: string;
  readonly lifecycle?: 'spot';
  readonly tags: Map<string, string>;
  readonly volumeTags: Map<string, string>;
  readonly clientToken?: string;
  readonly imageId?: string;
  readonly subnetId?: string;
  readonly securityGroupIds: readonly string[];
  readonly iamInstanceProfile?: string;
  readonly keyName?: string;
  readonly launchTemplate?: { readonly id?: string; readonly name?: string; readonly version?: string };
  /** Decoded user-data. */
  readonly userData?: string;
  readonly spotOptions?: Readonly<Record<string, string>>;
  /** RunInstances' InstanceInitiatedShutdownBehavior (absent: EC2's default, stop). */
  readonly shutdownBehavior?: 'stop' | 'terminate';
}

export interface SpotPricePoint {
  readonly instanceType: string;
  readonly zone: string;
  readonly price: number;
  readonly at: number;
  readonly productDescription: string;
}

export interface RecordedRequest {
  readonly seq: number;
  readonly action: string;
  /** Flat form parameters as sent (`TagSpecification.1.Tag.1.Key` …). */
  readonly params: QueryParams;
  /** The same, unflattened: numbered segments become arrays. */
  readonly tree: QueryTree;
  /** 'ok', 'error:<Code>', 'dropped', 'ok (reply dropped)' … */
  outcome: string;
}

export type Fault =
  /** Reply with this EC2 error (nothing is done). */
  | { readonly kind: 'error'; readonly code: string; readonly message?: string; readonly status?: number }
  /** Do the work, then reply after `ms`. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Do the work, then destroy the socket without a reply. */
  | { readonly kind: 'drop-after' }
  /** Destroy the socket without doing anything. */
  | { readonly kind: 'drop-before' };

export interface FaultRule {
  /** Only these actions (default: any). */
  readonly action?: string | readonly string[];
  /** How many requests it applies to (default: all). */
  readonly times?: number;
  readonly when?: (req: RecordedRequest) => boolean;
  readonly fault: Fault;
}

export interface Ec2FakeOptions {
  readonly region?: string;
  /** Server-side cap on DescribeInstances / DescribeSpotPriceHistory page sizes (default: none). */
  readonly pageSize?: number;
  /** Clock for launch times and "now" (default Date.now). */
  readonly now?: () => number;
  /** Live instances the account may have (default: unlimited); beyond it RunInstances gets InstanceLimitExceeded. */
  readonly instanceLimit?: number;
  /** pending → running, shutting-down → terminated and stopping → stopped on each DescribeInstances first page (default true). */
  readonly autoAdvance?: boolean;
  readonly maxTerminateBatch?: number;
  /**
   * EC2's eventual consistency: a new instance is left out of the first this many DescribeInstances
   * listings after its launch (default 0).
   */
  readonly listingLag?: number;
}

class Ec2FakeError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

interface Reservation {
  readonly id: string;
  readonly fingerprint: string;
  readonly instanceIds: readonly string[];
  readonly groups: readonly string[];
}

interface PageCursor {
  readonly offset: number;
  readonly query: string;
}

export class Ec2Fake {
  readonly requests: RecordedRequest[] = [];
  readonly region: string;
  readonly ownerId = '123456789012';
  pageSize: number | undefined;
  instanceLimit: number | undefined;
  private readonly now: () => number;
  private readonly autoAdvance: boolean;
  private readonly maxTerminateBatch: number;
  listingLag: number;
  /** Instance id → listings still to leave it out of (listingLag). */
  private readonly unlisted = new Map<string, number>();
  private readonly instances = new Map<string, FakeInstance>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly tokens = new Map<string, string>(); // ClientToken → reservation id
  private readonly spotHistory: SpotPricePoint[] = [];
  private readonly cursors = new Map<string, PageCursor>();
  private readonly capacity = new Map<string, { code: string; status: number; zone?: string }>();
  private faults: { rule: FaultRule; left: number }[] = [];
  private readonly waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private ipCounter = 10;
  private server!: http.Server;
  url = '';

  private constructor(opts: Ec2FakeOptions) {
    this.region = opts.region ?? 'us-east-1';
    this.pageSize = opts.pageSize;
    this.instanceLimit = opts.instanceLimit;
    this.now = opts.now ?? Date.now;
    this.autoAdvance = opts.autoAdvance ?? true;
    this.maxTerminateBatch = opts.maxTerminateBatch ?? 1000;
    this.listingLag = opts.listingLag ?? 0;
  }

  static async start(opts: Ec2FakeOptions = {}): Promise<Ec2Fake> {
    const fake = new Ec2Fake(opts);
    fake.server = http.createServer((req, res) => void fake.onRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    for (const w of this.waits) {
      clearTimeout(w.timer);
      w.resolve();
    }
    this.waits.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- inspection -------------------------------------------------------------------------

  requestsFor(action: string): RecordedRequest[] {
    return this.requests.filter((r) => r.action === action);
  }

  instance(id: string): FakeInstance | undefined {
    return this.instances.get(id);
  }

  allInstances(): FakeInstance[] {
    return [...this.instances.values()];
  }

  /** Instances that are not shutting down or terminated. */
  liveInstances(): FakeInstance[] {
    return this.allInstances().filter((i) => LIVE.has(i.state));
  }

  // ---- instance identity ------------------------------------------------------------------

  private signer: Ec2IdentitySigner | undefined;

  /** This fake "region"'s identity-document signer (made on first use; its certificate is the test's AWS cert). */
  identitySigner(): Ec2IdentitySigner {
    return (this.signer ??= new Ec2IdentitySigner(this.region, this.ownerId));
  }

  /** IMDS of an instance this fake launched, serving its signed identity document. */
  startMetadataServer(instanceId: string, opts: { tamper?: (doc: string) => string } = {}): Promise<MetadataServer> {
    const inst = this.instances.get(instanceId);
    if (!inst) throw new Error(`fake: no instance ${instanceId}`);
    return startEc2Metadata(this.identitySigner(), inst, opts);
  }

  // ---- state set-up -----------------------------------------------------------------------

  /** Adds an instance as if launched elsewhere (another cluster, pool, or by hand). */
  addInstance(o: { instanceType?: string; zone?: string; state?: Ec2StateName; tags?: Record<string, string>; lifecycle?: 'spot'; launchTime?: number } = {}): FakeInstance {
    const reservationId = `r-${hex(17)}`;
    const inst = this.newInstance({ reservationId, instanceType: o.instanceType ?? 'm5.large', zone: o.zone ?? `${this.region}a`, lifecycle: o.lifecycle, tags: new Map(Object.entries(o.tags ?? {})), volumeTags: new Map(), securityGroupIds: [], launchTime: o.launchTime });
    inst.state = o.state ?? 'running';
    this.reservations.set(reservationId, { id: reservationId, fingerprint: '', instanceIds: [inst.id], groups: [] });
    return inst;
  }

  setState(id: string, state: Ec2StateName): void {
    const i = this.instances.get(id);
    if (!i) throw new Error(`fake: no instance ${id}`);
    i.state = state;
  }

  /** The instance's OS shuts down (`poweroff`): it stops, or terminates per its InstanceInitiatedShutdownBehavior. */
  shutDownFromInside(id: string): void {
    const i = this.instances.get(id);
    if (!i) throw new Error(`fake: no instance ${id}`);
    i.state = i.shutdownBehavior === 'terminate' ? 'shutting-down' : 'stopping';
  }

  addSpotPrice(p: { instanceType: string; zone: string; price: number; at?: number; productDescription?: string }): void {
    this.spotHistory.push({ instanceType: p.instanceType, zone: p.zone, price: p.price, at: p.at ?? this.now(), productDescription: p.productDescription ?? 'Linux/UNIX' });
  }

  // ---- faults -----------------------------------------------------------------------------

  inject(rule: FaultRule): void {
    this.faults.push({ rule, left: rule.times ?? Infinity });
  }

  clearFaults(): void {
    this.faults = [];
    this.capacity.clear();
  }

  /** The next `times` requests (of `action`, if given) get RequestLimitExceeded (HTTP 503). */
  throttle(times: number, action?: string): void {
    this.inject({ action, times, fault: { kind: 'error', code: 'RequestLimitExceeded', message: 'Request limit exceeded.', status: 503 } });
  }

  /** RunInstances for this type (in this zone, if given) fails with a capacity error until restored. */
  failCapacity(instanceType: string, o: { code?: string; status?: number; zone?: string } = {}): void {
    this.capacity.set(instanceType, { code: o.code ?? 'InsufficientInstanceCapacity', status: o.status ?? 500, zone: o.zone });
  }

  restoreCapacity(instanceType: string): void {
    this.capacity.delete(instanceType);
  }

  unauthorized(action?: string, times?: number): void {
    this.inject({
      action, times,
      fault: { kind: 'error', code: 'UnauthorizedOperation', status: 403, message: `You are not authorized to perform this operation. Encoded authorization failure message: ${hex(40)}` },
    });
  }

  /** Replies `ms` late (the work is done at once). */
  slow(ms: number, o: { action?: string; times?: number } = {}): void {
    this.inject({ action: o.action, times: o.times ?? 1, fault: { kind: 'delay', ms } });
  }

  /** RunInstances creates the instances, then the connection dies without a reply. */
  loseReplyAfterCreate(times = 1): void {
    this.inject({ action: 'RunInstances', times, fault: { kind: 'drop-after' } });
  }

  failNext(action: string | undefined, code: string, o: { status?: number; message?: string; times?: number } = {}): void {
    this.inject({ action, times: o.times ?? 1, fault: { kind: 'error', code, status: o.status ?? 400, message: o.message } });
  }

  // ---- HTTP -------------------------------------------------------------------------------

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return;
    }
    const params = parseQuery(Buffer.concat(chunks).toString('utf8'));
    const rec: RecordedRequest = { seq: this.requests.length + 1, action: params.Action ?? '', params, tree: unflatten(params), outcome: 'pending' };
    this.requests.push(rec);
    const requestId = randomUUID();
    const fault = this.takeFault(rec);

    if (fault?.kind === 'drop-before') {
      rec.outcome = 'dropped';
      req.socket.destroy();
      return;
    }
    let status = 200;
    let body: string;
    if (fault?.kind === 'error') {
      status = fault.status ?? 400;
      body = errorResponse(fault.code, fault.message ?? fault.code, requestId);
      rec.outcome = `error:${fault.code}`;
    } else {
      try {
        body = this.handle(rec, requestId);
        rec.outcome = 'ok';
      } catch (e) {
        const err = e instanceof Ec2FakeError ? e : new Ec2FakeError('InternalError', `fake: ${(e as Error).message}`, 500);
        status = err.status;
        body = errorResponse(err.code, err.message, requestId);
        rec.outcome = `error:${err.code}`;
      }
    }
    if (fault?.kind === 'drop-after') {
      rec.outcome += ' (reply dropped)';
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'delay') await this.wait(fault.ms);
    if (res.destroyed || req.socket.destroyed) {
      rec.outcome += ' (client gone)';
      return;
    }
    res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private takeFault(rec: RecordedRequest): Fault | undefined {
    for (const f of this.faults) {
      if (f.left <= 0) continue;
      const a = f.rule.action;
      if (a !== undefined && !(typeof a === 'string' ? a === rec.action : a.includes(rec.action))) continue;
      if (f.rule.when && !f.rule.when(rec)) continue;
      f.left--;
      return f.rule.fault;
    }
    return undefined;
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const w = { timer: setTimeout(() => {
        this.waits.delete(w);
        resolve();
      }, ms), resolve };
      this.waits.add(w);
    });
  }

  private handle(rec: RecordedRequest, requestId: string): string {
    if (!rec.params.Version) throw new Ec2FakeError('MissingParameter', 'The request must contain the parameter Version');
    switch (rec.action) {
      case 'RunInstances':
        return this.runInstances(rec, requestId);
      case 'DescribeInstances':
        return this.describeInstances(rec, requestId);
      case 'TerminateInstances':
        return this.terminateInstances(rec, requestId);
      case 'DescribeSpotPriceHistory':
        return this.describeSpotPriceHistory(rec, requestId);
      default:
        throw new Ec2FakeError('InvalidAction', `The action ${rec.action || '(none)'} is not valid for this web service.`);
    }
  }

  // ---- RunInstances -----------------------------------------------------------------------

  private runInstances(rec: RecordedRequest, requestId: string): string {
    const { params: p, tree: t } = rec;
    const token = p.ClientToken;
    const fingerprint = fingerprintOf(p);
    if (token !== undefined) {
      if (token.length > 64 || !/^[\x20-\x7e]*$/.test(token)) {
        throw new Ec2FakeError('InvalidParameterValue', `Value (${token}) for parameter clientToken is invalid. Length exceeds maximum of 64 ASCII characters`);
      }
      const prior = this.tokens.get(token);
      if (prior) {
        const r = this.reservations.get(prior)!;
        if (r.fingerprint !== fingerprint) {
          throw new Ec2FakeError('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
        }
        return this.reservationResponse('RunInstances', requestId, r);
      }
    }
    const min = intParam(p, 'MinCount');
    const max = intParam(p, 'MaxCount');
    if (min < 1 || max < min) throw new Ec2FakeError('InvalidParameterValue', `MinCount (${min}) must be ≥ 1 and ≤ MaxCount (${max})`);
    const lt = q.obj(t, 'LaunchTemplate');
    if (!p.ImageId && !lt) throw new Ec2FakeError('MissingParameter', 'The request must contain the parameter ImageId');
    if (lt && q.str(lt, 'LaunchTemplateId') && q.str(lt, 'LaunchTemplateName')) {
      throw new Ec2FakeError('InvalidParameterCombination', 'Only one of LaunchTemplateId or LaunchTemplateName may be given');
    }
    const instanceType = p.InstanceType ?? 'm1.small';
    let userData: string | undefined;
    if (p.UserData !== undefined) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(p.UserData)) throw new Ec2FakeError('InvalidUserData.Malformed', 'Invalid BASE64 encoding of user data.');
      const raw = Buffer.from(p.UserData, 'base64');
      if (raw.byteLength > 16_384) throw new Ec2FakeError('InvalidParameterValue', 'User data is limited to 16384 bytes');
      userData = raw.toString('utf8');
    }
    const tags = new Map<string, string>();
    const volumeTags = new Map<string, string>();
    for (const spec of q.list(t, 'TagSpecification')) {
      const type = q.str(spec, 'ResourceType');
      const target = type === 'instance' ? tags : type === 'volume' ? volumeTags : undefined;
      if (!target && !['network-interface', 'spot-instances-request', 'elastic-gpu'].includes(type ?? '')) {
        throw new Ec2FakeError('InvalidParameterValue', `'${type}' is not a valid taggable resource type for this operation.`);
      }
      for (const tag of q.list(spec, 'Tag')) {
        const k = q.str(tag, 'Key');
        if (!k) throw new Ec2FakeError('InvalidParameterValue', 'Tag keys must not be empty');
        if (k.startsWith('aws:')) throw new Ec2FakeError('InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
        target?.set(k, q.str(tag, 'Value') ?? '');
      }
    }
    const zone = q.str(q.obj(t, 'Placement'), 'AvailabilityZone') ?? `${this.region}a`;
    if (!zone.startsWith(this.region)) throw new Ec2FakeError('InvalidParameterValue', `Invalid availability zone: [${zone}]`);
    const cap = this.capacity.get(instanceType);
    if (cap && (!cap.zone || cap.zone === zone)) {
      throw new Ec2FakeError(cap.code, `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity.`, cap.status);
    }
    const shutdownBehavior = p.InstanceInitiatedShutdownBehavior;
    if (shutdownBehavior !== undefined && shutdownBehavior !== 'stop' && shutdownBehavior !== 'terminate') {
      throw new Ec2FakeError('InvalidParameterValue', `Value (${shutdownBehavior}) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are stop and terminate.`);
    }
    const market = q.obj(t, 'InstanceMarketOptions');
    const spot = q.str(market, 'MarketType') === 'spot';
    if (this.instanceLimit !== undefined) {
      const live = this.liveInstances().length;
      if (live + min > this.instanceLimit) {
        throw new Ec2FakeError('InstanceLimitExceeded', `You have requested more instances (${live + min}) than your current instance limit of ${this.instanceLimit} allows for the specified instance type. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`);
      }
    }
    const spotOpts = q.obj(market, 'SpotOptions');
    const profile = q.obj(t, 'IamInstanceProfile');
    const reservationId = `r-${hex(17)}`;
    const groups = q.strs(t, 'SecurityGroupId');
    const ids: string[] = [];
    for (let n = 0; n < max; n++) {
      const inst = this.newInstance({
        reservationId, instanceType, zone, tags: new Map(tags), volumeTags: new Map(volumeTags), clientToken: token,
        imageId: p.ImageId, subnetId: p.SubnetId, securityGroupIds: groups, keyName: p.KeyName, userData, shutdownBehavior,
        iamInstanceProfile: q.str(profile, 'Name') ?? q.str(profile, 'Arn'),
        launchTemplate: lt ? { id: q.str(lt, 'LaunchTemplateId'), name: q.str(lt, 'LaunchTemplateName'), version: q.str(lt, 'Version') } : undefined,
        lifecycle: spot ? 'spot' : undefined,
        spotOptions: spotOpts ? Object.fromEntries(Object.entries(spotOpts).filter((e): e is [string, string] => typeof e[1] === 'string')) : undefined,
      });
      ids.push(inst.id);
    }
    const r: Reservation = { id: reservationId, fingerprint, instanceIds: ids, groups };
    this.reservations.set(reservationId, r);
    if (token !== undefined) this.tokens.set(token, reservationId);
    return this.reservationResponse('RunInstances', requestId, r);
  }

  private newInstance(o: Omit<FakeInstance, 'id' | 'state' | 'launchTime' | 'privateIp'> & { launchTime?: number }): FakeInstance {
    const n = this.ipCounter++;
    const inst: FakeInstance = { ...o, id: `i-${hex(17)}`, state: 'pending', launchTime: o.launchTime ?? this.now(), privateIp: `10.0.${(n >> 8) & 255}.${n & 255}` };
    this.instances.set(inst.id, inst);
    if (this.listingLag > 0) this.unlisted.set(inst.id, this.listingLag);
    return inst;
  }

  private reservationResponse(action: string, requestId: string, r: Reservation): string {
    return response(action, requestId,
      el('reservationId', r.id), el('ownerId', this.ownerId), this.groupSet(r.groups),
      set('instancesSet', r.instanceIds.map((id) => this.instanceXml(this.instances.get(id)!))));
  }

  private groupSet(groups: readonly string[]): XmlNode {
    return set('groupSet', groups.map((g) => [el('groupId', g), el('groupName', g)]));
  }

  private instanceXml(i: FakeInstance): XmlChild[] {
    const gone = i.state === 'shutting-down' || i.state === 'terminated';
    return [
      el('instanceId', i.id),
      opt('imageId', i.imageId ?? 'ami-00000000000000000'),
      el('instanceState', el('code', STATE_CODE[i.state]), el('name', i.state)),
      el('privateDnsName', gone ? '' : `ip-${i.privateIp.replace(/\./g, '-')}.ec2.internal`),
      gone ? el('stateReason', el('code', 'Client.UserInitiatedShutdown'), el('message', 'Client.UserInitiatedShutdown: User initiated shutdown')) : undefined,
      opt('keyName', i.keyName),
      el('amiLaunchIndex', 0),
      el('instanceType', i.instanceType),
      el('launchTime', new Date(i.launchTime).toISOString()),
      el('placement', el('availabilityZone', i.zone), el('tenancy', 'default')),
      el('monitoring', el('state', 'disabled')),
      opt('subnetId', i.subnetId),
      gone ? undefined : el('privateIpAddress', i.privateIp),
      this.groupSet(i.securityGroupIds),
      el('architecture', 'x86_64'),
      el('rootDeviceType', 'ebs'),
      opt('instanceLifecycle', i.lifecycle),
      i.lifecycle === 'spot' ? el('spotInstanceRequestId', `sir-${i.id.slice(2, 10)}`) : undefined,
      opt('clientToken', i.clientToken),
      i.tags.size ? set('tagSet', [...i.tags].map(([k, v]) => [el('key', k), el('value', v)])) : undefined,
      i.iamInstanceProfile ? el('iamInstanceProfile', el('arn', `arn:aws:iam::${this.ownerId}:instance-profile/${i.iamInstanceProfile}`)) : undefined,
      el('virtualizationType', 'hvm'),
      el('hypervisor', 'xen'),
    ];
  }

  // ---- DescribeInstances ------------------------------------------------------------------

  /** pending → running, shutting-down → terminated. */
  advance(): void {
    for (const i of this.instances.values()) {
      if (i.state === 'pending') i.state = 'running';
      else if (i.state === 'shutting-down') i.state = 'terminated';
      else if (i.state === 'stopping') i.state = 'stopped';
    }
  }

  private describeInstances(rec: RecordedRequest, requestId: string): string {
    const { params: p, tree: t } = rec;
    const ids = q.strs(t, 'InstanceId');
    const maxResults = p.MaxResults === undefined ? undefined : Number(p.MaxResults);
    if (maxResults !== undefined) {
      if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000) {
        throw new Ec2FakeError('InvalidParameterValue', `Value ( ${p.MaxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
      }
      if (ids.length) throw new Ec2FakeError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    }
    const filters = q.list(t, 'Filter').map((f) => ({ name: q.str(f, 'Name') ?? '', values: q.strs(f, 'Value') }));
    const query = JSON.stringify({ ids, filters, maxResults });
    const offset = this.cursor(p.NextToken, query);
    if (p.NextToken === undefined && this.autoAdvance) this.advance();
    for (const id of ids) if (!this.instances.has(id)) throw new Ec2FakeError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    const unseen = new Set<string>();
    if (p.NextToken === undefined) {
      for (const [id, left] of this.unlisted) {
        unseen.add(id);
        if (left <= 1) this.unlisted.delete(id);
        else this.unlisted.set(id, left - 1);
      }
    }
    const matches = [...this.instances.values()].filter((i) => !unseen.has(i.id) && (ids.length === 0 || ids.includes(i.id)) && filters.every((f) => this.matchFilter(i, f.name, f.values)));
    const limit = Math.min(maxResults ?? Infinity, this.pageSize ?? Infinity);
    const page = matches.slice(offset, offset + limit);
    const next = offset + limit < matches.length ? this.newCursor(offset + limit, query) : undefined;
    const byReservation = new Map<string, FakeInstance[]>();
    for (const i of page) byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), i]);
    return response('DescribeInstances', requestId,
      set('reservationSet', [...byReservation].map(([rid, insts]) => [
        el('reservationId', rid), el('ownerId', this.ownerId), this.groupSet(this.reservations.get(rid)?.groups ?? []),
        set('instancesSet', insts.map((i) => this.instanceXml(i))),
      ])),
      opt('nextToken', next));
  }

  private matchFilter(i: FakeInstance, name: string, values: readonly string[]): boolean {
    const any = (v: string | undefined) => v !== undefined && values.some((pat) => glob(pat).test(v));
    if (name.startsWith('tag:')) return any(i.tags.get(name.slice(4)));
    switch (name) {
      case 'tag-key':
        return [...i.tags.keys()].some((k) => any(k));
      case 'instance-state-name':
        return any(i.state);
      case 'instance-state-code':
        return any(String(STATE_CODE[i.state]));
      case 'instance-type':
        return any(i.instanceType);
      case 'instance-id':
        return any(i.id);
      case 'availability-zone':
        return any(i.zone);
      case 'instance-lifecycle':
        return any(i.lifecycle);
      case 'client-token':
        return any(i.clientToken);
      case 'reservation-id':
        return any(i.reservationId);
      default:
        throw new Ec2FakeError('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
  }

  private cursor(token: string | undefined, query: string): number {
    if (token === undefined) return 0;
    const c = this.cursors.get(token);
    if (!c || c.query !== query) throw new Ec2FakeError('InvalidParameterValue', `Invalid value '${token}' for NextToken (unknown, or used with different parameters)`);
    return c.offset;
  }

  private newCursor(offset: number, query: string): string {
    const token = randomBytes(24).toString('base64url');
    this.cursors.set(token, { offset, query });
    return token;
  }

  // ---- TerminateInstances -----------------------------------------------------------------

  private terminateInstances(rec: RecordedRequest, requestId: string): string {
    const ids = q.strs(rec.tree, 'InstanceId');
    if (ids.length === 0) throw new Ec2FakeError('MissingParameter', 'The request must contain the parameter InstanceId');
    if (ids.length > this.maxTerminateBatch) {
      throw new Ec2FakeError('InvalidParameterValue', `You may not terminate more than ${this.maxTerminateBatch} instances in a single request (got ${ids.length})`);
    }
    const malformed = ids.filter((id) => !INSTANCE_ID.test(id));
    if (malformed.length) throw new Ec2FakeError('InvalidInstanceID.Malformed', `Invalid id: "${malformed[0]}"`);
    const unknown = ids.filter((id) => !this.instances.has(id));
    if (unknown.length === 1) throw new Ec2FakeError('InvalidInstanceID.NotFound', `The instance ID '${unknown[0]}' does not exist`);
    if (unknown.length > 1) throw new Ec2FakeError('InvalidInstanceID.NotFound', `The instance IDs '${unknown.join(', ')}' do not exist`);
    const items = [...new Set(ids)].map((id) => {
      const i = this.instances.get(id)!;
      const prev = i.state;
      if (LIVE.has(prev)) i.state = 'shutting-down';
      return [el('instanceId', id), el('currentState', el('code', STATE_CODE[i.state]), el('name', i.state)), el('previousState', el('code', STATE_CODE[prev]), el('name', prev))];
    });
    return response('TerminateInstances', requestId, set('instancesSet', items));
  }

  // ---- DescribeSpotPriceHistory -----------------------------------------------------------

  private describeSpotPriceHistory(rec: RecordedRequest, requestId: string): string {
    const { params: p, tree: t } = rec;
    const types = q.strs(t, 'InstanceType');
    const products = q.strs(t, 'ProductDescription');
    const az = p.AvailabilityZone;
    const start = p.StartTime !== undefined ? Date.parse(p.StartTime) : undefined;
    const end = p.EndTime !== undefined ? Date.parse(p.EndTime) : this.now();
    if (start !== undefined && Number.isNaN(start)) throw new Ec2FakeError('InvalidParameterValue', `Invalid StartTime '${p.StartTime}'`);
    const maxResults = p.MaxResults === undefined ? undefined : Number(p.MaxResults);
    if (maxResults !== undefined && (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 1000)) {
      throw new Ec2FakeError('InvalidParameterValue', `Invalid MaxResults ${p.MaxResults}`);
    }
    let rows = this.spotHistory.filter((h) => (types.length === 0 || types.includes(h.instanceType)) && (products.length === 0 || products.includes(h.productDescription)) && (!az || h.zone === az) && h.at <= end);
    if (start !== undefined) {
      // Changes inside the window, plus the price in effect at its start (the last change before it).
      const before = new Map<string, SpotPricePoint>();
      for (const h of rows) {
        if (h.at >= start) continue;
        const key = `${h.instanceType}|${h.zone}|${h.productDescription}`;
        const b = before.get(key);
        if (!b || h.at > b.at) before.set(key, h);
      }
      rows = [...rows.filter((h) => h.at >= start), ...before.values()];
    }
    rows.sort((a, b) => b.at - a.at || a.instanceType.localeCompare(b.instanceType) || a.zone.localeCompare(b.zone));
    const query = JSON.stringify({ types, products, az, start, maxResults });
    const offset = this.cursor(p.NextToken, query);
    const limit = Math.min(maxResults ?? Infinity, this.pageSize ?? Infinity);
    const page = rows.slice(offset, offset + limit);
    const next = offset + limit < rows.length ? this.newCursor(offset + limit, query) : undefined;
    return response('DescribeSpotPriceHistory', requestId,
      set('spotPriceHistorySet', page.map((h) => [
        el('instanceType', h.instanceType), el('productDescription', h.productDescription), el('spotPrice', h.price.toFixed(6)),
        el('timestamp', new Date(h.at).toISOString()), el('availabilityZone', h.zone),
      ])),
      // EC2 sends an empty nextToken on the last page.
      el('nextToken', next ?? ''));
  }
}

function intParam(p: QueryParams, name: string): number {
  const v = p[name];
  if (v === undefined) throw new Ec2FakeError('MissingParameter', `The request must contain the parameter ${name}`);
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Ec2FakeError('InvalidParameterValue', `Value (${v}) for parameter ${name} is invalid`);
  return n;
}

/** What makes two RunInstances "the same request" for ClientToken purposes: everything but the token. */
function fingerprintOf(p: QueryParams): string {
  const entries = Object.entries(p).filter(([k]) => k !== 'ClientToken' && k !== 'Action' && k !== 'Version').sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

export function startEc2Fake(opts: Ec2FakeOptions = {}): Promise<Ec2Fake> {
  return Ec2Fake.start(opts);
}
