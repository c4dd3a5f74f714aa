// Turns thrown errors into plain-text HTTP answers (Mesos answers errors as text/plain) and keeps
// stream hang-ups out of the error log.
import type { Context, Next } from 'koa';
import type { Logger } from '../common/logger.ts';
import { HttpError } from '../common/errors.ts';
import { FencedError } from '../store/store.ts';

/** The status and text/plain body an error is answered with; 5xx details stay in the log (`log`). */
export function describeError(e: unknown): { status: number; message: string; log: boolean } {
  // A term that ended mid-call (src/ha): the client should find the new leader and retry, as
  // after Mesos' 503. Expected during a failover, so not logged as a failure.
  if (e instanceof FencedError) return { status: 503, message: 'This master is no longer the leader; retry with the leading master', log: false };
  const err = e as { status?: number; statusCode?: number; message?: string; expose?: boolean; type?: string };
  let status = e instanceof HttpError ? e.status : (err.status ?? err.statusCode ?? 500);
  let message = err.message ?? 'Internal error';
  if (e instanceof SyntaxError || err.type === 'entity.parse.failed') { status = 400; message = `Failed to parse the request body as JSON: ${message}`; }
  if (err.type === 'entity.too.large') { status = 413; message = `Request body is larger than the limit: ${message}`; }
  if (status >= 500 && !(e instanceof HttpError)) message = 'Internal error';
  return { status, message, log: status >= 500 };
}

export function errorResponder(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (e) {
      const { status, message, log: worthLogging } = describeError(e);
      if (worthLogging) log.error({ err: e, path: ctx.path }, 'request failed');
      ctx.status = status;
      ctx.type = 'text/plain';
      ctx.body = message;
    }
  };
}

export function isClientHangup(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE';
}
