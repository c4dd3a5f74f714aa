// Starts and stops a private redis-server (for `spillway up` and for tests): a free port on
// loopback, a data folder of its own, AOF on. Never touches a Redis it did not start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface RedisProcess {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface RedisProcessOptions {
  dataDir: string;
  port?: number;
  /** appendfsync policy; `always` for the strictest durability (tests of crash safety). */
  appendfsync?: 'always' | 'everysec' | 'no';
  binary?: string;
  /** More redis-server arguments, e.g. `['--replicaof', '127.0.0.1', '6380']` for a replica. */
  extraArgs?: string[];
}

export function redisServerAvailable(binary = 'redis-server'): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis(opts: RedisProcessOptions): Promise<RedisProcess> {
  mkdirSync(opts.dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const child = spawn(opts.binary ?? 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', opts.dataDir,
    '--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'everysec', '--save', '',
    '--protected-mode', 'yes', '--logfile', 'redis.log', '--daemonize', 'no', ...(opts.extraArgs ?? []),
  ], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url, child);
  return {
    url, port, dataDir: opts.dataDir, child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

async function waitForRedis(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with status ${child.exitCode} (see redis.log in its data dir)`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      const loading = (await client.info('persistence')).includes('loading:1');
      client.disconnect();
      if (!loading) return;
    } catch {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error('redis-server did not accept connections within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
