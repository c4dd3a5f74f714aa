// Memory limit enforcement without cgroups: every 250 ms, sum the resident memory of all processes
// in each task's process group and report once when it exceeds the task's `mem` resource. This is
// a best-effort limit (a fast allocator can overshoot between two polls, and a process that leaves
// the group escapes it); cgroup v2 limits are not used (this host has cgroup v1 only).
//
// All watchers of a process share one poll and one pass over /proc: a pass per task would cost
// O(tasks × processes) file reads every tick, which on a busy agent is most of its CPU.
import { groupsMembers, systemPageSize } from './process-group.ts';

export const MEMORY_POLL_MS = 250;
const MB = 1024 * 1024;

export interface MemoryExceeded {
  limitMb: number;
  usedMb: number;
}

const watching = new Set<MemoryWatcher>();
let timer: NodeJS.Timeout | undefined;

function pollAll(): void {
  let members;
  try {
    members = groupsMembers(new Set([...watching].map((w) => w.pgid)));
  } catch {
    return; // /proc hiccup: try again next tick
  }
  const page = systemPageSize();
  for (const w of [...watching]) {
    let pages = 0;
    for (const m of members.get(w.pgid) ?? []) pages += m.rssPages;
    w.check(pages * page);
  }
}

export class MemoryWatcher {
  constructor(
    readonly pgid: number,
    private readonly limitMb: number,
    private readonly onExceeded: (e: MemoryExceeded) => void,
  ) {}

  start(): void {
    watching.add(this);
    if (!timer) {
      timer = setInterval(pollAll, MEMORY_POLL_MS);
      timer.unref();
    }
  }

  stop(): void {
    watching.delete(this);
    if (watching.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  /** One observation of the group's resident bytes. */
  check(usedBytes: number): void {
    if (usedBytes > this.limitMb * MB) {
      this.stop();
      this.onExceeded({ limitMb: this.limitMb, usedMb: Math.round(usedBytes / MB) });
    }
  }
}
