// The maintenance schedule and machine modes of Mesos' maintenance primitives (docs/maintenance.md,
// src/master/maintenance.cpp): posting a schedule puts its machines in DRAINING mode (machines left
// out go back UP); START_MAINTENANCE takes DRAINING machines DOWN; STOP_MAINTENANCE brings DOWN
// machines UP and out of the schedule. Validation and messages are Mesos'. Persisted in the
// `maintenance` hash (key `schedule`) and the `machines` hash (machine key → MachineRecord).
import * as z from 'zod';
import { badRequest } from '../common/errors.ts';
import type { WriteOp } from '../store/store.ts';
import { cleanMachine, machineCoversAgent, machineKey, machineProblem, machinesProblem, machineText, MachineIdSchema, type MachineId } from './machine-id.ts';
import type { Master } from './master.ts';
import type { AgentRecord } from './records.ts';

const Nanos = z.looseObject({ nanoseconds: z.union([z.number().refine(Number.isInteger, 'must be an integer'), z.string().regex(/^-?\d+$/, 'must be an integer').transform(Number)]) });

export const UnavailabilitySchema = z.looseObject({ start: Nanos, duration: Nanos.optional() });
export const WindowSchema = z.looseObject({ machine_ids: z.array(MachineIdSchema), unavailability: UnavailabilitySchema });
export const ScheduleSchema = z.looseObject({ windows: z.array(WindowSchema).default([]) });

export interface Unavailability { start: { nanoseconds: number }; duration?: { nanoseconds: number } }
export interface Window { machine_ids: MachineId[]; unavailability: Unavailability }
export interface Schedule { windows: Window[] }
export type MachineMode = 'DRAINING' | 'DOWN';
/** One record of the `machines` hash: a machine in the schedule (UP machines are not kept). */
export interface MachineRecord { id: MachineId; mode: MachineMode; unavailability: Unavailability }

const cleanUnavailability = (u: z.infer<typeof UnavailabilitySchema>): Unavailability => ({
  start: { nanoseconds: u.start.nanoseconds }, ...(u.duration ? { duration: { nanoseconds: u.duration.nanoseconds } } : {}),
});

export class MaintenanceSchedule {
  schedule: Schedule = { windows: [] };
  readonly machines = new Map<string, MachineRecord>();

  constructor(private readonly m: Master) {}

  async recover(): Promise<void> {
    const [meta, machines] = await Promise.all([this.m.store.readHash('maintenance'), this.m.store.readHash('machines')]);
    this.schedule = (meta.get('schedule') as Schedule | undefined) ?? { windows: [] };
    for (const [k, v] of machines) this.machines.set(k, v as MachineRecord);
  }

  /** The scheduled machine an agent runs on, if any. */
  machineOf(agent: Pick<AgentRecord, 'hostname'>): MachineRecord | undefined {
    for (const r of this.machines.values()) if (machineCoversAgent(r.id, agent)) return r;
    return undefined;
  }

  /**
   * UPDATE_MAINTENANCE_SCHEDULE: replaces the schedule. Returns the keys of machines whose mode or
   * unavailability changed (their agents' offers and inverse offers must be re-made).
   */
  async update(input: z.infer<typeof ScheduleSchema>): Promise<string[]> {
    const schedule: Schedule = { windows: input.windows.map((w) => ({ machine_ids: w.machine_ids.map(cleanMachine), unavailability: cleanUnavailability(w.unavailability) })) };
    const next = new Map<string, MachineRecord>();
    schedule.windows.forEach((w, i) => {
      if (w.machine_ids.length === 0) throw badRequest(`update_maintenance_schedule.schedule.windows[${i}]: List of machines in the maintenance window is empty`);
      if ((w.unavailability.duration?.nanoseconds ?? 0) < 0) throw badRequest(`update_maintenance_schedule.schedule.windows[${i}].unavailability: Unavailability 'duration' is negative`);
      for (const id of w.machine_ids) {
        const p = machineProblem(id);
        if (p) throw badRequest(`update_maintenance_schedule.schedule.windows[${i}].machine_ids: ${p}`);
        const key = machineKey(id);
        if (next.has(key)) throw badRequest(`update_maintenance_schedule.schedule.windows[${i}].machine_ids: Machine '${machineText(id)}' appears more than once in the schedule`);
        next.set(key, { id, mode: this.machines.get(key)?.mode ?? 'DRAINING', unavailability: w.unavailability });
      }
    });
    for (const [key, r] of this.machines) {
      if (r.mode === 'DOWN' && !next.has(key)) throw badRequest(`Machine '${machineText(r.id)}' is deactivated and cannot be removed from the schedule`);
    }
    const changed: string[] = [];
    const ops: WriteOp[] = [{ op: 'put', hash: 'maintenance', id: 'schedule', value: schedule }];
    for (const [key, r] of next) {
      const old = this.machines.get(key);
      if (!old || JSON.stringify(old.unavailability) !== JSON.stringify(r.unavailability)) changed.push(key);
      ops.push({ op: 'put', hash: 'machines', id: key, value: r });
    }
    for (const key of this.machines.keys()) {
      if (next.has(key)) continue;
      changed.push(key);
      ops.push({ op: 'delete', hash: 'machines', id: key });
    }
    await this.m.persist(ops);
    this.schedule = schedule;
    this.machines.clear();
    for (const [k, v] of next) this.machines.set(k, v);
    this.m.log.info({ windows: schedule.windows.length, machines: next.size, changed: changed.length }, 'maintenance schedule updated');
    return changed;
  }

  /** START_MAINTENANCE: DRAINING → DOWN. Returns the machines brought down. */
  async start(ids: MachineId[]): Promise<MachineRecord[]> {
    const records = this.check(ids, 'start_maintenance', 'DRAINING', 'cannot be brought down');
    const down = records.map((r) => ({ ...r, mode: 'DOWN' as const }));
    await this.m.persist(down.map((r) => ({ op: 'put', hash: 'machines', id: machineKey(r.id), value: r })));
    for (const r of down) this.machines.set(machineKey(r.id), r);
    return down;
  }

  /** STOP_MAINTENANCE: DOWN → UP, and out of the schedule. Returns the machines brought up. */
  async stop(ids: MachineId[]): Promise<MachineRecord[]> {
    const records = this.check(ids, 'stop_maintenance', 'DOWN', 'cannot be brought up');
    const keys = new Set(records.map((r) => machineKey(r.id)));
    const schedule: Schedule = {
      windows: this.schedule.windows
        .map((w) => ({ ...w, machine_ids: w.machine_ids.filter((id) => !keys.has(machineKey(id))) }))
        .filter((w) => w.machine_ids.length > 0),
    };
    await this.m.persist([
      { op: 'put', hash: 'maintenance', id: 'schedule', value: schedule },
      ...[...keys].map((id) => ({ op: 'delete' as const, hash: 'machines' as const, id })),
    ]);
    this.schedule = schedule;
    for (const k of keys) this.machines.delete(k);
    return records;
  }

  private check(ids: MachineId[], field: string, mode: MachineMode, what: string): MachineRecord[] {
    const clean = ids.map(cleanMachine);
    const p = machinesProblem(clean);
    if (p) throw badRequest(`${field}.machines: ${p}`);
    return clean.map((id) => {
      const r = this.machines.get(machineKey(id));
      if (!r) throw badRequest(`${field}.machines: Machine '${machineText(id)}' is not part of a maintenance schedule`);
      if (r.mode !== mode) throw badRequest(`${field}.machines: Machine '${machineText(id)}' is not in ${mode} mode and ${what}`);
      return r;
    });
  }
}
