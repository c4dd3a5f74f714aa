// The autoscaler's BullMQ workers. Any master replica runs them (they need only Redis, the policy
// in Redis and the leader's HTTP API), so standbys do useful work. Each handler is idempotent: it
// reads the durable record first and does only what is still to do, and provider calls are
// idempotent (launch under a token = the job id), so a retry — or a crash of the process that ran
// the job, after which BullMQ hands the stalled job to another worker — never launches twice.
//
//   launch      provider.launch(pool, count, {token: job id}) → instance records → boot checks; every
//               instance but owned static machines gets its own join token and user-data from the
//               leader (src/bootstrap/bootstrap-launch.ts), so rented VMs bootstrap and join alone;
//               a launch that fails partway records the instances it did start (they are usable)
//   boot-check  agent registered → running; else terminate, back the pool/type off (a deactivated
//               agent — maybe the stale listing of a re-powered machine's agent — is left to the
//               reconciler, which sees whether it is connected and whether to reactivate it)
//   drain       DRAIN_AGENT (grace from the policy), wait for DRAINED (or the agent gone) → release
//   release     terminate (static pools: power off, or only mark released when drain-only)
//
// Typed provider errors that no retry can fix (capacity, quota, auth, config, idempotency
// conflicts) become UnrecoverableError: the launch fails at once, the pool backs off, and the
// planner chooses again at the next evaluation. Other errors are retried with backoff.
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { IdempotencyConflictError, isCapacityError, isConfigError, ProviderError } from '../../providers/errors.ts';
import { DecisionLog } from './decision-log.ts';
import { LeaderClient, LeaderError } from './leader-client.ts';
import { autoscalerMetrics, type AutoscalerMetrics } from './metrics.ts';
import type { PolicyProviders } from './providers.ts';
import { AutoscalerQueues, QUEUE, bullPrefix, type DrainJobData, type ProvisionJobData, type ReleaseJobData } from './queues.ts';
import { agentFor } from './reconcile.ts';
import { AutoscalerRecords, drainedAgentOf, LIVE_STATES, type InstanceRecord, type LaunchRecord } from './records.ts';
import { httpBootstrapPort, launchBootstrapped, PartialLaunchError } from '../bootstrap/bootstrap-launch.ts';
import type { Instance } from '../../providers/provider.ts';

