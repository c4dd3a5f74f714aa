// Mesos' --min_allocatable_resources: an offer is made only when it holds at least one of these
// quantities (default `cpus:0.01|mem:32`), so frameworks are not pestered with crumbs.
import { scalar, type Resources } from '../../src/resources/resources.ts';

export type MinAllocatable = readonly Readonly<Record<string, number>>[];

export const DEFAULT_MIN_ALLOCATABLE: MinAllocatable = [{ cpus: 0.01 }, { mem: 32 }];

export function meetsMinimum(r: Resources, mins: MinAllocatable): boolean {
  return mins.some((q) => Object.entries(q).every(([k, v]) => scalar(r, k) >= v));
}

/** Parses the flag syntax `cpus:0.01|mem:32` (alternatives separated by `|`, `;` within one). */
export function parseMinAllocatable(text: string): MinAllocatable {
  return text.split('|').map((alt) => {
    const q: Record<string, number> = {};
    for (const part of alt.split(';').map((s) => s.trim()).filter(Boolean)) {
      const [name, value] = part.split(':');
      const v = Number(value);
      if (!name || !Number.isFinite(v) || v < 0) throw new Error(`min allocatable: cannot parse '${part}' (expected name:quantity)`);
      q[name] = v;
    }
    return q;
  });
}
