// POST /api/v1/agent — Spillway's agent protocol (docs/AGENT-PROTOCOL.md).
import type { Context } from 'koa';
import { badRequest } from '../common/errors.ts';
import { describeZodError } from '../mesos/scheduler-call.ts';
import type { Master } from '../master/master.ts';
import { AgentCallSchema, handleAgentCall, subscribeAgent } from '../master/agent-calls.ts';
import { HttpEventSink } from './stream-sink.ts';

export function agentRoute(master: Master) {
  return async (ctx: Context): Promise<void> => {
    const parsed = AgentCallSchema.safeParse(ctx.request.body);
    if (!parsed.success) throw badRequest(describeZodError('Failed to validate agent call', parsed.error));
    const call = parsed.data;
    if (call.type !== 'SUBSCRIBE') {
      await handleAgentCall(master, call, ctx.get('Mesos-Stream-Id') || undefined);
      ctx.status = 202;
      ctx.body = '';
      return;
    }
    const sink = new HttpEventSink();
    const agentId = await subscribeAgent(master, call, sink);
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.set('Mesos-Stream-Id', sink.id);
    ctx.body = sink.body;
    ctx.res.on('close', () => {
      sink.markClosed();
      master.agentDisconnected(agentId, sink);
    });
  };
}
