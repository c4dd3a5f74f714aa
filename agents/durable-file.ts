// A small JSON file written so that a crash or power loss leaves the old version or the new one,
// never a torn one: temp file (created with `mode`), fsync, rename. For files written rarely (the
// agent id, its credential); task checkpoints, written several times per task, use slots instead
// (recovery.ts).
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeJsonDurably(path: string, value: unknown, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.write(JSON.stringify(value));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
