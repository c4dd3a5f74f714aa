// Memory limit enforcement without cgroups: every 250 ms, sum the resident memory of all processes
// in the task's process group and report once when it exceeds the task's `mem` resource. This is
// a best-effort limit (a fast allocator can overshoot between two polls, and a process that leaves
// the group escapes it); cgroup v2 limits are not used (this host has cgroup v1 only).
import { groupRssBytes } from './process-group.ts';

export const MEMORY_POLL_MS = 250;
const MB = 1024 * 1024;

export interface MemoryExceeded {
  limitMb: number;
  usedMb: number;
}

export class MemoryWatcher {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pgid: number,
    private readonly limitMb: number,
    private readonly onExceeded: (e: MemoryExceeded) => void,
    private readonly readRss: (pgid: number) => number = groupRssBytes,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), MEMORY_POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    let used: number;
    try {
      used = this.readRss(this.pgid);
    } catch {
      return; // /proc hiccup: try again next tick
    }
    if (used > this.limitMb * MB) {
      this.stop();
      this.onExceeded({ limitMb: this.limitMb, usedMb: Math.round(used / MB) });
    }
  }
}
