// Autoscaling policies on the master (docs/POLICIES.md):
//   GET  /v1/policies/current     the policy in force (404 when none); `Accept: text/yaml` → its source
//   GET  /v1/policies             the versions kept, newest first
//   GET  /v1/policies/:version    one kept version (404 when unknown or no longer kept)
//   POST /v1/policies             body = policy YAML (or JSON) → validated → stored → 201 {version}
//   POST /v1/policies/validate    body = policy YAML (or JSON) → 200 {valid, warnings} or 400
// A policy that does not validate is answered 400 with every problem: file "(request)", line, path
// and reason; nothing is written.
import type { Context } from 'koa';
import type Router from '@koa/router';
import { HttpError } from '../common/errors.ts';
import type { Master } from '../master/master.ts';
import { validatePolicy, type PolicyProblem } from '../autoscaler/policy-schema.ts';
import { InvalidPolicyError, PolicyStore, summarise } from '../autoscaler/policy-store.ts';

export { currentPolicy } from '../autoscaler/policy-store.ts';

/** Errors in a posted policy name this as their file. */
export const REQUEST_FILE = '(request)';
const POLICY_TYPES = /^(text\/yaml|application\/yaml|application\/x-yaml|text\/x-yaml|application\/json)\b/i;
const DEFAULT_LIMIT = 1024 * 1024;

/** The request body as text, refusing other content types and bodies above `limit` bytes. */
async function policyText(ctx: Context, limit: number): Promise<string> {
  const type = ctx.get('Content-Type');
  if (!type) throw new HttpError(400, "Expecting 'Content-Type' to be present (text/yaml, application/yaml or application/json)");
  if (!POLICY_TYPES.test(type)) throw new HttpError(415, `Unsupported 'Content-Type': ${type}; expecting text/yaml, application/yaml or application/json`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `Request body is larger than the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function invalid(ctx: Context, problems: PolicyProblem[]): void {
  ctx.status = 400;
  ctx.body = { error: 'invalid policy', problems };
}

function notFound(ctx: Context, error: string): void {
  ctx.status = 404;
  ctx.body = { error };
}

/** Mounts the policy routes on the master's router. `bodyLimit` in bytes (default 1 MiB). */
export function mountPolicyRoutes(router: Router, master: Master, opts: { bodyLimit?: number } = {}): void {
  const limit = opts.bodyLimit ?? DEFAULT_LIMIT;
  const policies = (): PolicyStore => new PolicyStore(master.store, { write: (ops) => master.persist(ops), clock: master.clock });

  router.get('/v1/policies/current', async (ctx) => {
    const current = await policies().current();
    if (!current) return notFound(ctx, 'no policy has been applied yet (spillway policy apply FILE)');
    if (ctx.accepts('application/json', 'text/yaml', 'application/yaml') !== 'application/json') {
      ctx.type = 'text/yaml';
      ctx.body = current.source;
      return;
    }
    ctx.body = current;
  });

  router.get('/v1/policies', async (ctx) => {
    ctx.body = { versions: await policies().summaries() };
  });

  router.get('/v1/policies/:version', async (ctx) => {
    const n = Number(ctx.params.version);
    if (!Number.isInteger(n) || n < 1) throw new HttpError(400, `'${ctx.params.version}' is not a policy version (a whole number ≥ 1)`);
    const all = await policies().history();
    const i = all.findIndex((v) => v.version === n);
    if (i < 0) return notFound(ctx, `policy version ${n} is not kept (kept: ${all.map((v) => v.version).join(', ') || 'none'})`);
    ctx.body = { ...all[i], current: i === 0 };
  });

  router.post('/v1/policies/validate', async (ctx) => {
    const checked = validatePolicy(await policyText(ctx, limit), REQUEST_FILE);
    if (!checked.valid) return invalid(ctx, checked.errors);
    ctx.body = { valid: true, warnings: checked.warnings };
  });

  router.post('/v1/policies', async (ctx) => {
    const text = await policyText(ctx, limit);
    const file = typeof ctx.query.file === 'string' && ctx.query.file ? ctx.query.file.slice(0, 200) : undefined;
    try {
      const v = await policies().apply(text, { file, errorFile: REQUEST_FILE });
      master.log.info({ version: v.version, sha256: v.sha256, file, pools: v.policy.pools.length }, 'autoscaling policy applied');
      ctx.status = 201;
      ctx.body = { ...summarise(v, true), warnings: v.warnings };
    } catch (e) {
      if (e instanceof InvalidPolicyError) return invalid(ctx, e.problems);
      throw e;
    }
  });
}
