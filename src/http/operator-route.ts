// POST /api/v1 — the Mesos v1 operator API (the calls Spillway implements so far) and the legacy
// GET /master/state.
import type { Context } from 'koa';
import * as z from 'zod';
import { badRequest } from '../common/errors.ts';
import { describeZodError } from '../mesos/scheduler-call.ts';
import type { Master } from '../master/master.ts';
import type { TaskRecord } from '../master/records.ts';
import { decodeTaskRecord } from '../master/task-json.ts';
import { getAgents, getFrameworks, getQuota, getRoles, getTasks, getVersion, getWeights, legacyState } from '../master/operator-views.ts';
import { MAINTENANCE_CALL_TYPES, isMaintenanceCall, maintenanceCall } from '../master/maintenance-calls.ts';
import { ReserveSchema, UpdateQuotaSchema, UpdateWeightsSchema, operatorReservation, updateQuota, updateWeights } from '../master/operator-calls.ts';
import { dropNulls } from '../mesos/proto-json.ts';

const OperatorCall = z.looseObject({
  type: z.enum(['GET_HEALTH', 'GET_VERSION', 'GET_STATE', 'GET_AGENTS', 'GET_FRAMEWORKS', 'GET_TASKS', 'GET_ROLES',
    'GET_WEIGHTS', 'UPDATE_WEIGHTS', 'GET_QUOTA', 'UPDATE_QUOTA', 'RESERVE_RESOURCES', 'UNRESERVE_RESOURCES', ...MAINTENANCE_CALL_TYPES]),
  update_weights: UpdateWeightsSchema.optional(),
  update_quota: UpdateQuotaSchema.optional(),
  reserve_resources: ReserveSchema.optional(),
  unreserve_resources: ReserveSchema.optional(),
});

/** Parses the call's sub-message, naming the field on failure. */
function need<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw badRequest(`Failed to validate master::Call: Expecting '${field}' to be present`);
  return value;
}

const COMPLETED_SHOWN = 1000;

type ParsedCall = z.infer<typeof OperatorCall>;

const MUTATIONS: Record<'UPDATE_WEIGHTS' | 'UPDATE_QUOTA' | 'RESERVE_RESOURCES' | 'UNRESERVE_RESOURCES', { status: number; run: (m: Master, c: ParsedCall) => Promise<void> }> = {
  UPDATE_WEIGHTS: { status: 200, run: (m, c) => updateWeights(m, need(c.update_weights, 'update_weights')) },
  UPDATE_QUOTA: { status: 200, run: (m, c) => updateQuota(m, need(c.update_quota, 'update_quota')) },
  RESERVE_RESOURCES: { status: 202, run: (m, c) => operatorReservation(m, 'RESERVE', need(c.reserve_resources, 'reserve_resources')) },
  UNRESERVE_RESOURCES: { status: 202, run: (m, c) => operatorReservation(m, 'UNRESERVE', need(c.unreserve_resources, 'unreserve_resources')) },
};

async function completedTasks(master: Master): Promise<TaskRecord[]> {
  return (await master.store.readList('completed_tasks', COMPLETED_SHOWN)).map(decodeTaskRecord);
}

export function operatorRoute(master: Master) {
  return async (ctx: Context): Promise<void> => {
    const parsed = OperatorCall.safeParse(dropNulls(ctx.request.body));
    if (!parsed.success) throw badRequest(describeZodError('Failed to validate master::Call', parsed.error));
    const call = parsed.data;
    const type = call.type;
    // Calls that change policy answer with a status and no body (Mesos: 200 for updates, 202 for reservations).
    if (isMaintenanceCall(type)) {
      const r = await maintenanceCall(master, type, call);
      ctx.status = r.status;
      if (r.body) ctx.body = { type, ...r.body };
      else ctx.body = '';
      return;
    }
    const mutation = MUTATIONS[type as keyof typeof MUTATIONS];
    if (mutation) {
      await mutation.run(master, call);
      ctx.status = mutation.status;
      ctx.body = '';
      return;
    }
    let body: object = {};
    switch (type) {
      case 'GET_ROLES':
        body = { get_roles: getRoles(master) };
        break;
      case 'GET_WEIGHTS':
        body = { get_weights: getWeights(master) };
        break;
      case 'GET_QUOTA':
        body = { get_quota: getQuota(master) };
        break;
      case 'GET_HEALTH':
        body = { get_health: { healthy: true } };
        break;
      case 'GET_VERSION':
        body = { get_version: getVersion() };
        break;
      case 'GET_AGENTS':
        body = { get_agents: getAgents(master) };
        break;
      case 'GET_FRAMEWORKS':
        body = { get_frameworks: getFrameworks(master) };
        break;
      case 'GET_TASKS':
        body = { get_tasks: getTasks(master, await completedTasks(master)) };
        break;
      case 'GET_STATE':
        body = {
          get_state: {
            get_tasks: getTasks(master, await completedTasks(master)),
            get_executors: { executors: [], orphan_executors: [] },
            get_frameworks: getFrameworks(master),
            get_agents: getAgents(master),
          },
        };
        break;
    }
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = { type, ...body };
  };
}

export function legacyStateRoute(master: Master, selfUrl: () => string) {
  return async (ctx: Context): Promise<void> => {
    ctx.type = 'application/json';
    ctx.body = legacyState(master, selfUrl(), await completedTasks(master));
  };
}