export interface WorkerPoolDeps {
  redis: Redis;
  cluster: string;
  clock: Clock;
  /** The leader's base URL (asked for on every call). */
  leaderUrl: () => string;
  providers: PolicyProviders;
  log: Logger;
  metrics: Registry;
  concurrency?: { provision?: number; drain?: number; release?: number };
  /** BullMQ lock: a job whose worker died is handed on after about this long. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often a drain job asks whether the agent is DRAINED. */
  drainPollMs?: number;
  /** How long after the grace period a drain may take before it is retried. */
  drainSlackMs?: number;
  queues?: AutoscalerQueues;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class WorkerPool {
  private workers: Worker[] = [];
  private readonly records: AutoscalerRecords;
  private readonly decisions: DecisionLog;
  private readonly leader: LeaderClient;
  private readonly queues: AutoscalerQueues;
  private readonly ownQueues: boolean;
  private readonly m: AutoscalerMetrics;
  private stopping = false;

  constructor(private readonly deps: WorkerPoolDeps) {
    this.records = new AutoscalerRecords(deps.redis, deps.cluster);
    this.decisions = new DecisionLog(deps.redis, deps.cluster);
    this.leader = new LeaderClient(deps.leaderUrl);
    this.ownQueues = !deps.queues;
    this.queues = deps.queues ?? new AutoscalerQueues(deps.redis, deps.cluster);
    this.m = autoscalerMetrics(deps.metrics);
  }

  start(): void {
    if (this.workers.length) return;
    this.stopping = false;
    const c = this.deps.concurrency ?? {};
    const common = {
      connection: this.deps.redis, prefix: bullPrefix(this.deps.cluster),
      lockDuration: this.deps.lockDurationMs ?? 30_000, stalledInterval: this.deps.stalledIntervalMs ?? 30_000,
    };
    this.workers = [
      new Worker<ProvisionJobData>(QUEUE.provision, (job) => this.provision(job), { ...common, concurrency: c.provision ?? 4 }),
      new Worker<DrainJobData>(QUEUE.drain, (job) => this.drain(job), { ...common, concurrency: c.drain ?? 8 }),
      new Worker<ReleaseJobData>(QUEUE.release, (job) => this.release(job), { ...common, concurrency: c.release ?? 4 }),
    ];
    for (const w of this.workers) {
      w.on('failed', (job, err) => this.deps.log.warn({ queue: w.name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'autoscaler job failed'));
      w.on('error', (err) => { if (!this.stopping) this.deps.log.warn({ queue: w.name, err: err.message }, 'autoscaler worker problem'); });
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.close()));
    if (this.ownQueues) await this.queues.close();
  }

  // ---- provision ------------------------------------------------------------------------------------

  private provision(job: Job<ProvisionJobData>): Promise<unknown> {
    return job.data.kind === 'launch' ? this.launch(job, job.data.launchId) : this.bootCheck(job.data.instanceId, job.data.launchedAt);
  }

  private async launch(job: Job<ProvisionJobData>, launchId: string): Promise<string> {
    const rec = await this.records.launch(launchId);
    if (!rec) return 'no launch record (already pruned)';
    if (rec.state === 'failed') return 'launch already failed';
    const cur = await this.deps.providers.current();
    const pool = cur?.policy.policy.pools.find((p) => p.name === rec.pool);
    if (rec.state === 'launched') {
      // A retry after the records were written: make sure the boot checks are queued.
      for (const id of rec.instanceIds ?? []) {
        const r = await this.records.instance(id);
        if (r) await this.queues.addBootCheck(r, (pool?.bootTimeoutSeconds ?? 600) * 1000);
      }
      return 'already launched';
    }
    if (!cur || !pool) {
      await this.failLaunch(rec, `pool ${rec.pool} is not in the policy in force any more`, undefined);
      throw new UnrecoverableError(`pool ${rec.pool} is not in the policy in force`);
    }
    const provider = cur.providers.forPool(rec.pool);
    let instances;
    try {
      const spec = {
        token: rec.jobId, instanceType: rec.instanceType,
        ...(rec.capacityType === 'spot' || rec.capacityType === 'on-demand' ? { capacityType: rec.capacityType } : {}),
      };
      instances = pool.provider === 'static'
        ? await provider.launch(rec.pool, rec.count, spec)
        : await launchBootstrapped(provider, pool, rec.count, spec, httpBootstrapPort(this.deps.leaderUrl()));
    } catch (e) {
      // Failed partway: the instances started before the failure are recorded with the failure.
      // A retry would get them back under the same tokens, so they are recorded only on giving up.
      const partial = e instanceof PartialLaunchError ? e : undefined;
      const cause = partial ? partial.cause : e;
      const fatal = isCapacityError(cause) || isConfigError(cause) || cause instanceof IdempotencyConflictError;
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (fatal || last) {
        await this.failLaunch(rec, (cause as Error).message, cause, { instances: partial?.launched ?? [], bootTimeoutSeconds: pool.bootTimeoutSeconds });
        if (fatal) throw new UnrecoverableError((e as Error).message);
      }
      throw e;
    }
    const now = this.deps.clock.now();
    await this.recordStarted(rec, instances, { ...rec, state: 'launched', instanceIds: instances.map((i) => i.id), updatedAt: now }, pool.bootTimeoutSeconds, now);
    this.deps.log.info({ pool: rec.pool, jobId: rec.jobId, instances: instances.map((i) => i.id) }, 'instances launched');
    await this.decisions.append({
      kind: 'launch', at: now, summary: `launched ${instances.length} × ${rec.instanceType} in pool ${rec.pool}: ${instances.map((i) => i.id).join(', ')}`,
      actions: [{ type: rec.kind, pool: rec.pool, instanceType: rec.instanceType, count: instances.length, jobId: rec.jobId, reason: rec.reason }], notes: [],
    });
    return `launched ${instances.map((i) => i.id).join(', ')}`;
  }

  /**
   * Records started instances as booting, with their launch record in the same step, and queues
   * their boot checks. A live record of the same id (a retry that got the same instance back) keeps
   * its state; a finished one is a past lifetime (a static machine powered on again): replaced,
   * handing on which agent the autoscaler drained in it.
   */
  private async recordStarted(rec: LaunchRecord, instances: readonly Instance[], launch: LaunchRecord, bootTimeoutSeconds: number, now: number): Promise<void> {
    const known = new Map((await this.records.instances()).map((r) => [r.instanceId, r]));
    const list: InstanceRecord[] = instances.filter((i) => !(known.has(i.id) && LIVE_STATES.has(known.get(i.id)!.state))).map((i) => {
      const prior = known.get(i.id);
      const drained = rec.kind === 'power-on' ? drainedAgentOf(prior) : undefined;
      return {
        instanceId: i.id, pool: rec.pool, instanceType: i.instanceType || rec.instanceType, ownership: rec.ownership,
        capacityType: rec.capacityType, unitPrice: rec.unitPrice, jobId: rec.jobId, state: 'booting', launchedAt: i.launchedAt || now, updatedAt: now,
        ...(i.privateAddress ? { privateAddress: i.privateAddress } : {}),
        ...(rec.kind === 'power-on' ? { kind: 'power-on' as const } : {}), ...(drained ? { drainedAgentId: drained } : {}),
        ...(rec.kind === 'power-on' && !prior ? { priorUnknown: true as const } : {}),
      };
    });
    await this.records.putInstances(list, launch);
    if (instances.length) this.m.launches.inc({ pool: rec.pool }, instances.length);
    for (const r of list) await this.queues.addBootCheck(r, bootTimeoutSeconds * 1000 - Math.max(0, now - r.launchedAt));
  }

  private async failLaunch(rec: LaunchRecord, why: string, e: unknown, started?: { instances: readonly Instance[]; bootTimeoutSeconds: number }): Promise<void> {
    const now = this.deps.clock.now();
    const ids = (started?.instances ?? []).map((i) => i.id);
    const error = ids.length ? `${ids.length} of ${rec.count} instance(s) started, then: ${why}` : why;
    await this.recordStarted(rec, started?.instances ?? [], { ...rec, state: 'failed', error, ...(ids.length ? { instanceIds: ids } : {}), updatedAt: now }, started?.bootTimeoutSeconds ?? 0, now);
    const code = e instanceof ProviderError ? (e.code ?? e.name) : 'error';
    const b = await this.records.backOff(rec.pool, rec.instanceType, code, now);
    this.m.launchFailures.inc({ pool: rec.pool, reason: e instanceof ProviderError ? e.kind : 'other' });
    this.deps.log.warn({ pool: rec.pool, jobId: rec.jobId, err: why }, 'launch failed; the pool type backs off');
    await this.decisions.append({
      kind: 'launch-failed', at: now, summary: `launch of ${rec.count} × ${rec.instanceType} in pool ${rec.pool} failed: ${error}`,
      actions: [], notes: [
        `pool ${rec.pool} type ${rec.instanceType} backs off until ${new Date(b.until).toISOString()} (${b.failures} failure(s) in a row)`,
        ...(ids.length ? [`${ids.join(', ')} started before the failure: recorded as booting, released like any other instance`] : []),
      ],
    });
  }

  private async bootCheck(instanceId: string, launchedAt: number | undefined): Promise<string> {
    const rec = await this.records.instance(instanceId);
    // A check queued for an earlier lifetime of the id (a static machine powered on again) is moot.
    if (rec && launchedAt !== undefined && rec.launchedAt !== launchedAt) return `instance ${instanceId} was launched again since`;
    if (!rec || rec.state !== 'booting') return `instance ${instanceId} is ${rec?.state ?? 'unknown'}`;
    // Matched as the reconciler does: the `instance` attribute, else the address (static machines).
    const agents = (await this.leader.agents()).map((a) => ({ ...a, instanceId: a.attributes.instance, pool: a.attributes.pool }));
    const agent = agentFor({ id: instanceId, ...(rec.privateAddress ? { privateAddress: rec.privateAddress } : {}) }, agents);
    const now = this.deps.clock.now();
    if (agent?.active) {
      await this.records.updateInstance(instanceId, (r) => (r.state === 'booting' ? { ...r, state: 'running', agentId: agent.id, registeredAt: now, updatedAt: now } : undefined));
      return `agent ${agent.id} registered`;
    }
    // Deactivated: the agent of a re-powered machine comes back drained, but the listing of its agent
    // from before the power-off is drained too, and GET_AGENTS does not say which is connected.
    if (agent?.deactivated) return `agent ${agent.id} is deactivated: left to the reconciler`;
    await this.bootTimedOut(rec, now);
    return 'terminated: no agent in time';
  }

  /** Shared with the reconciler's finding of the same name. */
  async bootTimedOut(rec: InstanceRecord, now: number): Promise<void> {
    const cur = await this.deps.providers.current();
    const pool = cur?.policy.policy.pools.find((p) => p.name === rec.pool);
    if (cur && pool) await cur.providers.forPool(rec.pool).terminate([rec.instanceId]);
    const reason = `instance ${rec.instanceId} (pool ${rec.pool}, ${rec.instanceType}) registered no agent within its boot timeout of ${pool?.bootTimeoutSeconds ?? '?'} s`;
    const next = await this.records.updateInstance(rec.instanceId, (r) => (r.state === 'booting' ? { ...r, state: 'failed', reason, updatedAt: now } : undefined));
    if (!next) return; // someone else (the reconciler) got there first
    const b = await this.records.backOff(rec.pool, rec.instanceType, 'boot timeout: no agent registered', now);
    this.m.bootTimeouts.inc({ pool: rec.pool });
    this.deps.log.warn({ pool: rec.pool, instance: rec.instanceId }, 'boot timeout: instance terminated');
    await this.decisions.append({
      kind: 'boot-timeout', at: now, summary: `${reason}: terminated`,
      actions: [{ type: 'terminate', pool: rec.pool, instanceType: rec.instanceType, instanceId: rec.instanceId, reason }],
      notes: [`pool ${rec.pool} type ${rec.instanceType} backs off until ${new Date(b.until).toISOString()}`],
    });
  }

  // ---- drain -----------------------------------------------------------------------------------------

  private async drain(job: Job<DrainJobData>): Promise<string> {
    const d = job.data;
    const now = this.deps.clock.now();
    if (d.instanceId) {
      await this.records.updateInstance(d.instanceId, (r) => (['booting', 'running'].includes(r.state) || (r.state === 'draining' && !r.drainStartedAt)
        ? { ...r, state: 'draining', drainStartedAt: now, updatedAt: now } : undefined));
    }
    const find = async () => (await this.leader.agents()).find((a) => a.id === d.agentId);
    try {
      await this.leader.drain(d.agentId, d.graceSeconds, d.markGone);
    } catch (e) {
      // Already draining (a retry), or already gone: both mean "go on".
      const a = e instanceof LeaderError ? await find() : undefined;
      if (!(e instanceof LeaderError) || (a && !a.drainState)) throw e;
    }
    this.m.drains.inc({ pool: d.pool, why: d.urgent ? 'interruption' : 'scale-down' });
    const deadline = Date.now() + d.graceSeconds * 1000 + (this.deps.drainSlackMs ?? 120_000);
    for (;;) {
      const a = await find();
      if (!a || a.drainState === 'DRAINED') break;
      if (Date.now() > deadline) throw new Error(`agent ${d.agentId} is still ${a.drainState ?? 'not draining'} after the grace period`);
      if (this.stopping) throw new Error('worker stopping');
      await sleep(this.deps.drainPollMs ?? 1_000);
    }
    this.deps.log.info({ agentId: d.agentId, instance: d.instanceId }, 'agent drained');
    if (d.instanceId) await this.queues.addRelease({ instanceId: d.instanceId, pool: d.pool, agentId: d.agentId, reason: d.reason, ...(d.launchedAt !== undefined ? { launchedAt: d.launchedAt } : {}) });
    await this.decisions.append({
      kind: 'drain', at: this.deps.clock.now(), summary: `agent ${d.agentId} drained${d.instanceId ? `; releasing instance ${d.instanceId}` : ''}`,
      actions: [{ type: 'drain', agentId: d.agentId, ...(d.instanceId ? { instanceId: d.instanceId } : {}), pool: d.pool, reason: d.reason }], notes: [],
    });
    return 'drained';
  }

  // ---- release -----------------------------------------------------------------------------------------

  private async release(job: Job<ReleaseJobData>): Promise<string> {
    const r = job.data;
    const rec = await this.records.instance(r.instanceId);
    // Only what the autoscaler launched or adopted is its to terminate: an agent that merely names
    // an instance (a spot notice for a machine started by hand) is drained, not released.
    if (!rec) {
      this.deps.log.warn({ pool: r.pool, instance: r.instanceId, agentId: r.agentId }, 'not releasing an instance the autoscaler has no record of (it did not launch or adopt it)');
      return `no record of instance ${r.instanceId}: not released`;
    }
    if (['released', 'failed', 'vanished'].includes(rec.state)) return `already ${rec.state}`;
    const cur = await this.deps.providers.current();
    const pool = cur?.policy.policy.pools.find((p) => p.name === r.pool);
    if (!cur || !pool) throw new UnrecoverableError(`pool ${r.pool} is not in the policy in force: release instance ${r.instanceId} by hand`);
    await cur.providers.forPool(r.pool).terminate([r.instanceId]);
    const now = this.deps.clock.now();
    await this.records.updateInstance(r.instanceId, (x) => ({ ...x, state: 'released', releasedAt: now, updatedAt: now }));
    await this.records.dropNotice(r.instanceId);
    this.m.releases.inc({ pool: r.pool });
    const how = pool.provider === 'static' ? (pool.static?.onRelease === 'drain-only' ? 'kept on, marked released (drain-only)' : 'powered off') : 'terminated';
    this.deps.log.info({ pool: r.pool, instance: r.instanceId }, `instance released (${how})`);
    await this.decisions.append({
      kind: 'release', at: now, summary: `instance ${r.instanceId} of pool ${r.pool} ${how}`,
      actions: [{ type: 'release', pool: r.pool, instanceId: r.instanceId, ...(r.agentId ? { agentId: r.agentId } : {}), reason: r.reason }], notes: [],
    });
    return how;
  }
}
