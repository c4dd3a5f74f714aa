// Mesos MachineID (`{hostname, ip}`, mesos.proto) and its rules (src/master/maintenance.cpp):
// at least one field, an IPv4 `ip`, hostnames compared case-insensitively. Spillway agents
// announce one host (name or address), so a machine covers an agent when every field it gives
// matches that agent: `hostname` its host, `ip` its host when that host is an address.
import { isIP, isIPv4 } from 'node:net';
import * as z from 'zod';
import type { AgentRecord } from './records.ts';

export const MachineIdSchema = z.looseObject({ hostname: z.string().optional(), ip: z.string().optional() });
export type MachineId = z.infer<typeof MachineIdSchema>;

/** Only the two fields, empty ones dropped (what is stored and shown). */
export function cleanMachine(id: MachineId): MachineId {
  return { ...(id.hostname ? { hostname: id.hostname } : {}), ...(id.ip ? { ip: id.ip } : {}) };
}

/** Mesos' text for a machine in messages: its JSON. */
export const machineText = (id: MachineId): string => JSON.stringify(cleanMachine(id));

/** Identity of a machine (Mesos' MachineID equality). */
export const machineKey = (id: MachineId): string => `${(id.hostname ?? '').toLowerCase()}|${id.ip ?? ''}`;

/** Why a machine id is invalid, or undefined. */
export function machineProblem(id: MachineId): string | undefined {
  if (!id.hostname && !id.ip) return "Both 'hostname' and 'ip' for a machine are empty";
  if (id.ip && !isIPv4(id.ip)) return `Machine ${machineText(id)}: 'ip' is not a valid IPv4 address`;
  return undefined;
}

/** A list of machines (START/STOP_MAINTENANCE): not empty, each valid, none twice. */
export function machinesProblem(ids: MachineId[]): string | undefined {
  if (ids.length === 0) return 'List of machines is empty';
  const seen = new Set<string>();
  for (const id of ids) {
    const p = machineProblem(id);
    if (p) return p;
    if (seen.has(machineKey(id))) return `Machine '${machineText(id)}' appears more than once in the schedule`;
    seen.add(machineKey(id));
  }
  return undefined;
}

export function machineCoversAgent(id: MachineId, agent: Pick<AgentRecord, 'hostname'>): boolean {
  if (id.hostname && id.hostname.toLowerCase() !== agent.hostname.toLowerCase()) return false;
  if (id.ip && !(isIP(agent.hostname) && id.ip === agent.hostname)) return false;
  return Boolean(id.hostname || id.ip);
}
