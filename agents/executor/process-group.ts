// Process-group inspection through /proc. Tasks run in their own process group (the wrapper shell is
// the leader, pgid = its pid), so "is the task alive", "how much memory does it use" and "kill it"
// are all questions about the group, not one pid. Zombies count as dead: an exited process whose
// parent has not reaped it yet must not keep a task "running".
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  state: string;
  pgrp: number;
  /** Clock ticks since boot: with the pid it identifies a process across pid reuse. */
  startTime: number;
  rssPages: number;
  /** CPU time in clock ticks: own user and system time, and that of children it has waited for. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so split after the last ')'. */
export function readProcStat(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the name start at field 3 (state): field N is rest[N - 3].
  return {
    pid, state: rest[0], pgrp: Number(rest[2]), startTime: Number(rest[19]), rssPages: Number(rest[21]),
    utime: Number(rest[11]), stime: Number(rest[12]), cutime: Number(rest[13]), cstime: Number(rest[14]),
  };
}

const hasProc = (): boolean => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
};
const PROC_AVAILABLE = hasProc();

/** Live (non-zombie) members of process group `pgid`. */
export function groupMembers(pgid: number): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProcStat(Number(name));
    if (info && info.pgrp === pgid && info.state !== 'Z' && info.state !== 'X') out.push(info);
  }
  return out;
}

/** Live members of each of `pgids`, from one pass over /proc (empty map when /proc is unavailable). */
export function groupsMembers(pgids: ReadonlySet<number>): Map<number, ProcInfo[]> {
  const out = new Map<number, ProcInfo[]>();
  if (!PROC_AVAILABLE || pgids.size === 0) return out;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProcStat(Number(name));
    if (!info || !pgids.has(info.pgrp) || info.state === 'Z' || info.state === 'X') continue;
    const list = out.get(info.pgrp);
    if (list) list.push(info);
    else out.set(info.pgrp, [info]);
  }
  return out;
}

/**
 * Whether the group still has a live process. `leaderStartTime` guards against pid reuse after an
 * agent restart: a leader with that pid but another start time is a stranger, not our task.
 */
export function isGroupAlive(pgid: number, leaderStartTime?: number): boolean {
  if (!PROC_AVAILABLE) return signalGroup(pgid, 0);
  const members = groupMembers(pgid);
  if (members.length === 0) return false;
  const leader = members.find((m) => m.pid === pgid);
  if (leader && leaderStartTime !== undefined && leader.startTime !== leaderStartTime) return false;
  return true;
}

/** Sends `signal` to the whole group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

let pageSize: number | undefined;

/** The kernel page size, derived from /proc/self (VmSize in kB ÷ statm pages); 4096 if that fails. */
export function systemPageSize(): number {
  if (pageSize !== undefined) return pageSize;
  pageSize = 4096;
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[0]);
    const kb = Number(/VmSize:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    const derived = 2 ** Math.round(Math.log2((kb * 1024) / pages));
    if (Number.isFinite(derived) && derived >= 4096) pageSize = derived;
  } catch {
    // keep 4096
  }
  return pageSize;
}

let clockTicks: number | undefined;

/** USER_HZ, the unit of /proc's CPU times (`getconf CLK_TCK`, asked once); 100 if that fails. */
export function clockTicksPerSecond(): number {
  if (clockTicks !== undefined) return clockTicks;
  clockTicks = 100;
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim());
    if (Number.isInteger(n) && n > 0) clockTicks = n;
  } catch {
    // keep 100, the value on every mainstream Linux
  }
  return clockTicks;
}
