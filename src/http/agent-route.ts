// POST /api/v1/agent — Spillway's agent protocol (docs/AGENT-PROTOCOL.md). Who may make a call is
// decided first (src/auth/agent-auth.ts), then the call goes to the master.
import { badRequest } from '../common/errors.ts';
import { describeZodError } from '../mesos/scheduler-call.ts';
import type { Master } from '../master/master.ts';
import { AgentCallSchema, handleAgentCall, parsePlainUpdate, subscribeAgent, type AgentCall } from '../master/agent-calls.ts';
import { CREDENTIAL_HEADER, type AgentAuthority } from '../auth/agent-auth.ts';
import type { CallHandler } from './call-endpoint.ts';
import { header } from './scheduler-route.ts';
import { HttpEventSink } from './stream-sink.ts';

export function agentCalls(master: Master, auth: AgentAuthority): CallHandler {
  return async (body, req) => {
    const call = parsePlainUpdate(body) ?? validated(body);
    const peer = req.socket.remoteAddress;
    const authorization = header(req, 'authorization');
    if (call.type !== 'SUBSCRIBE') {
      auth.checkCall(call, peer, authorization);
      await handleAgentCall(master, call, header(req, 'mesos-stream-id'));
      return { status: 202 };
    }
    if (!call.subscribe) throw badRequest("Expecting 'subscribe' to be present");
    const admission = await auth.admitSubscribe(call, peer, authorization);
    const sink = new HttpEventSink();
    let agentId: string | undefined;
    let credential: string | undefined;
    try {
      agentId = await subscribeAgent(master, call, sink);
      credential = await admission.finish(agentId);
    } catch (e) {
      admission.abort();
      sink.markClosed();
      if (agentId) master.agentDisconnected(agentId, sink);
      throw e;
    }
    const id = agentId;
    return {
      status: 200,
      headers: { 'Mesos-Stream-Id': sink.id, ...(credential ? { [CREDENTIAL_HEADER]: credential } : {}) },
      sink,
      onClose: () => {
        sink.markClosed();
        master.agentDisconnected(id, sink);
      },
    };
  };
}

function validated(body: unknown): AgentCall {
  const parsed = AgentCallSchema.safeParse(body);
  if (!parsed.success) throw badRequest(describeZodError('Failed to validate agent call', parsed.error));
  return parsed.data;
}
