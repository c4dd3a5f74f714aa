// The `gcp-compute` provider: Compute Engine VMs through @google-cloud/compute (REST transport).
//
// Idempotency: instance `i` of a launch gets a name and an insert requestId that are pure functions
// of (token, i). GCE returns the original operation for a repeated requestId (its dedup window is
// roughly an hour) and refuses a second instance with an existing name (409 alreadyExists), so a
// repeated launch, a retry after a lost reply, or a restart after a crash never creates a second
// machine; an existing instance with our labels is fetched and returned. An existing instance whose
// labels or type disagree with the request raises IdempotencyConflictError.
//
// Prices: on-demand from the pool's price book; spot from instanceTypes[].spotPrice when given.
// Live GCE spot prices need the Cloud Billing Catalog API and are out of scope here.
//
// Interruptions (optional in the contract) are not offered: spot VMs are created with instanceTerminationAction DELETE, so a
// preempted instance simply disappears from list(); the preemption notice itself is only visible
// from the VM's metadata server (the agent's side).
import { randomUUID } from 'node:crypto';
import type { protos } from '@google-cloud/compute';
import type { Instance, LaunchSpec, Price, Provider } from '../provider.ts';
import type { Pool } from '../pool-config.ts';
import { MANAGED_BY, TAGS, type ProviderContext } from '../context.ts';
import { IdempotencyConflictError, ProviderUnavailableError } from '../errors.ts';
import { GceClients, type GceApi } from './clients.ts';
import { instanceResource, planLaunch, poolLocation, type LaunchPlan, type Location } from './config.ts';
import { classifyOperationError, GceResourceError, KIND, toProviderError } from './gce-errors.ts';
import { capacityTypeOf, toInstance, type GceInstance } from './mapping.ts';
import { GCE_NAME, insertRequestId, instanceLabels, instanceName, labelValue, listFilter, urlTail } from './naming.ts';
import { forEachLimited } from './limited.ts';
import { realSleep, withRetry, type RetryPolicy } from './retry.ts';

type Operation = protos.google.cloud.compute.v1.IOperation;
type ListRequest = protos.google.cloud.compute.v1.IListInstancesRequest;

export interface GcpComputeProviderOptions {
  /** Backoff sleep and jitter source (tests make both instant/deterministic). */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Attempts per API call for 429 / 5xx / transport errors, including the first (default 5). */
  maxAttempts?: number;
  /** Backoff: full jitter over min(maxDelayMs, baseDelayMs · 2^(attempt-1)) (defaults 500 ms, 20 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Pause before re-waiting an operation that zoneOperations.wait returned not DONE (default 1 s). */
  operationPollMs?: number;
  /** Give up on an operation after this many wait calls (default 60; GCE's wait blocks ≤ 2 min). */
  maxOperationWaits?: number;
  /** Inserts / deletes in flight at once (default 8). */
  concurrency?: number;
  /** maxResults per instances.list page (default 500, GCE's maximum). */
  listPageSize?: number;
  /** Merged into every SDK client's options (e.g. a custom authClient). */
  clientOptions?: ConstructorParameters<typeof GceClients>[0];
}

type Outcome = { ok: true } | { ok: false; error: unknown };

/** Handles the rejection at once (no unhandled-rejection while other work is still running). */
const settle = (p: Promise<void>): Promise<Outcome> => p.then(() => ({ ok: true as const }), (error: unknown) => ({ ok: false as const, error }));

/** SDK call options: the SDK's own retries off — ours (jittered, injectable) are the only layer. */
const CALL = { retry: null };

