// Bootstrap and join tokens on the master (docs/API.md "Bootstrap and join tokens"):
//   GET    /v1/agent/bundle          the agent bundle (application/gzip); its sha256 in X-Spillway-Bundle-Sha256
//   GET    /v1/agent/bundle.sha256   `<sha256>  spillway-agent.tar.gz` (sha256sum's format)
//   POST   /v1/agent/user-data       {pool, format?, ttlSeconds?, …} → {userData, joinToken, token}: mints a token
//   POST   /v1/tokens                {pool, ttlSeconds?, instanceId?} → 201 {joinToken, token}
//   GET    /v1/tokens                {tokens: [...]} — never the secrets
//   DELETE /v1/tokens/:id            revokes an unused token → {token}
//   POST   /v1/tokens/:id/instance   {instanceId} → binds a launch's token to the instance it went to
// Bad bodies get 400 naming the field; nothing is minted or changed then.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import * as z from 'zod';
import { HttpError, notFound } from '../common/errors.ts';
import type { Master } from '../master/master.ts';
import { MAX_TOKEN_TTL_MS, viewOf, type JoinTokens } from '../auth/join-tokens.ts';
import { agentBundle, BUNDLE_FILE } from '../bootstrap/agent-bundle.ts';
import type { BootstrapService } from '../bootstrap/bootstrap-service.ts';
import { USER_DATA_FORMATS, UserDataError } from '../bootstrap/user-data.ts';

const PoolName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a pool name: lowercase letters, digits and dashes (≤ 63)');
const TtlSeconds = z.number().int().min(1).max(MAX_TOKEN_TTL_MS / 1000, `at most ${MAX_TOKEN_TTL_MS / 1000} s (7 days)`);
const InstanceId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, ".", "_", ":" and "-"');

const TokenRequest = z.object({ pool: PoolName, ttlSeconds: TtlSeconds.optional(), instanceId: InstanceId.optional() }).strict();
const UserDataRequest = z.object({
  pool: PoolName,
  format: z.enum(USER_DATA_FORMATS).default('cloud-config'),
  ttlSeconds: TtlSeconds.optional(),
  instanceId: InstanceId.optional(),
  launch: z.object({ token: z.string().min(1).max(256), index: z.number().int().min(0).max(10_000) }).strict().optional(),
  provider: z.enum(['local', 'static', 'aws-ec2', 'gcp-compute']).optional(),
  attributes: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), z.string().max(256)).optional(),
  masterUrl: z.url({ protocol: /^https?$/ }).optional(),
  prefix: z.string().min(1).max(200).optional(),
  metadataUrl: z.url({ protocol: /^https?$/ }).optional(),
  userData: z.boolean().default(true),
}).strict();
const BindRequest = z.object({ instanceId: InstanceId }).strict();

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new HttpError(400, `${i.path.join('.') || '(body)'}: ${i.message}`);
}

export interface BootstrapRouteDeps {
  master: Master;
  tokens: JoinTokens;
  bootstrap: BootstrapService;
  json: Middleware;
}

export function mountBootstrapRoutes(router: Router, { master, tokens, bootstrap, json }: BootstrapRouteDeps): void {
  const now = () => master.clock.now();

  router.get('/v1/agent/bundle', async (ctx) => {
    const b = await agentBundle();
    ctx.type = 'application/gzip';
    ctx.set('Content-Disposition', `attachment; filename="${BUNDLE_FILE}"`);
    ctx.set('X-Spillway-Bundle-Sha256', b.sha256);
    ctx.set('ETag', `"${b.sha256}"`);
    ctx.body = b.tarball;
  });

  router.get('/v1/agent/bundle.sha256', async (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = `${(await agentBundle()).sha256}  ${BUNDLE_FILE}\n`;
  });

  router.post('/v1/agent/user-data', json, async (ctx) => {
    const req = parse(UserDataRequest, ctx.request.body);
    try {
      const prepared = await bootstrap.prepare({
        ...req, ttlMs: req.ttlSeconds === undefined ? undefined : req.ttlSeconds * 1000,
        origin: ctx.get('Host') ? `${ctx.protocol}://${ctx.get('Host')}` : undefined,
      });
      ctx.body = prepared;
    } catch (e) {
      if (e instanceof UserDataError) throw new HttpError(400, e.message);
      throw e;
    }
  });

  router.post('/v1/tokens', json, async (ctx) => {
    const req = parse(TokenRequest, ctx.request.body);
    const minted = await tokens.mint({ pool: req.pool, ttlMs: req.ttlSeconds === undefined ? undefined : req.ttlSeconds * 1000, instanceId: req.instanceId });
    master.log.info({ tokenId: minted.record.id, pool: req.pool, expiresAt: minted.record.expiresAt }, 'join token created');
    ctx.status = 201;
    ctx.body = { joinToken: minted.token, token: viewOf(minted.record, now()) };
  });

  router.get('/v1/tokens', async (ctx) => {
    ctx.body = { tokens: (await tokens.all()).map((r) => viewOf(r, now())) };
  });

  router.delete('/v1/tokens/:id', async (ctx) => {
    const r = await tokens.revoke(ctx.params.id!);
    if (!r) throw notFound(`no join token '${ctx.params.id}'`);
    master.log.info({ tokenId: r.id, pool: r.pool }, 'join token revoked');
    ctx.body = { token: viewOf(r, now()) };
  });

  router.post('/v1/tokens/:id/instance', json, async (ctx) => {
    const { instanceId } = parse(BindRequest, ctx.request.body);
    const r = await tokens.bindInstance(ctx.params.id!, instanceId);
    if (!r) throw notFound(`no join token '${ctx.params.id}'`);
    if (r === 'conflict') throw new HttpError(409, `join token ${ctx.params.id} is already bound to another instance`);
    ctx.body = { token: viewOf(r, now()) };
  });
}
