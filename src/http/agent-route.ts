// POST /api/v1/agent — Spillway's agent protocol (docs/AGENT-PROTOCOL.md).
import { badRequest } from '../common/errors.ts';
import { describeZodError } from '../mesos/scheduler-call.ts';
import type { Master } from '../master/master.ts';
import { AgentCallSchema, handleAgentCall, subscribeAgent } from '../master/agent-calls.ts';
import type { CallHandler } from './call-endpoint.ts';
import { header } from './scheduler-route.ts';
import { HttpEventSink } from './stream-sink.ts';

export function agentCalls(master: Master): CallHandler {
  return async (body, req) => {
    const parsed = AgentCallSchema.safeParse(body);
    if (!parsed.success) throw badRequest(describeZodError('Failed to validate agent call', parsed.error));
    const call = parsed.data;
    if (call.type !== 'SUBSCRIBE') {
      await handleAgentCall(master, call, header(req, 'mesos-stream-id'));
      return { status: 202 };
    }
    const sink = new HttpEventSink();
    const agentId = await subscribeAgent(master, call, sink);
    return {
      status: 200,
      headers: { 'Mesos-Stream-Id': sink.id },
      stream: sink.body,
      onClose: () => {
        sink.markClosed();
        master.agentDisconnected(agentId, sink);
      },
    };
  };
}
