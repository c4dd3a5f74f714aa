// Content negotiation shared by the JSON APIs: JSON in, JSON out; protobuf is refused with 415.
import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Next } from 'koa';
import { HttpError } from '../common/errors.ts';

/** Why a request's Content-Type / Accept cannot be served, or undefined when they are fine. */
export function negotiationError(headers: IncomingHttpHeaders): HttpError | undefined {
  const type = headers['content-type'];
  if (!type) return new HttpError(400, "Expecting 'Content-Type' to be present");
  if (/application\/x-protobuf/i.test(type)) {
    return new HttpError(415, "Unsupported 'Content-Type': application/x-protobuf; Spillway accepts application/json only");
  }
  if (!/application\/(json|recordio)/i.test(type)) return new HttpError(415, `Unsupported 'Content-Type': ${type}; expecting application/json`);
  const accept = headers.accept;
  if (accept && !/(application\/json|application\/\*|\*\/\*|application\/recordio)/i.test(accept)) {
    return new HttpError(406, `Unsupported 'Accept': ${accept}; Spillway answers application/json`);
  }
  return undefined;
}

export async function requireJson(ctx: Context, next: Next): Promise<void> {
  const problem = negotiationError(ctx.headers);
  if (problem) throw problem;
  await next();
}
