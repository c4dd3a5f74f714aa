// The master's Redis connection: a plain `redis://` / `rediss://` URL, or Redis Sentinel as
// `redis-sentinel://[user:password@]host:port,host:port/<master name>` (ioredis asks the sentinels
// which Redis is the master and follows a Sentinel failover).
//
// Settings chosen for fencing, not for convenience:
// - no offline queue: a command issued while disconnected fails at once instead of being sent,
//   maybe much later, on the next connection (a stale lease attempt or write must never arrive late);
// - no automatic resend of commands that were in flight when the connection broke: a batch whose
//   reply was lost may well have been applied, and running it twice would duplicate list entries.
//   The master instead steps down and reloads from Redis (replica.ts), so it knows what happened.
import { Redis, type RedisOptions } from 'ioredis';

export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  name: string;
  username?: string;
  password?: string;
  sentinelPassword?: string;
  db?: number;
}

export type RedisTarget = { kind: 'url'; url: string } | ({ kind: 'sentinel' } & SentinelTarget);

export class RedisUrlError extends Error {}

/** Parses `--redis`; throws RedisUrlError naming what is wrong. */
export function parseRedisTarget(value: string): RedisTarget {
  const v = value.trim();
  if (/^rediss?:\/\//.test(v)) {
    try {
      new URL(v);
    } catch {
      throw new RedisUrlError(`'${v}' is not a valid Redis URL`);
    }
    return { kind: 'url', url: v };
  }
  const m = /^redis-sentinel:\/\/(?:([^@/]*)@)?([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(v);
  if (!m) throw new RedisUrlError(`'${v}' is neither redis://host:port nor redis-sentinel://host:port,host:port/name`);
  const [, auth, hostList, rawName, query] = m;
  const sentinels = hostList.split(',').map((hp) => {
    const hm = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp.trim());
    if (!hm) throw new RedisUrlError(`sentinel '${hp}' is not host:port`);
    const port = hm[2] === undefined ? 26379 : Number(hm[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RedisUrlError(`sentinel '${hp}': '${hm[2]}' is not a port number`);
    return { host: hm[1].replace(/^\[|\]$/g, ''), port };
  });
  const name = decodeURIComponent(rawName ?? '');
  if (!name) throw new RedisUrlError(`'${v}' names no master group: add /<name>, e.g. redis-sentinel://127.0.0.1:26379/mymaster`);
  const target: RedisTarget = { kind: 'sentinel', sentinels, name };
  if (auth) {
    const i = auth.indexOf(':');
    const user = decodeURIComponent(i < 0 ? '' : auth.slice(0, i));
    const password = decodeURIComponent(i < 0 ? auth : auth.slice(i + 1));
    if (user) target.username = user;
    if (password) target.password = password;
  }
  for (const [k, val] of new URLSearchParams(query ?? '')) {
    if (k === 'sentinelPassword') target.sentinelPassword = val;
    else if (k === 'db') {
      const db = Number(val);
      if (!Number.isInteger(db) || db < 0) throw new RedisUrlError(`db: '${val}' is not a database number`);
      target.db = db;
    } else throw new RedisUrlError(`unknown option '${k}' (known: db, sentinelPassword)`);
  }
  return target;
}

/** A URL for logs: no password, sentinels listed. */
export function describeRedisTarget(t: RedisTarget): string {
  if (t.kind === 'url') {
    try {
      const u = new URL(t.url);
      if (u.password) u.password = '***';
      return u.toString();
    } catch {
      return t.url;
    }
  }
  return `redis-sentinel://${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${t.name}`;
}

const FENCING_SAFE: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: null,
  // Reconnect soon: a master without Redis cannot lead.
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 500),
};

/** Opens the connection (not yet connected: call `connectWhenReady`). */
export function createRedisConnection(t: RedisTarget, extra: RedisOptions = {}): Redis {
  if (t.kind === 'url') return new Redis(t.url, { ...FENCING_SAFE, ...extra });
  return new Redis({
    ...FENCING_SAFE,
    sentinels: t.sentinels,
    name: t.name,
    ...(t.username ? { username: t.username } : {}),
    ...(t.password ? { password: t.password } : {}),
    ...(t.sentinelPassword ? { sentinelPassword: t.sentinelPassword } : {}),
    ...(t.db !== undefined ? { db: t.db } : {}),
    // After a Sentinel failover the old master is demoted: Redis drops its clients, and a write
    // that still reaches it fails READONLY — either way reconnect, and ioredis asks the sentinels
    // for the new master. (ioredis' `failoverDetector` is not used: its sentinel subscriptions are
    // not always closed with the client and keep a stopped master's process alive.)
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
    sentinelRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
    ...extra,
  });
}

/** Connects, and keeps retrying until Redis answers (a master started before its Redis waits). */
export function connectWhenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => { cleanup(); resolve(); };
    const onEnd = (): void => { cleanup(); reject(new Error('the Redis connection was closed before it was ready')); };
    const cleanup = (): void => { redis.off('ready', onReady); redis.off('end', onEnd); };
    redis.on('ready', onReady);
    redis.on('end', onEnd);
    if (redis.status === 'wait') redis.connect().catch(() => { /* retried by retryStrategy */ });
  });
}
