// What every benchmark result carries besides its numbers: the machine, the checkout and the date.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** The checkout measured: `git describe --always --dirty`, or 'unknown' outside a git work tree. */
export function commitOf(): string {
  const out = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : 'unknown';
}

export function machineInfo(): { cores: number; cpu: string; node: string; platform: string } {
  return { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}` };
}

/** `machine`, `commit` and `date`, to spread into a result line. */
export function runInfo(): { machine: ReturnType<typeof machineInfo>; commit: string; date: string } {
  return { machine: machineInfo(), commit: commitOf(), date: new Date().toISOString() };
}
