// Streaming a task's output through the agent's /files/read: reads that end inside a multi-byte
// UTF-8 character must not corrupt or drop text (spillway run streams with SandboxReader).
import test from 'ava';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startFilesServer, wholeCharacters } from '../agents/files-server.ts';
import { silentLogger } from '../src/common/logger.ts';
import { SandboxReader } from '../src/sdk/sandbox-reader.ts';
import { tempDir } from './helpers/redis.ts';

test('non-ASCII output read a few bytes at a time comes back whole', async (t) => {
  const dir = tempDir('spillway-files-');
  await mkdir(join(dir, 'sandboxes'), { recursive: true });
  const text = 'é'.repeat(300) + ' 漢字 ' + '🙂'.repeat(50) + ' end\n';
  await writeFile(join(dir, 'sandboxes', 'out'), text);
  const server = await startFilesServer(dir, '127.0.0.1', 0, silentLogger);
  t.teardown(() => new Promise((r) => server.close(() => r(undefined))));
  const reader = new SandboxReader(`127.0.0.1:${(server.address() as AddressInfo).port}`, 'sandboxes/out');
  let got = '';
  for (let i = 0; i < 10_000; i++) {
    const part = await reader.readNew(5); // 5 bytes: most reads end inside a 2-, 3- or 4-byte character
    if (!part) break;
    got += part;
  }
  t.is(got, text);
  t.false(got.includes('\uFFFD'));
});

test('wholeCharacters cuts before a character split by the end of a read, and never to nothing', (t) => {
  const e = Buffer.from('aé'); // 61 c3 a9
  t.is(wholeCharacters(e), 3);
  t.is(wholeCharacters(e.subarray(0, 2)), 1, 'the é is left for the next read');
  t.is(wholeCharacters(Buffer.from('🙂').subarray(0, 3)), 3, 'a lone partial character is returned as is (the reader moves on)');
  t.is(wholeCharacters(Buffer.from([0xff, 0x41])), 2, 'invalid bytes are not held back');
});
