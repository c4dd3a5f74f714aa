// How busy the host is, for the QoS controller. `LoadProbe` is the seam tests replace;
// `ProcLoadProbe` reads the 1-minute load average from /proc/loadavg (os.loadavg() where there is no
// /proc) and the number of CPUs this process may use.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface HostLoad {
  /** 1-minute load average: runnable (and uninterruptible) threads, averaged. */
  load1: number;
  /** CPUs of the host; load1 / cpus is the load per cpu compared with the threshold. */
  cpus: number;
}

export interface LoadProbe {
  /** The current load, or undefined when it cannot be read (then load is not a reason to preempt). */
  read(): HostLoad | undefined | Promise<HostLoad | undefined>;
}

export class ProcLoadProbe implements LoadProbe {
  read(): HostLoad | undefined {
    let load1: number;
    try {
      load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    } catch {
      load1 = os.loadavg()[0];
    }
    const cpus = os.availableParallelism();
    return Number.isFinite(load1) && cpus > 0 ? { load1, cpus } : undefined;
  }
}
