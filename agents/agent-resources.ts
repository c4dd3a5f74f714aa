// What the agent offers: detected host resources, overridden name by name by the `resources` flag
// (which may also reserve resources statically for a role, Mesos style: `cpus(ads):8`), and the
// `attributes` flag (`rack:r1;zone:a`, numbers become SCALAR like Mesos).
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import type { MesosAttribute } from '../src/master/records.ts';
import { parseResourceFlag, parseResourceFlagSet } from '../src/resources/mesos-resources.ts';
import { bucket, setOf, type ResourceSet } from '../src/resources/resource-set.ts';
import { resources, type Resources } from '../src/resources/resources.ts';

const MB = 1024 * 1024;

/** Host resources: mem leaves 512 MB to the OS, disk leaves 1 GB; each keeps a floor unless the host has less. */
export async function detectResources(workDir: string, defaultPorts: string): Promise<Resources> {
  const memMb = Math.floor(os.totalmem() / MB);
  let diskMb = 0;
  try {
    const s = await statfs(workDir);
    diskMb = Math.floor((Number(s.bavail) * Number(s.bsize)) / MB);
  } catch {
    // unknown filesystem: offer no disk unless the flag says otherwise
  }
  const ports = parseFlag(`ports:${defaultPorts}`, 'defaultPorts').ports;
  return resources({
    cpus: os.availableParallelism(),
    mem: Math.max(Math.min(256, memMb), memMb - 512),
    disk: Math.max(Math.min(1024, diskMb), diskMb - 1024),
  }, [...ports]);
}

/**
 * Detected resources with the flag's values replacing them: as in Mesos, a name given in the flag
 * (reserved or not) is not detected at all, so `cpus:4;cpus(ads):8` means 12 cpus, 8 for `ads`.
 */
export async function agentResources(workDir: string, flag: string | undefined, defaultPorts: string): Promise<ResourceSet> {
  const detected = await detectResources(workDir, defaultPorts);
  if (!flag) return setOf([bucket(detected)]);
  const parsed = parseResourceFlagSet(flag);
  if (!parsed.ok) throw new Error(`resources: ${parsed.error}`);
  const { set, names } = parsed.value;
  const scalars = Object.fromEntries(Object.entries(detected.scalars).filter(([k]) => !names.has(k)));
  const kept = resources(scalars, names.has('ports') ? [] : [...detected.ports]);
  return setOf([bucket(kept), ...set]);
}

export function parseAttributes(text: string | undefined): MesosAttribute[] {
  const out: MesosAttribute[] = [];
  for (const part of (text ?? '').split(';').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf(':');
    if (i <= 0 || i === part.length - 1) throw new Error(`attributes: cannot parse '${part}', expected name:value`);
    const name = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    const n = Number(value);
    out.push(value !== '' && Number.isFinite(n) ? { name, type: 'SCALAR', scalar: { value: n } } : { name, type: 'TEXT', text: { value } });
  }
  return out;
}

function parseFlag(text: string, what: string): Resources {
  const parsed = parseResourceFlag(text);
  if (!parsed.ok) throw new Error(`${what}: ${parsed.error}`);
  return parsed.value;
}
