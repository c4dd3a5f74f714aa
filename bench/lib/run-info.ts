// What every benchmark result carries besides its numbers: the machine, the checkout and the date.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** The checkout measured: `git describe --always --dirty`, or 'unknown' outside a git work tree. */
export function commitOf(): string {
  const out = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : 'unknown';
}

let reference: number | undefined;

/**
 * Milliseconds one fixed single-threaded workload takes here (best of 3): JSON round trips and Map
 * work on task-like records, the master's staple. Machines of the same kind differ (2–3× seen
 * between two "2-core" VMs); a result is comparable with another only next to this figure.
 */
export function referenceMs(): number {
  if (reference !== undefined) return reference;
  const record = {
    frameworkId: 'f-0000', agentId: 'a-0000', state: 'TASK_RUNNING',
    info: { name: 'task', task_id: { value: 't' }, resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } }, { name: 'mem', type: 'SCALAR', scalar: { value: 32 } }], command: { value: 'true', shell: true } },
    statuses: [{ task_id: { value: 't' }, state: 'TASK_RUNNING', uuid: 'AAAAAAAAAAAAAAAAAAAAAA==', timestamp: 1.7e9, source: 'SOURCE_EXECUTOR' }],
  };
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    const map = new Map<string, unknown>();
    for (let i = 0; i < 20_000; i++) {
      const copy = JSON.parse(JSON.stringify({ ...record, info: { ...record.info, task_id: { value: `t${i}` } } })) as typeof record;
      map.set(`${copy.frameworkId}/${copy.info.task_id.value}`, copy);
      if (i >= 1000) map.delete(`f-0000/t${i - 1000}`);
    }
    best = Math.min(best, performance.now() - start);
  }
  reference = Math.round(best * 10) / 10;
  return reference;
}

export function machineInfo(): { cores: number; cpu: string; node: string; platform: string; reference_ms: number } {
  return {
    cores: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`,
    reference_ms: referenceMs(),
  };
}

/** `machine`, `commit` and `date`, to spread into a result line. */
export function runInfo(): { machine: ReturnType<typeof machineInfo>; commit: string; date: string } {
  return { machine: machineInfo(), commit: commitOf(), date: new Date().toISOString() };
}
