// The autoscaler's durable state in Redis, under the cluster's hash tag so Redis Cluster keeps it in
// one slot with the master's keys:
//
//   autoscaler:launches     hash  job id → LaunchRecord (written before the job is queued)
//   autoscaler:instances    hash  instance id → InstanceRecord (written by the launch job)
//   autoscaler:generation   hash  pool → next launch generation (makes launch job ids)
//   autoscaler:launch_times zset  "job#i" scored by launch time (the launch-rate gate)
//   autoscaler:backoff      hash  "pool" or "pool/type" → BackoffRecord
//   autoscaler:meta         hash  lastScaleUpAt:<pool>, lastScaleDownAt, unneeded (JSON)
//   autoscaler:notices      hash  instance id → InterruptionRecord (spot notices being handled)
//
// Every reader and writer (the leader's loop, any replica's workers) goes through this class.
import type { Redis } from 'ioredis';
import { keyPrefix } from '../store/redis-store.ts';
import type { BackoffEntry } from './plan-types.ts';

export type LaunchState = 'queued' | 'launched' | 'failed';
export type InstanceState = 'booting' | 'running' | 'draining' | 'released' | 'failed' | 'vanished';
/** States of an instance that is (or may be) up; the others are history. */
export const LIVE_STATES: ReadonlySet<InstanceState> = new Set(['booting', 'running', 'draining']);

export interface LaunchRecord {
  jobId: string;
  pool: string;
  instanceType: string;
  kind: 'launch' | 'power-on';
  count: number;
  capacityType: 'on-demand' | 'spot' | 'owned';
  ownership: 'owned' | 'rented';
  unitPrice: number;
  state: LaunchState;
  reason: string;
  createdAt: number;
  updatedAt: number;
  /** The instances it started (on a launch that failed partway: those started before the failure). */
  instanceIds?: string[];
  error?: string;
}

export interface InstanceRecord {
  instanceId: string;
  pool: string;
  instanceType: string;
  ownership: 'owned' | 'rented';
  capacityType: 'on-demand' | 'spot' | 'owned';
  unitPrice: number;
  /** The launch job that made it (empty for adopted instances). */
  jobId: string;
  state: InstanceState;
  launchedAt: number;
  updatedAt: number;
  agentId?: string;
  registeredAt?: number;
  drainStartedAt?: number;
  releasedAt?: number;
  reason?: string;
  /** The address the provider gave, for agents that do not name their instance (static machines'). */
  privateAddress?: string;
  /**
   * `power-on`: a static machine. Its id and its agent's id come back at the next power-on, so its
   * last record is kept (never pruned): it says which agent the autoscaler drained.
   */
  kind?: 'power-on';
  /**
   * A static machine powered on again: the agent the autoscaler drained when it last released the
   * machine (drainedAgentOf). Only that hold is the autoscaler's to lift (REACTIVATE_AGENT) when the
   * agent comes back; a deactivation an operator made stays.
   */
  drainedAgentId?: string;
  /**
   * A static machine powered on with no record of its last lifetime (never powered on by the
   * autoscaler, or its record pruned before static records were kept): who drained its agent is
   * unknown, so only an operator's DEACTIVATE_AGENT is taken as a hold (operatorHold).
   */
  priorUnknown?: true;
}

/**
 * The agent a machine's next lifetime inherits as drained by the autoscaler: the one it drained to
 * end the last lifetime — or, if that lifetime never registered an agent (its boot timed out),
 * what that lifetime had inherited. An agent that was released without the autoscaler's drain is
 * not the autoscaler's to reactivate.
 */
export function drainedAgentOf(last: InstanceRecord | undefined): string | undefined {
  if (!last) return undefined;
  if (last.agentId) return last.drainStartedAt !== undefined ? last.agentId : undefined;
  return last.drainedAgentId;
}

export interface BackoffRecord extends BackoffEntry {
  /** Consecutive failures: the next backoff is twice as long. */
  failures: number;
}

