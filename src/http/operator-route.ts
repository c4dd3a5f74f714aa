// POST /api/v1 — the Mesos v1 operator API (the calls Spillway implements so far) and the legacy
// GET /master/state.
import type { Context } from 'koa';
import * as z from 'zod';
import { badRequest } from '../common/errors.ts';
import { describeZodError } from '../mesos/scheduler-call.ts';
import type { Master } from '../master/master.ts';
import type { TaskRecord } from '../master/records.ts';
import { getAgents, getFrameworks, getTasks, getVersion, legacyState } from '../master/operator-views.ts';

const OperatorCall = z.looseObject({
  type: z.enum(['GET_HEALTH', 'GET_VERSION', 'GET_STATE', 'GET_AGENTS', 'GET_FRAMEWORKS', 'GET_TASKS']),
});

const COMPLETED_SHOWN = 1000;

async function completedTasks(master: Master): Promise<TaskRecord[]> {
  return (await master.store.readList('completed_tasks', COMPLETED_SHOWN)) as TaskRecord[];
}

export function operatorRoute(master: Master) {
  return async (ctx: Context): Promise<void> => {
    const parsed = OperatorCall.safeParse(ctx.request.body);
    if (!parsed.success) throw badRequest(describeZodError('Failed to validate master::Call', parsed.error));
    const type = parsed.data.type;
    let body: object;
    switch (type) {
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
