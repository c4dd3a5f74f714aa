// POST /api/v1/scheduler — the Mesos v1 scheduler HTTP API (JSON encoding).
import type { IncomingMessage } from 'node:http';
import { Counter, Gauge } from 'prom-client';
import { HttpError, badRequest, unavailable } from '../common/errors.ts';
import { CallSchema, REQUIRED_FIELD, describeZodError, parsePlainAcknowledge, type Call } from '../mesos/scheduler-call.ts';
import type { Master } from '../master/master.ts';
import { authorizeCall, handleSchedulerCall, subscribeFramework } from '../master/scheduler-calls.ts';
import { CapacityExceededError, capacityExceededMessage, type FrameworkRateLimiter } from '../master/rate-limits.ts';
import type { CallHandler } from './call-endpoint.ts';
import { HttpEventSink } from './stream-sink.ts';
import { errorEvent } from '../master/mesos-json.ts';

export function parseCall(body: unknown): Call {
  const ack = parsePlainAcknowledge(body);
  if (ack) return ack;
  const parsed = CallSchema.safeParse(body);
  if (!parsed.success) throw badRequest(describeZodError('Failed to validate scheduler::Call', parsed.error));
  const call = parsed.data;
  const field = REQUIRED_FIELD[call.type];
  if (field && call[field] === undefined) throw badRequest(`Failed to validate scheduler::Call: Expecting '${String(field)}' to be present`);
  return call;
}

export function schedulerCalls(master: Master, limiter?: FrameworkRateLimiter): CallHandler {
  const throttle = limiter ? rateLimitGate(master, limiter) : undefined;
  return async (body, req) => {
    const call = parseCall(body);
    if (call.type !== 'SUBSCRIBE') {
      const streamId = header(req, 'mesos-stream-id');
      try {
        await throttle?.(call, streamId);
        await handleSchedulerCall(master, call, streamId);
      } catch (e) {
        master.metrics.invalidCalls.inc({ status: String((e as { status?: number }).status ?? 500) });
        throw e;
      }
      return { status: 202 };
    }
    // As Mesos: a SUBSCRIBE opens a new stream, so it may not name one.
    if (header(req, 'mesos-stream-id') !== undefined) throw badRequest("Subscribe calls should not include the 'Mesos-Stream-Id' header");
    const sink = new HttpEventSink();
    const frameworkId = await subscribeFramework(master, call, sink);
    return {
      status: 200,
      headers: { 'Mesos-Stream-Id': sink.id },
      sink,
      onClose: () => {
        sink.markClosed();
        if (frameworkId !== undefined) master.frameworkDisconnected(frameworkId, sink);
      },
    };
  };
}

/** A request header as one string ('' and absent both count as absent). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s || undefined;
}

/**
 * Framework rate limiting (docs/API.md "Rate limits"): every call but SUBSCRIBE of a subscribed
 * framework waits for a permit of its principal's limiter (as Mesos throttles every message of a
 * registered framework), in arrival order, and is then processed. Calls that would be refused
 * anyway (unknown framework, wrong stream id) are refused at once: they neither wait nor use the
 * framework's capacity.
 *
 * When `capacity` calls already wait, the call is dropped: the framework gets Mesos' ERROR event
 * ("Message REVIVE dropped: capacity(N) exceeded") and the request is answered
 * **429 Too Many Requests** (RFC 6585: "the user has sent too many requests in a given amount of
 * time") with `Retry-After`. Not 503: the master is fine and other principals are served; a 503
 * tells Mesos clients the master is unavailable and makes them look for another leader.
 */
function rateLimitGate(master: Master, limiter: FrameworkRateLimiter) {
  const dropped = new Counter({
    name: 'spillway_scheduler_calls_dropped_total', help: 'Scheduler calls dropped because their rate limiter was at capacity',
    labelNames: ['limiter'], registers: [master.metrics.registry],
  });
  new Gauge({
    name: 'spillway_scheduler_calls_waiting', help: 'Scheduler calls waiting for a rate-limit permit', labelNames: ['limiter'],
    registers: [master.metrics.registry],
    collect() {
      for (const l of limiter.limiters()) this.set({ limiter: l.key }, l.throttle.waiting);
    },
  });
  return async (call: Call, streamId: string | undefined): Promise<void> => {
    const f = authorizeCall(master, call, streamId);
    const principal = f.record.info.principal;
    const l = limiter.limiterFor(principal);
    if (!l) return;
    try {
      await l.throttle.acquire();
    } catch (e) {
      if (!(e instanceof CapacityExceededError)) throw unavailable(`Call ${call.type} not processed: ${(e as Error).message}`);
      const message = capacityExceededMessage(call.type, e.capacity);
      dropped.inc({ limiter: l.key });
      master.log.warn({ frameworkId: f.record.id, principal, limiter: l.key, call: call.type }, message);
      f.stream?.send(errorEvent(message));
      throw new HttpError(429, message, { 'Retry-After': String(Math.max(1, Math.ceil(l.throttle.waiting / l.throttle.rate))) });
    }
  };
}