export interface InterruptionRecord {
  instanceId: string;
  agentId?: string;
  pool: string;
  deadline: number;
  reason: string;
  source: 'provider' | 'agent' | 'operator';
  receivedAt: number;
  /**
   * What the agent's tasks held when the notice came: the replacement is planned for this, not for
   * what is left once the drain has begun killing them. Absent in older records and provider notices.
   */
  used?: { cpus: number; mem: number; disk: number; gpus: number };
}

/** Backoff after a failed launch: 30 s, doubling per consecutive failure, at most 15 min. */
export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_MAX_MS = 15 * 60_000;

const parse = <T>(v: string | null | undefined): T | undefined => (v ? (JSON.parse(v) as T) : undefined);
const values = <T>(h: Record<string, string>): T[] => Object.values(h).map((v) => JSON.parse(v) as T);

/** Ends of launch job ids and BullMQ ids may not contain ':'; pool names never do, types might. */
const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');

export function launchJobId(pool: string, instanceType: string, generation: number): string {
  return `launch_${safe(pool)}_${safe(instanceType)}_g${generation}`;
}

/** The generation a launch job id was made with (launchJobId's last part). */
export function generationOf(jobId: string): number {
  return Number(/_g(\d+)$/.exec(jobId)?.[1] ?? -1);
}

