// The autoscaler on the master (docs/API.md):
//   GET  /v1/decisions?since=&limit=   the decision log, oldest first after `since`
//   GET  /v1/plan                      a dry run: what an evaluation would do now (changes nothing)
//   GET  /v1/autoscaler/instances      the provisioning records
//   POST /v1/interruptions             a spot interruption notice for an agent or instance
import type Router from '@koa/router';
import type { Context } from 'koa';
import * as z from 'zod';
import { bodyParser } from '@koa/bodyparser';
import { requireJson } from './content-type.ts';
import { badRequest, unavailable } from '../common/errors.ts';
import type { Master } from '../master/master.ts';
import type { Autoscaler } from '../autoscaler/autoscaler.ts';
import { streamIdAt } from '../autoscaler/decision-log.ts';
import { reportInterruption } from '../autoscaler/interruptions.ts';

/** Filled in by run-master once the autoscaler exists (it needs the server's URL). */
export interface AutoscalerHolder {
  autoscaler?: Autoscaler;
}

const MAX_LIMIT = 1000;

const InterruptionBody = z.object({
  agent_id: z.string().min(1).optional(),
  instance_id: z.string().min(1).optional(),
  /** Seconds from now until the machine is taken back (default 120, as EC2 spot gives). */
  deadline_seconds: z.number().nonnegative().max(86_400).optional(),
  reason: z.string().max(500).optional(),
  source: z.enum(['agent', 'operator']).default('operator'),
}).strict().refine((b) => (b.agent_id === undefined) !== (b.instance_id === undefined), { message: 'give exactly one of agent_id and instance_id' });

function sinceParam(v: unknown): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest('since: give it once');
  if (/^\d+-\d+$/.test(v)) return v;
  if (/^\d+$/.test(v)) return streamIdAt(Number(v));
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`since: '${v}' is not a decision id (1700000000000-0), a time in ms or an ISO 8601 time`);
  return streamIdAt(t);
}

function limitParam(v: unknown): number {
  if (v === undefined || v === '') return 100;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw badRequest(`limit: '${String(v)}' must be a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

function need(holder: AutoscalerHolder): Autoscaler {
  if (!holder.autoscaler) throw unavailable('the autoscaler is not running on this master');
  return holder.autoscaler;
}

export function mountAutoscalerRoutes(router: Router, master: Master, holder: AutoscalerHolder): void {
  router.get('/v1/decisions', async (ctx: Context) => {
    const since = sinceParam(ctx.query.since);
    const limit = limitParam(ctx.query.limit);
    const decisions = await need(holder).decisions.read({ since, limit });
    ctx.body = { decisions, next: decisions.at(-1)?.id ?? since ?? null };
  });

  router.get('/v1/plan', async (ctx: Context) => {
    const loop = need(holder).loop;
    if (!loop) throw unavailable('this master is not the leader: ask the leader for a plan');
    const ev = await loop.dryRun();
    ctx.body = {
      dryRun: true,
      ...ev.decision,
      at: new Date(ev.now).toISOString(),
      ...(ev.plan ? { plan: { steps: ev.plan.steps, unmet: ev.plan.unmet, impossible: ev.plan.impossible, skipped: ev.plan.skipped, placements: { ...ev.plan.placements, agents: undefined } } } : {}),
      ...(ev.scaleDown ? { scaleDown: { victims: ev.scaleDown.victims, kept: ev.scaleDown.kept } } : {}),
    };
  });

  router.get('/v1/autoscaler/instances', async (ctx: Context) => {
    const list = await need(holder).records.instances();
    ctx.body = { instances: list.sort((a, b) => a.launchedAt - b.launchedAt || (a.instanceId < b.instanceId ? -1 : 1)) };
  });

  router.post('/v1/interruptions', requireJson, bodyParser({ enableTypes: ['json'], jsonLimit: '64kb' }), async (ctx: Context) => {
    const a = need(holder);
    const parsed = InterruptionBody.safeParse(ctx.request.body ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw badRequest(`${i.path.join('.') || '(body)'}: ${i.message}`);
    }
    const b = parsed.data;
    const notice = await reportInterruption(a, master, {
      ...(b.agent_id ? { agentId: b.agent_id } : {}), ...(b.instance_id ? { instanceId: b.instance_id } : {}),
      deadline: master.clock.now() + (b.deadline_seconds ?? 120) * 1000, reason: b.reason ?? `reported by the ${b.source}`, source: b.source,
    });
    ctx.status = 202;
    ctx.body = { instance_id: notice.instanceId, agent_id: notice.agentId ?? null, pool: notice.pool, deadline: new Date(notice.deadline).toISOString() };
  });
}