export class GcpComputeProvider implements Provider {
  readonly kind = KIND;
  private readonly clients: GceClients;
  private readonly policy: RetryPolicy;
  private readonly pollMs: number;
  private readonly maxWaits: number;
  private readonly pageSize: number;
  private readonly concurrency: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly pools: ReadonlyMap<string, Pool>, private readonly ctx: ProviderContext, opts: GcpComputeProviderOptions = {}) {
    this.sleep = opts.sleep ?? realSleep;
    this.policy = {
      maxAttempts: Math.max(1, opts.maxAttempts ?? 5),
      baseDelayMs: opts.baseDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 20_000,
      sleep: this.sleep,
      random: opts.random ?? Math.random,
    };
    this.pollMs = opts.operationPollMs ?? 1000;
    this.maxWaits = opts.maxOperationWaits ?? 60;
    this.pageSize = Math.min(500, Math.max(1, opts.listPageSize ?? 500));
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.clients = new GceClients(opts.clientOptions);
  }

  async launch(poolName: string, count: number, spec: LaunchSpec): Promise<Instance[]> {
    const plan = planLaunch(this.pools, poolName, count, spec); // every check before any call
    const api = await this.clients.for(plan.location);
    const labels = instanceLabels(this.ctx.cluster, poolName, spec.token);
    const names = Array.from({ length: count }, (_, i) => instanceName(spec.token, i));
    this.ctx.log.info({ pool: poolName, count, launchToken: spec.token, instanceType: plan.type.name, capacityType: plan.capacityType }, 'gce launch');

    // Inserts (each retried under its own requestId) with bounded concurrency; their operations are
    // awaited together. After a failed insert nothing new starts, but what started is awaited.
    const done: Promise<Outcome>[] = [];
    const inserted = await forEachLimited(names, this.concurrency, async (name, i) => {
      const op = await this.insert(api, plan, name, insertRequestId(spec.token, i), labels);
      if (op) done.push(settle(this.awaitOperation(api, plan.location, op, `insert ${name}`).then((final) => this.checkInsert(final, name))));
    });
    const failed = (await Promise.all(done)).find((o) => !o.ok);
    if (failed && !failed.ok) throw failed.error;
    if (!inserted.ok) throw inserted.error;

    const found = await Promise.all(names.map((name) => this.get(api, plan.location, name)));
    const out: Instance[] = [];
    for (const [i, inst] of found.entries()) {
      if (!inst) {
        this.ctx.log.warn({ pool: poolName, instance: names[i] }, 'gce instance of this launch is already gone');
        continue;
      }
      this.checkSameLaunch(inst, plan, labels, spec.token);
      out.push(toInstance(inst, poolName, this.ctx.clock.now()));
    }
    return out;
  }

  async terminate(ids: readonly string[]): Promise<void> {
    // Ids that cannot be GCE instance names are unknown ids: nothing to do for them.
    const names = [...new Set(ids)].filter((id) => GCE_NAME.test(id));
    if (!names.length) return;
    const locations = this.locations();
    const done: Promise<Outcome>[] = [];
    const deleted = await forEachLimited(names, this.concurrency, async (id) => {
      for (const loc of locations) {
        const api = await this.clients.for(loc);
        const inst = await this.get(api, loc, id);
        if (!inst) continue;
        const l = inst.labels ?? {};
        if (l[TAGS.cluster] !== labelValue(this.ctx.cluster) || l[TAGS.managedBy] !== MANAGED_BY) {
          this.ctx.log.warn({ instance: id, zone: loc.zone }, 'gce instance is not managed by this cluster: not deleting it');
          return;
        }
        const op = await this.delete(api, loc, id);
        if (op) done.push(settle(this.awaitOperation(api, loc, op, `delete ${id}`).then((final) => this.checkDelete(final, id))));
        return;
      }
    });
    const failed = (await Promise.all(done)).find((o) => !o.ok);
    if (failed && !failed.ok) throw failed.error;
    if (!deleted.ok) throw deleted.error;
  }

  async list(poolName: string): Promise<Instance[]> {
    const { location } = poolLocation(this.pools, poolName);
    const api = await this.clients.for(location);
    const want = { cluster: labelValue(this.ctx.cluster), pool: labelValue(poolName) };
    const out: Instance[] = [];
    const seenTokens = new Set<string>();
    let request: ListRequest | null = { project: location.project, zone: location.zone, filter: listFilter(this.ctx.cluster, poolName), maxResults: this.pageSize };
    while (request) {
      const req: ListRequest = request;
      const [items, next] = await withRetry(`instances.list ${location.zone}`, () => api.instances.list(req, { ...CALL, autoPaginate: false }), this.policy, this.ctx.log);
      for (const i of items) {
        // The filter already did this; checked again so another cluster's machine can never leak in.
        if (i.labels?.[TAGS.cluster] === want.cluster && i.labels?.[TAGS.pool] === want.pool) out.push(toInstance(i, poolName, this.ctx.clock.now()));
      }
      const token = next?.pageToken ?? '';
      if (next && (!token || seenTokens.has(token))) throw new ProviderUnavailableError(`instances.list returned page token '${token}' twice`, KIND);
      seenTokens.add(token);
      request = next;
    }
    return out;
  }

  async prices(poolName: string): Promise<Price[]> {
    const { pool, location } = poolLocation(this.pools, poolName);
    return pool.instanceTypes.flatMap((t) => [
      ...(t.price !== undefined ? [{ instanceType: t.name, zone: location.zone, capacityType: 'on-demand' as const, hourly: t.price }] : []),
      ...(t.spotPrice !== undefined ? [{ instanceType: t.name, zone: location.zone, capacityType: 'spot' as const, hourly: t.spotPrice }] : []),
    ]);
  }

  /** Closes the SDK clients (keep-alive sockets). */
  close(): Promise<void> {
    return this.clients.close();
  }

  // ---- calls ----

  /** instances.insert; undefined when the instance already exists (nothing to wait for). */
  private async insert(api: GceApi, plan: LaunchPlan, name: string, requestId: string, labels: Record<string, string>): Promise<Operation | undefined> {
    const { project, zone } = plan.location;
    const body = instanceResource(plan, name, labels);
    try {
      const [lro] = await withRetry(`instances.insert ${name}`, () => api.instances.insert({ project, zone, requestId, instanceResource: body }, CALL), this.policy, this.ctx.log);
      return lro.latestResponse as Operation;
    } catch (e) {
      if (e instanceof GceResourceError && e.cls === 'already-exists') return undefined;
      throw e;
    }
  }

  /** instances.delete with one requestId across retries; undefined when already gone. */
  private async delete(api: GceApi, loc: Location, name: string): Promise<Operation | undefined> {
    const requestId = randomUUID();
    try {
      const [lro] = await withRetry(`instances.delete ${name}`, () => api.instances.delete({ project: loc.project, zone: loc.zone, instance: name, requestId }, CALL), this.policy, this.ctx.log);
      return lro.latestResponse as Operation;
    } catch (e) {
      if (e instanceof GceResourceError && e.cls === 'not-found') return undefined;
      throw e;
    }
  }

  private async get(api: GceApi, loc: Location, name: string): Promise<GceInstance | undefined> {
    try {
      const [inst] = await withRetry(`instances.get ${name}`, () => api.instances.get({ project: loc.project, zone: loc.zone, instance: name }, CALL), this.policy, this.ctx.log);
      return inst;
    } catch (e) {
      if (e instanceof GceResourceError && e.cls === 'not-found') return undefined;
      throw e;
    }
  }

  /**
   * zoneOperations.wait until DONE. GCE's wait returns after at most ~2 minutes even when the
   * operation is still running, so this loops (pausing operationPollMs between replies).
   * Undefined when the operation itself is not found any more (expired): the caller then looks
   * at the instance instead.
   */
  private async awaitOperation(api: GceApi, loc: Location, op: Operation, what: string): Promise<Operation | undefined> {
    let current = op;
    for (let waits = 0; String(current.status) !== 'DONE'; waits++) {
      if (waits >= this.maxWaits) throw new ProviderUnavailableError(`${what}: operation ${current.name} not DONE after ${waits} waits (status ${String(current.status)})`, KIND);
      if (!current.name) throw new ProviderUnavailableError(`${what}: GCE returned an operation without a name`, KIND);
      if (waits > 0) await this.sleep(this.pollMs);
      const operation = current.name;
      const zone = urlTail(current.zone) || loc.zone;
      try {
        [current] = await withRetry(`zoneOperations.wait ${operation}`, () => api.operations.wait({ project: loc.project, zone, operation }, CALL), this.policy, this.ctx.log);
      } catch (e) {
        if (e instanceof GceResourceError && e.cls === 'not-found') return undefined;
        throw e;
      }
    }
    return current;
  }

  private checkInsert(op: Operation | undefined, name: string): void {
    const c = op && classifyOperationError(op);
    if (!c || c.cls === 'already-exists') return;
    throw toProviderError(c, `insert ${name}`);
  }

  private checkDelete(op: Operation | undefined, name: string): void {
    const c = op && classifyOperationError(op);
    if (!c || c.cls === 'not-found') return;
    throw toProviderError(c, `delete ${name}`);
  }

  /** An instance found under this launch's name must be this launch's instance. */
  private checkSameLaunch(inst: GceInstance, plan: LaunchPlan, labels: Record<string, string>, token: string): void {
    const l = inst.labels ?? {};
    const mismatch: string[] = [];
    for (const key of [TAGS.cluster, TAGS.pool, TAGS.token]) if (l[key] !== labels[key]) mismatch.push(`${key}=${l[key] ?? '(none)'}`);
    const type = urlTail(inst.machineType);
    if (type !== plan.type.name) mismatch.push(`machine type ${type}`);
    const capacity = capacityTypeOf(inst);
    if (capacity !== plan.capacityType) mismatch.push(`capacity ${capacity}`);
    if (mismatch.length) {
      throw new IdempotencyConflictError(`launch token '${token}' already names instance ${inst.name} with different parameters (${mismatch.join(', ')})`, KIND);
    }
  }

  /** Distinct GCE locations of this provider's pools (terminate gets bare instance names). */
  private locations(): Location[] {
    const byKey = new Map<string, Location>();
    for (const name of this.pools.keys()) {
      const { location } = poolLocation(this.pools, name);
      byKey.set(JSON.stringify([location.project, location.zone, location.endpoint ?? null, location.insecure]), location);
    }
    return [...byKey.values()];
  }
}

/** Builds the provider for the gcp-compute pools among `pools` (a map by name or a list). */
export function createGcpComputeProvider(pools: ReadonlyMap<string, Pool> | readonly Pool[], ctx: ProviderContext, opts: GcpComputeProviderOptions = {}): GcpComputeProvider {
  const list = Array.isArray(pools) ? pools as readonly Pool[] : [...(pools as ReadonlyMap<string, Pool>).values()];
  return new GcpComputeProvider(new Map(list.filter((p) => p.provider === KIND).map((p) => [p.name, p])), ctx, opts);
}
