// The aws-ec2 provider: one object serves every aws-ec2 pool of a cluster (like the other
// providers), with one EC2 client per region/endpoint/credentials shared by the pools using it.
//
//   launch     RunInstances, ClientToken from the launch token (same token → same instances)
//   terminate  TerminateInstances, ≤ 1000 ids a call, unknown / already gone ids are fine
//   list       DescribeInstances by tag:spillway-cluster + tag:spillway-pool, every page
//   prices     on-demand from the pool's price book, spot from DescribeSpotPriceHistory
//
// Every method checks configuration and input before calling EC2 (InvalidConfigError), and maps
// EC2 errors to the typed ones in ../errors.ts after the SDK's retries (retry.ts).
import { RunInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { Instance, LaunchSpec, Price, Provider } from '../provider.ts';
import type { Pool } from '../pool-config.ts';
import type { ProviderContext } from '../context.ts';
import { IdempotencyConflictError, InvalidConfigError } from '../errors.ts';
import { KIND, mapEc2Error, type CallContext } from './errors.ts';
import { checkLaunch, checkPool, type AwsSection } from './config.ts';
import { checkCredentials, createEc2Client, targetOf, type ClientOptions, type Ec2Target } from './client.ts';
import { encodeUserData } from './user-data.ts';
import { runInstancesInput } from './launch.ts';
import { backoffMs, sleeperOf } from './retry.ts';
import { toInstance } from './instance.ts';
import { describePoolInstances } from './list.ts';
import { terminateIds } from './terminate.ts';
import { priceBook, spotPrices } from './prices.ts';

/** Listings of a token's instances before its conflict stands (eventual consistency). */
const TOKEN_LOOKUPS = 3;

export interface AwsEc2ProviderOptions extends ClientOptions {
  /** MaxResults for DescribeInstances / DescribeSpotPriceHistory pages (5…1000, default 500). */
  readonly pageSize?: number;
}

export interface ListOptions {
  /** Also return terminated instances (EC2 shows them for about an hour). */
  readonly includeTerminated?: boolean;
}

interface Resolved {
  readonly pool: Pool;
  readonly aws: AwsSection;
  readonly target: Ec2Target;
}

interface ClientEntry {
  readonly client: EC2Client;
  readonly target: Ec2Target;
  credentialsChecked: boolean;
}

export type PoolsInput = Pool | readonly Pool[] | ReadonlyMap<string, Pool>;

export class AwsEc2Provider implements Provider {
  readonly kind = KIND;
  private readonly pools = new Map<string, Pool>();
  private readonly clients = new Map<string, ClientEntry>();
  /** Which target an instance lives in, as learnt from launch and list (terminate uses it). */
  private readonly instanceTarget = new Map<string, string>();

  /**
   * `pools`: one pool, a list of pools or a name → pool map (as ProviderSet passes). Pools are
   * checked when first used, so one broken pool does not take the others down; a pool whose config
   * is wrong fails each call with InvalidConfigError.
   */
  constructor(pools: PoolsInput, private readonly ctx: ProviderContext, private readonly opts: AwsEc2ProviderOptions = {}) {
    const list: readonly Pool[] = isPoolMap(pools) ? [...pools.values()] : Array.isArray(pools) ? pools : [pools as Pool];
    for (const p of list) {
      if (this.pools.has(p.name)) throw new InvalidConfigError(`aws-ec2: pool '${p.name}' is given twice`, KIND, 'DuplicatePool');
      this.pools.set(p.name, p);
    }
  }

  async launch(poolName: string, count: number, spec: LaunchSpec): Promise<Instance[]> {
    const { pool, aws, target } = this.resolve(poolName);
    const { capacityType } = checkLaunch(pool, aws, count, spec);
    const userDataBase64 = encodeUserData(spec.userData, `aws-ec2 pool '${pool.name}' (${spec.instanceType})`);
    const input = runInstancesInput({ cluster: this.ctx.cluster, pool, aws, count, spec, capacityType, userDataBase64 });
    const client = await this.client(target);
    const call: CallContext = { op: 'RunInstances', pools: [pool.name], instanceType: spec.instanceType, count };
    let out;
    try {
      out = await client.send(new RunInstancesCommand(input));
    } catch (e) {
      const error = this.fail(e, call);
      if (error instanceof IdempotencyConflictError) return this.alreadyLaunched(pool, target, count, spec.token, error);
      throw error;
    }
    const instances = (out.Instances ?? []).map((i) => toInstance(i, pool.name));
    for (const i of instances) this.instanceTarget.set(i.id, target.key);
    this.ctx.log.info(
      { provider: KIND, pool: pool.name, instanceType: spec.instanceType, capacityType, count, ids: instances.map((i) => i.id), attempts: out.$metadata.attempts },
      'aws-ec2 launch',
    );
    return instances;
  }

  /**
   * EC2 refused the token because this request differs from the one that first used it — e.g. a
   * retry after an upgrade changed RunInstances' parameters, or a pool edited in between. The
   * instances that first request started carry the token in a tag: when they are as many as asked
   * for, they are this launch (returning them keeps the retry idempotent and nothing unrecorded
   * runs); otherwise the conflict stands, naming them.
   */
  private async alreadyLaunched(pool: Pool, target: Ec2Target, count: number, token: string, conflict: IdempotencyConflictError): Promise<Instance[]> {
    const client = await this.client(target);
    let instances: Instance[] = [];
    // DescribeInstances is eventually consistent: instances just launched may not be listed yet.
    for (let attempt = 0; attempt < TOKEN_LOOKUPS; attempt++) {
      if (attempt > 0) await sleeperOf(this.opts.retry)(backoffMs(attempt, this.opts.retry));
      try {
        instances = (await describePoolInstances(client, { cluster: this.ctx.cluster, pool: pool.name, token, pageSize: this.opts.pageSize })).map((i) => toInstance(i, pool.name));
      } catch {
        throw conflict;
      }
      if (instances.length >= count) break;
    }
    if (instances.length !== count) {
      if (instances.length === 0) throw conflict;
      throw new IdempotencyConflictError(`${conflict.message} (the token's first launch started ${instances.map((i) => i.id).join(', ')}; ${count} asked for now)`, KIND, conflict.code);
    }
    for (const i of instances) this.instanceTarget.set(i.id, target.key);
    this.ctx.log.warn(
      { provider: KIND, pool: pool.name, ids: instances.map((i) => i.id), code: conflict.code },
      'aws-ec2 launch: the token was first used with other parameters; returning the instances that launch started',
    );
    return instances;
  }

  async terminate(ids: readonly string[]): Promise<void> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return;
    const targets = this.validTargets();
    if (targets.size === 0) {
      throw new InvalidConfigError(`aws-ec2: cannot terminate ${wanted.length} instance(s): no usable aws-ec2 pool is configured`, KIND, 'NoPools');
    }
    // Ids seen in launch/list go to the target they live in; others are tried in each target in
    // turn, each passing on what it did not know (usually there is just one target).
    const byTarget = new Map<string, string[]>([...targets.keys()].map((k) => [k, []]));
    let unplaced: string[] = [];
    for (const id of wanted) {
      const k = this.instanceTarget.get(id);
      if (k && byTarget.has(k)) byTarget.get(k)!.push(id);
      else unplaced.push(id);
    }
    for (const [key, { target, pools }] of targets) {
      const batch = [...byTarget.get(key)!, ...unplaced];
      if (batch.length === 0) continue;
      const client = await this.client(target);
      let result;
      try {
        result = await terminateIds(client, batch);
      } catch (e) {
        throw this.fail(e, { op: `TerminateInstances (${batch.length} instance(s))`, pools });
      }
      for (const id of result.terminated) this.instanceTarget.delete(id);
      unplaced = result.unknown;
      this.ctx.log.info({ provider: KIND, pools, terminated: result.terminated.length, unknown: result.unknown.length }, 'aws-ec2 terminate');
    }
    if (unplaced.length > 0) this.ctx.log.debug({ provider: KIND, ids: unplaced }, 'aws-ec2 terminate: ids unknown to EC2 (already gone?)');
  }

  async list(poolName: string, opts: ListOptions = {}): Promise<Instance[]> {
    const { pool, target } = this.resolve(poolName);
    const client = await this.client(target);
    let raw;
    try {
      raw = await describePoolInstances(client, { cluster: this.ctx.cluster, pool: pool.name, includeTerminated: opts.includeTerminated, pageSize: this.opts.pageSize });
    } catch (e) {
      throw this.fail(e, { op: 'DescribeInstances', pools: [pool.name] });
    }
    const instances = raw.map((i) => toInstance(i, pool.name));
    for (const i of instances) this.instanceTarget.set(i.id, target.key);
    return instances;
  }

  async prices(poolName: string): Promise<Price[]> {
    const { pool, aws, target } = this.resolve(poolName);
    const client = await this.client(target);
    let spot: Price[];
    try {
      spot = await spotPrices(client, { instanceTypes: pool.instanceTypes.map((t) => t.name), now: this.ctx.clock.now(), pageSize: this.opts.pageSize });
    } catch (e) {
      throw this.fail(e, { op: 'DescribeSpotPriceHistory', pools: [pool.name] });
    }
    return [...priceBook(pool, aws.region, new Set(spot.map((p) => p.instanceType))), ...spot];
  }

  /** Closes the SDK clients (their keep-alive sockets). */
  close(): void {
    for (const c of this.clients.values()) c.client.destroy();
    this.clients.clear();
  }

  private resolve(poolName: string): Resolved {
    const pool = this.pools.get(poolName);
    if (!pool) {
      throw new InvalidConfigError(`aws-ec2: no pool named '${poolName}' (known: ${[...this.pools.keys()].join(', ') || 'none'})`, KIND, 'UnknownPool');
    }
    const aws = checkPool(pool);
    return { pool, aws, target: targetOf(aws) };
  }

  private validTargets(): Map<string, { target: Ec2Target; pools: string[] }> {
    const out = new Map<string, { target: Ec2Target; pools: string[] }>();
    for (const name of this.pools.keys()) {
      let r: Resolved;
      try {
        r = this.resolve(name);
      } catch {
        continue;
      }
      const e = out.get(r.target.key) ?? { target: r.target, pools: [] };
      e.pools.push(name);
      out.set(r.target.key, e);
    }
    return out;
  }

  private async client(target: Ec2Target): Promise<EC2Client> {
    let entry = this.clients.get(target.key);
    if (!entry) {
      entry = { client: createEc2Client(target, this.opts), target, credentialsChecked: false };
      this.clients.set(target.key, entry);
    }
    if (!entry.credentialsChecked) {
      const pools = [...this.pools.values()].filter((p) => p.aws && targetOf(p.aws).key === target.key);
      await checkCredentials(entry.client, target, pools);
      entry.credentialsChecked = true;
    }
    return entry.client;
  }

  private fail(e: unknown, call: CallContext): Error {
    const err = mapEc2Error(e, call);
    this.ctx.log.warn({ provider: KIND, pools: call.pools, op: call.op, kind: err.kind, code: err.code }, err.message);
    return err;
  }
}

function isPoolMap(p: PoolsInput): p is ReadonlyMap<string, Pool> {
  return p instanceof Map;
}

export function createAwsEc2Provider(pools: PoolsInput, ctx: ProviderContext, opts: AwsEc2ProviderOptions = {}): AwsEc2Provider {
  return new AwsEc2Provider(pools, ctx, opts);
}
