// Content negotiation shared by the JSON APIs: JSON in, JSON out; protobuf is refused with 415.
import type { Context, Next } from 'koa';

export async function requireJson(ctx: Context, next: Next): Promise<void> {
  const type = ctx.get('Content-Type');
  if (!type) {
    ctx.throw(400, "Expecting 'Content-Type' to be present");
  }
  if (/application\/x-protobuf/i.test(type)) {
    ctx.throw(415, "Unsupported 'Content-Type': application/x-protobuf; Spillway accepts application/json only");
  }
  if (!/application\/(json|recordio)/i.test(type)) {
    ctx.throw(415, `Unsupported 'Content-Type': ${type}; expecting application/json`);
  }
  const accept = ctx.get('Accept');
  if (accept && !/(application\/json|application\/\*|\*\/\*|application\/recordio)/i.test(accept)) {
    ctx.throw(406, `Unsupported 'Accept': ${accept}; Spillway answers application/json`);
  }
  await next();
}
