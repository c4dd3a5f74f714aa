// Operator calls for maintenance (POST /api/v1), with Mesos' bodies, status codes and refusals
// (master.proto; src/master/http.cpp in Mesos ≥ 1.9): DRAIN_AGENT, DEACTIVATE_AGENT,
// REACTIVATE_AGENT, MARK_AGENT_GONE, GET/UPDATE_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_STATUS,
// START/STOP_MAINTENANCE. Each validates the whole request before changing anything. Mesos'
// operator doc shows 202 for the schedule and machine calls; its master answers 200, as here.
import * as z from 'zod';
import { badRequest, conflict, notFound } from '../common/errors.ts';
import { describeZodError, ValueId } from '../mesos/scheduler-call.ts';
import type { DrainConfig } from './agent-drain.ts';
import { MachineIdSchema, machineText } from './machine-id.ts';
import { ScheduleSchema } from './maintenance-schedule.ts';
import type { Master } from './master.ts';

export const MAINTENANCE_CALL_TYPES = [
  'DRAIN_AGENT', 'DEACTIVATE_AGENT', 'REACTIVATE_AGENT', 'MARK_AGENT_GONE',
  'GET_MAINTENANCE_SCHEDULE', 'UPDATE_MAINTENANCE_SCHEDULE', 'GET_MAINTENANCE_STATUS', 'START_MAINTENANCE', 'STOP_MAINTENANCE',
] as const;
export type MaintenanceCallType = (typeof MAINTENANCE_CALL_TYPES)[number];

/** Mesos DurationInfo is `{nanoseconds}`; Mesos' own docs send `{seconds}`, so both are read. */
const Duration = z.looseObject({
  nanoseconds: z.union([z.number().refine(Number.isInteger, 'must be an integer'), z.string().regex(/^-?\d+$/, 'must be an integer').transform(Number)]).optional(),
  seconds: z.number({ error: 'must be a number' }).optional(),
});


const DrainCall = z.looseObject({
  drain_agent: z.looseObject({ agent_id: ValueId, max_grace_period: Duration.optional(), mark_gone: z.boolean().optional() }),
});

const UpdateScheduleCall = z.looseObject({ update_maintenance_schedule: z.looseObject({ schedule: ScheduleSchema }) });

export interface CallResult {
  status: number;
  /** A `master::Response` body (its sub-message), or none. */
  body?: object;
}

type Handler = (m: Master, call: Record<string, unknown>) => Promise<CallResult>;

/** Validates `call` against `schema`; a missing sub-message gets Mesos' "Expecting … to be present". */
function parse<T extends z.ZodType>(schema: T, call: Record<string, unknown>, field: string): z.infer<T> {
  if (call[field] === undefined) throw badRequest(`Failed to validate master::Call: Expecting '${field}' to be present`);
  const r = schema.safeParse(call);
  if (!r.success) throw badRequest(describeZodError('Failed to validate master::Call', r.error));
  return r.data;
}

/** `call[field].agent_id.value` of DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE. */
function agentIdIn(call: Record<string, unknown>, field: string): string {
  const sub = parse(z.looseObject({ [field]: z.looseObject({ agent_id: ValueId }) }), call, field)[field] as { agent_id: { value: string } };
  return sub.agent_id.value;
}

/** `call[field].machines` of START_MAINTENANCE, STOP_MAINTENANCE. */
function machinesIn(call: Record<string, unknown>, field: string): z.infer<typeof MachineIdSchema>[] {
  const sub = parse(z.looseObject({ [field]: z.looseObject({ machines: z.array(MachineIdSchema).default([]) }) }), call, field)[field];
  return (sub as { machines: z.infer<typeof MachineIdSchema>[] }).machines;
}

