// A small JSON state file for providers that keep their own inventory (local, static): written to
// a temp file, fsynced and renamed, so a crash leaves the old or the new version, never a torn one.
import { mkdirSync, openSync, fsyncSync, closeSync, writeFileSync, renameSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class StateFile<T> {
  constructor(private readonly path: string, private readonly empty: () => T) {}

  read(): T {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as T;
    } catch {
      return this.empty();
    }
  }

  write(value: T): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(value, null, 2));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
  }

  /** Read-modify-write; callers in one process are serialised by the event loop (sync I/O). */
  update(change: (value: T) => void): T {
    const v = this.read();
    change(v);
    this.write(v);
    return v;
  }
}
