// Starts and stops a private redis-server (for `spillway up` and for tests): a free port on
// loopback, a data folder of its own, AOF on. Never touches a Redis it did not start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * A port free to listen on now. Chosen below the kernel's ephemeral range (where outgoing
 * connections take their local ports, so a port found free there can be taken by any connect()
 * before our listener binds it), at random so concurrent callers rarely pick the same one;
 * the kernel's own choice only if that range has nothing free.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const top = Math.min(ephemeralRangeStart(), 31_000);
  for (let i = 0; top > 20_000 && i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * (top - 20_000));
    if (await canListen(port, host)) return port;
  }
  return listenOnce(0, host);
}

function ephemeralRangeStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 0 ? start : 32_768;
  } catch {
    return 32_768; // not Linux: the IANA dynamic range starts at 49152, so this stays below it
  }
}

/** Whether `port` on `host` is free to listen on now. */
export const canListen = (port: number, host: string): Promise<boolean> => listenOnce(port, host).then(() => true, () => false);

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, host, () => {
      const bound = (srv.address() as { port: number }).port;
      srv.close(() => resolve(bound));
    });
  });
}

export async function startRedis(opts: RedisProcessOptions): Promise<RedisProcess> {
  mkdirSync(opts.dataDir, { recursive: true });
  const pidFile = join(opts.dataDir, 'redis.pid');
  await stopLeftover(pidFile, opts.dataDir);
  const port = opts.port ?? (await freePort());
  const child = spawn(opts.binary ?? 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', opts.dataDir, '--pidfile', pidFile,
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

/**
 * A redis-server an earlier run started on this data dir and could not stop (that run was killed
 * with SIGKILL): stopped before a new one starts, or two servers would append to one AOF. Only a
 * live process that is a redis-server on this very dir counts — never anyone else's Redis.
 */
async function stopLeftover(pidFile: string, dataDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  // redis-server rewrites its command line (set-proc-title) but works in its --dir.
  const ours = (): boolean => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server') && realpathSync(`/proc/${pid}/cwd`) === realpathSync(dataDir);
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !ours()) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && ours(); i++) await new Promise((r) => setTimeout(r, 50));
  if (ours()) process.kill(pid, 'SIGKILL');
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
