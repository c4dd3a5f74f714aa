// CPU time of processes, from /proc (Linux). Used to attribute a benchmark's CPU to the master,
// redis-server, the agents and the benchmark process itself.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks: number | undefined;

function clockTicks(): number {
  if (ticks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(out.stdout?.trim());
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** CPU of a process in ms: its own threads, and its reaped children (for an agent: the tasks). */
export function processCpu(pid: number | undefined): { self: number; children: number } {
  if (pid === undefined) return { self: Number.NaN, children: Number.NaN };
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 (utime, stime, cutime, cstime) are f[11..14].
    const ms = (ticksCount: number): number => (ticksCount * 1000) / clockTicks();
    return { self: ms(Number(f[11]) + Number(f[12])), children: ms(Number(f[13]) + Number(f[14])) };
  } catch {
    return { self: Number.NaN, children: Number.NaN };
  }
}

/** User + system CPU of a process and its reaped children, in ms (NaN when unknown). */
export function processCpuMs(pid: number | undefined): number {
  const c = processCpu(pid);
  return c.self + c.children;
}

/** CPU of this process in ms (all threads). */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time the whole machine spent busy (all cores; /proc/stat), in ms; NaN when unknown. */
export function machineBusyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
    return (busy * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}
