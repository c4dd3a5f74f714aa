// CPU time of processes, from /proc (Linux). Used to attribute a benchmark's CPU to the master,
// redis-server, the agents and the benchmark process itself.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/** The live child processes of `pid` (Linux /proc/<pid>/task/<tid>/children). */
export function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone, or no /proc
  }
  return out;
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

/** The whole machine's CPU time by kind (all cores; /proc/stat), in ms; empty when unknown. */
export function machineCpuMs(): Record<string, number> {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const ms = (t: number | undefined): number => ((t ?? 0) * 1000) / clockTicks();
    return { user: ms(f[0] + f[1]), system: ms(f[2]), iowait: ms(f[4]), irq: ms(f[5]), softirq: ms(f[6]), steal: ms(f[7]) };
  } catch {
    return {};
  }
}

/** CPU time the whole machine spent running something (user, system, irq, softirq), in ms. */
export function machineBusyMs(): number {
  const m = machineCpuMs();
  return m.user + m.system + m.irq + m.softirq;
}
