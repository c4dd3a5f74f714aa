// POST /api/v1/scheduler — the Mesos v1 scheduler HTTP API (JSON encoding).
import type { Context } from 'koa';
import { badRequest } from '../common/errors.ts';
import { CallSchema, REQUIRED_FIELD, describeZodError, type Call } from '../mesos/scheduler-call.ts';
import type { Master } from '../master/master.ts';
import { handleSchedulerCall, subscribeFramework } from '../master/scheduler-calls.ts';
import { HttpEventSink } from './stream-sink.ts';

export function parseCall(body: unknown): Call {
  const parsed = CallSchema.safeParse(body);
  if (!parsed.success) throw badRequest(describeZodError('Failed to validate scheduler::Call', parsed.error));
  const call = parsed.data;
  const field = REQUIRED_FIELD[call.type];
  if (field && call[field] === undefined) throw badRequest(`Failed to validate scheduler::Call: Expecting '${String(field)}' to be present`);
  return call;
}

export function schedulerRoute(master: Master) {
  return async (ctx: Context): Promise<void> => {
    const call = parseCall(ctx.request.body);
    if (call.type !== 'SUBSCRIBE') {
      try {
        await handleSchedulerCall(master, call, ctx.get('Mesos-Stream-Id') || undefined);
      } catch (e) {
        master.metrics.invalidCalls.inc({ status: String((e as { status?: number }).status ?? 500) });
        throw e;
      }
      ctx.status = 202;
      ctx.body = '';
      return;
    }
    const sink = new HttpEventSink();
    const frameworkId = await subscribeFramework(master, call, sink);
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.set('Mesos-Stream-Id', sink.id);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = sink.body;
    ctx.res.on('close', () => {
      sink.markClosed();
      master.frameworkDisconnected(frameworkId, sink);
    });
  };
}