function drainConfig(d: z.infer<typeof DrainCall>['drain_agent']): DrainConfig {
  const g = d.max_grace_period;
  let ns: number | undefined;
  if (g) {
    if (g.nanoseconds === undefined && g.seconds === undefined) throw badRequest("drain_agent.max_grace_period: needs 'nanoseconds' (or 'seconds')");
    ns = g.nanoseconds ?? Math.round((g.seconds ?? 0) * 1e9);
    if (!Number.isFinite(ns) || ns < 0) throw badRequest(`drain_agent.max_grace_period: must not be negative, got ${ns} ns`);
  }
  return { ...(ns !== undefined ? { max_grace_period: { nanoseconds: ns } } : {}), mark_gone: d.mark_gone ?? false };
}

const OK: CallResult = { status: 200 };

const HANDLERS: Record<MaintenanceCallType, Handler> = {
  async DRAIN_AGENT(m, call) {
    const d = parse(DrainCall, call, 'drain_agent').drain_agent;
    const config = drainConfig(d);
    const id = d.agent_id.value;
    if (!m.maintenance.drains.isKnown(id)) throw badRequest(`Unknown agent: drain_agent.agent_id '${id}' is not a registered, recovered or unreachable agent`);
    const machine = m.maintenance.scheduledMachineOf(id);
    if (machine) throw badRequest(`Agent ${id} is part of a maintenance schedule under Machine ${machineText(machine)}`);
    await m.maintenance.drains.drain(id, config);
    return OK;
  },
  async DEACTIVATE_AGENT(m, call) {
    const id = agentIdIn(call, 'deactivate_agent');
    if (!m.maintenance.drains.isKnown(id)) throw badRequest(`Unknown agent: deactivate_agent.agent_id '${id}' is not a registered, recovered or unreachable agent`);
    await m.maintenance.drains.deactivate(id);
    return OK;
  },
  async REACTIVATE_AGENT(m, call) {
    const id = agentIdIn(call, 'reactivate_agent');
    const drains = m.maintenance.drains;
    if (!drains.isDeactivated(id)) throw badRequest(`Agent is not deactivated: reactivate_agent.agent_id '${id}'`);
    if (drains.drains.get(id)?.state === 'DRAINING') throw badRequest(`Agent is still in the DRAINING state: reactivate_agent.agent_id '${id}' (wait for DRAINED)`);
    if (!drains.isKnown(id)) throw conflict(`Agent removed while processing the call: '${id}'`);
    await drains.reactivate(id);
    return OK;
  },
  async MARK_AGENT_GONE(m, call) {
    const id = agentIdIn(call, 'mark_agent_gone');
    const drains = m.maintenance.drains;
    if (drains.gone.has(id)) return OK; // idempotent, as in Mesos
    if (!drains.isKnown(id)) throw notFound(`Agent '${id}' not found (mark_agent_gone.agent_id)`);
    await drains.markGone(id);
    return OK;
  },
  async GET_MAINTENANCE_SCHEDULE(m) {
    return { status: 200, body: { get_maintenance_schedule: { schedule: m.maintenance.schedule.schedule } } };
  },
  async UPDATE_MAINTENANCE_SCHEDULE(m, call) {
    await m.maintenance.updateSchedule(parse(UpdateScheduleCall, call, 'update_maintenance_schedule').update_maintenance_schedule.schedule);
    return OK;
  },
  async GET_MAINTENANCE_STATUS(m) {
    return { status: 200, body: { get_maintenance_status: { status: m.maintenance.status() } } };
  },
  async START_MAINTENANCE(m, call) {
    await m.maintenance.startMaintenance(machinesIn(call, 'start_maintenance'));
    return OK;
  },
  async STOP_MAINTENANCE(m, call) {
    await m.maintenance.stopMaintenance(machinesIn(call, 'stop_maintenance'));
    return OK;
  },
};

export const isMaintenanceCall = (type: string): type is MaintenanceCallType => (MAINTENANCE_CALL_TYPES as readonly string[]).includes(type);

export function maintenanceCall(m: Master, type: MaintenanceCallType, call: Record<string, unknown>): Promise<CallResult> {
  return HANDLERS[type](m, call);
}