// The launch record, the pool's generation (raised past this launch's, never lowered) and the
// launch-rate window in one atomic step: a crash between them would leave the generation behind,
// and every later launch of the pool/type would get this job id again and be skipped as a repeat.
const RECORD_LAUNCH = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local gen = tonumber(ARGV[4]) + 1
if tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0') < gen then redis.call('HSET', KEYS[2], ARGV[3], gen) end
for i = 0, tonumber(ARGV[6]) - 1 do redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1] .. '#' .. i) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[5]) - 3600000)
return 1`;

export class AutoscalerRecords {
  readonly prefix: string;

  constructor(readonly redis: Redis, readonly cluster: string) {
    this.prefix = `${keyPrefix(cluster)}autoscaler:`;
  }

  key(name: string): string {
    return this.prefix + name;
  }

  // ---- launches ----------------------------------------------------------------------------------

  async generations(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.key('generation'));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /**
   * Records a planned launch, once: a record with the same job id already there (the same step
   * planned twice) changes nothing and returns false. Raises the pool's generation and adds to the
   * launch-rate window in the same atomic step.
   */
  async recordLaunch(r: LaunchRecord, now: number): Promise<boolean> {
    const created = await this.redis.eval(RECORD_LAUNCH, 3, this.key('launches'), this.key('generation'), this.key('launch_times'),
      r.jobId, JSON.stringify(r), r.pool, generationOf(r.jobId), now, r.count);
    return created === 1;
  }

  async launch(jobId: string): Promise<LaunchRecord | undefined> {
    return parse<LaunchRecord>(await this.redis.hget(this.key('launches'), jobId));
  }

  async launches(): Promise<LaunchRecord[]> {
    return values<LaunchRecord>(await this.redis.hgetall(this.key('launches')));
  }

  /** Launch records finished long ago are dropped (the instance records keep the history). */
  async pruneLaunches(before: number): Promise<void> {
    const old = (await this.launches()).filter((l) => l.state !== 'queued' && l.updatedAt < before).map((l) => l.jobId);
    if (old.length) await this.redis.hdel(this.key('launches'), ...old);
  }

  async launchesSince(t: number): Promise<number> {
    return this.redis.zcount(this.key('launch_times'), `(${t}`, '+inf');
  }

  // ---- instances ---------------------------------------------------------------------------------

  async instances(): Promise<InstanceRecord[]> {
    return values<InstanceRecord>(await this.redis.hgetall(this.key('instances')));
  }

  async instance(id: string): Promise<InstanceRecord | undefined> {
    return parse<InstanceRecord>(await this.redis.hget(this.key('instances'), id));
  }

  /** Writes instance records and (optionally) the launch record that made them, atomically. */
  async putInstances(list: readonly InstanceRecord[], launch?: LaunchRecord): Promise<void> {
    const m = this.redis.multi();
    for (const r of list) m.hset(this.key('instances'), r.instanceId, JSON.stringify(r));
    if (launch) m.hset(this.key('launches'), launch.jobId, JSON.stringify(launch));
    await m.exec();
  }

  /** Read-modify-write of one instance record; returns the new record (undefined if unknown). */
  async updateInstance(id: string, change: (r: InstanceRecord) => InstanceRecord | undefined): Promise<InstanceRecord | undefined> {
    const r = await this.instance(id);
    if (!r) return undefined;
    const next = change(r);
    if (next) await this.redis.hset(this.key('instances'), id, JSON.stringify(next));
    return next;
  }

  /** Released and failed records older than `before` are forgotten, but not static machines' (one each). */
  async pruneInstances(before: number): Promise<void> {
    const old = (await this.instances()).filter((i) => ['released', 'failed', 'vanished'].includes(i.state) && i.updatedAt < before && i.kind !== 'power-on' && i.ownership !== 'owned').map((i) => i.instanceId);
    if (old.length) await this.redis.hdel(this.key('instances'), ...old);
  }

  // ---- backoff -----------------------------------------------------------------------------------

  async backoff(): Promise<BackoffRecord[]> {
    return values<BackoffRecord>(await this.redis.hgetall(this.key('backoff')));
  }

  /** Backs a pool (or one of its types) off, twice as long as the previous time if that was recent. */
  async backOff(pool: string, instanceType: string | undefined, reason: string, now: number): Promise<BackoffRecord> {
    const field = instanceType === undefined ? pool : `${pool}/${instanceType}`;
    const prev = parse<BackoffRecord>(await this.redis.hget(this.key('backoff'), field));
    // Failures in a row count only while the previous backoff is recent (within twice its length).
    const failures = prev && now - prev.until < BACKOFF_MAX_MS ? prev.failures + 1 : 1;
    const ms = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
    const r: BackoffRecord = { pool, ...(instanceType === undefined ? {} : { instanceType }), until: now + ms, reason, failures };
    await this.redis.hset(this.key('backoff'), field, JSON.stringify(r));
    return r;
  }

  // ---- meta: cooldowns and scale-down candidates --------------------------------------------------

  async meta(): Promise<{ lastScaleUpAt: Record<string, number>; lastScaleDownAt?: number; unneeded: Record<string, number> }> {
    const h = await this.redis.hgetall(this.key('meta'));
    const lastScaleUpAt: Record<string, number> = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith('lastScaleUpAt:')) lastScaleUpAt[k.slice('lastScaleUpAt:'.length)] = Number(v);
    return { lastScaleUpAt, ...(h.lastScaleDownAt ? { lastScaleDownAt: Number(h.lastScaleDownAt) } : {}), unneeded: parse<Record<string, number>>(h.unneeded) ?? {} };
  }

  async setScaledUp(pool: string, at: number): Promise<void> {
    await this.redis.hset(this.key('meta'), `lastScaleUpAt:${pool}`, String(at));
  }

  async setScaledDown(at: number): Promise<void> {
    await this.redis.hset(this.key('meta'), 'lastScaleDownAt', String(at));
  }

  async setUnneeded(unneeded: Record<string, number>): Promise<void> {
    await this.redis.hset(this.key('meta'), 'unneeded', JSON.stringify(unneeded));
  }

  // ---- interruption notices ------------------------------------------------------------------------

  async notices(): Promise<InterruptionRecord[]> {
    return values<InterruptionRecord>(await this.redis.hgetall(this.key('notices')));
  }

  /** Records a notice once per instance; returns false if one was already recorded. */
  async recordNotice(n: InterruptionRecord): Promise<boolean> {
    return (await this.redis.hsetnx(this.key('notices'), n.instanceId, JSON.stringify(n))) === 1;
  }

  async dropNotice(instanceId: string): Promise<void> {
    await this.redis.hdel(this.key('notices'), instanceId);
  }
}
