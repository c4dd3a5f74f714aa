// Redis Sentinel for tests, on loopback ports of its own: a Redis master and one replica (AOF,
// appendfsync always) watched by sentinels (`redis-server --sentinel`, each with its own config
// file, which Sentinel rewrites). `failover()` makes Sentinel promote the replica.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedis, type RedisProcess } from '../../src/up/redis-process.ts';
import { tempDir } from './redis.ts';
import { waitFor } from './cluster.ts';

export const SENTINEL_NAME = 'spillway-test';

export interface SentinelSetup {
  primary: RedisProcess;
  replica: RedisProcess;
  sentinelPorts: number[];
  /** redis-sentinel://127.0.0.1:P1,127.0.0.1:P2/<name> */
  url: string;
  /** host:port of the master as the sentinels see it now. */
  masterAddress(): Promise<string>;
  /** Waits for the replica to hold everything the master has, then makes Sentinel promote it. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSentinels(count = 2): Promise<SentinelSetup> {
  const primary = await startRedis({ dataDir: tempDir('spillway-sentinel-primary-'), appendfsync: 'always' });
  const replica = await startRedis({ dataDir: tempDir('spillway-sentinel-replica-'), appendfsync: 'always', extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const children: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const dir = tempDir('spillway-sentinel-');
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'logfile sentinel.log',
      `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primary.port} 1`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} 2000`,
      `sentinel failover-timeout ${SENTINEL_NAME} 10000`,
      '',
    ].join('\n'));
    children.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
    sentinelPorts.push(port);
  }
  const ask = async <T>(fn: (s: Redis) => Promise<T>): Promise<T> => {
    const s = new Redis({ port: sentinelPorts[0], host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    s.on('error', () => {});
    try {
      await s.connect();
      return await fn(s);
    } finally {
      s.disconnect();
    }
  };
  const masterAddress = async (): Promise<string> => {
    const [host, port] = (await ask((s) => s.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_NAME))) as string[];
    return `${host}:${port}`;
  };
  await waitFor(async () => (await masterAddress().catch(() => '')) === `127.0.0.1:${primary.port}`, 20_000, 'the sentinels to watch the master');
  await waitFor(async () => {
    const replicas = (await ask((s) => s.call('SENTINEL', 'replicas', SENTINEL_NAME)).catch(() => [])) as unknown[];
    return replicas.length > 0;
  }, 30_000, 'the sentinels to know the replica');
  return {
    primary, replica, sentinelPorts,
    url: `redis-sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${SENTINEL_NAME}`,
    masterAddress,
    async failover() {
      const direct = new Redis(primary.url, { maxRetriesPerRequest: 0 });
      try {
        await direct.call('WAIT', '1', '5000');
      } finally {
        direct.disconnect();
      }
      await ask((s) => s.call('SENTINEL', 'failover', SENTINEL_NAME));
      await waitFor(async () => (await masterAddress().catch(() => '')) === `127.0.0.1:${replica.port}`, 30_000, 'Sentinel to promote the replica');
    },
    async stop() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
      await replica.stop('SIGKILL');
      await primary.stop('SIGKILL');
    },
  };
}
