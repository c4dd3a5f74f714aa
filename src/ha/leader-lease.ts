// The leader lease in Redis: one hash per cluster (`{spillway:<cluster>}:leader`, with a TTL)
// naming the holder's token, advertised address and fencing epoch. Acquire, renew and release are
// Lua scripts (src/store/lua/*-leader-*.lua) so each is one atomic step; acquiring also bumps the
// fencing epoch that fenced-batch.lua checks, so a master leads only with the newest epoch.
import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import { keyPrefix } from '../store/redis-store.ts';

const lua = (name: string): string => readFileSync(new URL(`../store/lua/${name}.lua`, import.meta.url), 'utf8');
const ACQUIRE = lua('acquire-leader-2');
const RENEW = lua('renew-leader-2');
const RELEASE = lua('release-leader-1');

declare module 'ioredis' {
  interface RedisCommander<Context> {
    acquireLeader(leaseKey: string, epochKey: string, token: string, leaseMs: number, address: string, takeOverOwnAddress: '0' | '1'): Result<(string | number)[], Context>;
    renewLeader(leaseKey: string, epochKey: string, token: string, leaseMs: number, epoch: number, address: string): Result<number, Context>;
    releaseLeader(leaseKey: string, token: string): Result<number, Context>;
  }
}

/** Who leads, as the lease says. */
export interface LeaseHolder {
  token: string;
  /** host:port the leader advertises; standbys redirect there. */
  address: string;
  epoch: number;
  /** When it acquired the lease (Redis time, ms). */
  since: number;
  /** Milliseconds left on the lease when it was read. */
  ttlMs: number;
}

export type AcquireResult = { acquired: true; epoch: number } | { acquired: false; holder: LeaseHolder };

/** The seam the election runs on; RedisLeaderLease below is the real one. */
export interface LeaderLease {
  /** `takeOverOwnAddress`: a lease another token holds at `address` is taken too (a dead predecessor's). */
  acquire(token: string, address: string, leaseMs: number, takeOverOwnAddress?: boolean): Promise<AcquireResult>;
  /** True while the caller still holds the lease and its epoch; false means step down. */
  renew(token: string, epoch: number, address: string, leaseMs: number): Promise<boolean>;
  release(token: string): Promise<boolean>;
  holder(): Promise<LeaseHolder | undefined>;
}

export class RedisLeaderLease implements LeaderLease {
  private readonly leaseKey: string;
  private readonly epochKey: string;

  constructor(private readonly redis: Redis, cluster = 'default') {
    this.leaseKey = `${keyPrefix(cluster)}leader`;
    this.epochKey = `${keyPrefix(cluster)}epoch`;
    redis.defineCommand('acquireLeader', { numberOfKeys: 2, lua: ACQUIRE });
    redis.defineCommand('renewLeader', { numberOfKeys: 2, lua: RENEW });
    redis.defineCommand('releaseLeader', { numberOfKeys: 1, lua: RELEASE });
  }

  async acquire(token: string, address: string, leaseMs: number, takeOverOwnAddress = false): Promise<AcquireResult> {
    const r = await this.redis.acquireLeader(this.leaseKey, this.epochKey, token, Math.round(leaseMs), address, takeOverOwnAddress ? '1' : '0');
    if (Number(r[0]) === 1) return { acquired: true, epoch: Number(r[1]) };
    return { acquired: false, holder: { token: String(r[1]), address: String(r[2]), epoch: Number(r[3]), since: Number(r[4]), ttlMs: Math.max(0, Number(r[5])) } };
  }

  async renew(token: string, epoch: number, address: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.renewLeader(this.leaseKey, this.epochKey, token, Math.round(leaseMs), epoch, address)) === 1;
  }

  async release(token: string): Promise<boolean> {
    return (await this.redis.releaseLeader(this.leaseKey, token)) === 1;
  }

  async holder(): Promise<LeaseHolder | undefined> {
    const [[, fields], [, ttl]] = (await this.redis.multi().hgetall(this.leaseKey).pttl(this.leaseKey).exec()) as [[unknown, Record<string, string>], [unknown, number]];
    if (!fields?.token) return undefined;
    return { token: fields.token, address: fields.address ?? '', epoch: Number(fields.epoch), since: Number(fields.since), ttlMs: Math.max(0, ttl) };
  }
}
