// Each test file gets its own redis-server on a free loopback port in a temp dir.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type RedisProcess } from '../../src/up/redis-process.ts';

export async function testRedis(opts: { appendfsync?: 'always' | 'everysec' } = {}): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-redis-'));
  return startRedis({ dataDir: dir, appendfsync: opts.appendfsync });
}

export function tempDir(prefix = 'spillway-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
