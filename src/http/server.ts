// The master's HTTP app: Koa with thin routes that validate and call the master, and the hot call
// endpoints served straight from node:http. A replica (src/ha/replica.ts) serves one per term.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { coalesceWrites } from './coalesced-writes.ts';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Logger } from '../common/logger.ts';
import type { Master } from '../master/master.ts';
import { requireJson } from './content-type.ts';
import { errorResponder, isClientHangup } from './errors.ts';
import { schedulerCalls } from './scheduler-route.ts';
import { agentCalls } from './agent-route.ts';
import { serveCall, type CallHandler } from './call-endpoint.ts';
import { legacyStateRoute, operatorRoute } from './operator-route.ts';
import { mountPolicyRoutes } from './policy-routes.ts';
import { mountAutoscalerRoutes, type AutoscalerHolder } from './autoscaler-routes.ts';
import { mountReportRoutes } from './report-routes.ts';
import type { Accounting } from '../accounting/accounting.ts';
import { demandView } from '../master/operator-views.ts';
import { FrameworkRateLimiter, type RateLimits } from '../master/rate-limits.ts';
import type { TlsMaterial } from './tls.ts';
import { AgentAuthority, type AgentAuthOptions } from '../auth/agent-auth.ts';
import { refuseAgentSecretsOffAgentApi } from './agent-credential-guard.ts';
import { mountBootstrapRoutes } from './bootstrap-routes.ts';
import { BootstrapService, type BootstrapOptions } from '../bootstrap/bootstrap-service.ts';

export interface HttpOptions {
  /** Largest accepted JSON body. */
  bodyLimit?: string;
  /** Mesos' --rate_limits: throttles scheduler calls per framework principal. */
  rateLimits?: RateLimits;
  /** The autoscaler serving /v1/decisions, /v1/plan, /v1/interruptions (set once it runs). */
  autoscaler?: AutoscalerHolder;
  /** Serves /v1/reports (absent: accounting is off and they answer 503). */
  accounting?: Accounting;
  /** Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`). */
  tls?: TlsMaterial;
  /** Who may act as an agent (`--agent-auth`, identity proofs). */
  agentAuth?: AgentAuthOptions;
  /** Bootstrap settings: the URL agents are told to use, the default join-token TTL. */
  bootstrap?: BootstrapOptions;
}

/** The master's routes as one request handler, for a server someone else owns (src/ha/replica.ts). */
export interface MasterApp {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  agentAuth: AgentAuthority;
  bootstrap: BootstrapService;
  close(): void;
}

export type MasterAppOptions = Pick<HttpOptions, 'bodyLimit' | 'rateLimits' | 'autoscaler' | 'accounting' | 'agentAuth' | 'bootstrap'> & {
  /** This server's own URL (for /master/state and the user-data agents get). */
  selfUrl: () => string;
  /** The CA agents pin, when serving HTTPS. */
  tls?: Pick<TlsMaterial, 'caPem' | 'caPin'>;
};

export function createMasterApp(master: Master, log: Logger, opts: MasterAppOptions): MasterApp {
  const app = new Koa();
  const router = new Router();
  const bodyLimit = opts.bodyLimit ?? '1mb';
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: bodyLimit });
  app.use(errorResponder(log));
  const limiter = opts.rateLimits ? new FrameworkRateLimiter(opts.rateLimits) : undefined;
  const agentAuth = new AgentAuthority(master, opts.agentAuth);
  const bootstrap = new BootstrapService(master, agentAuth.tokens, { ...opts.bootstrap, caPem: opts.tls?.caPem, caPin: opts.tls?.caPin, masterUrl: opts.selfUrl });
  // The hot call endpoints bypass Koa (see call-endpoint.ts); everything else goes through it.
  const calls = new Map<string, CallHandler>([
    ['/api/v1/scheduler', schedulerCalls(master, limiter)],
    ['/api/v1/agent', agentCalls(master, agentAuth)],
  ]);
  router.post('/api/v1', requireJson, json, operatorRoute(master));
  router.get('/master/state', legacyStateRoute(master, opts.selfUrl));
  router.get('/state', legacyStateRoute(master, opts.selfUrl));
  router.get('/health', (ctx) => { ctx.body = 'OK'; });
  mountPolicyRoutes(router, master);
  mountBootstrapRoutes(router, { master, tokens: agentAuth.tokens, bootstrap, json });
  mountAutoscalerRoutes(router, master, opts.autoscaler ?? {});
  mountReportRoutes(router, opts.accounting, master.clock);
  router.get('/v1/demand', (ctx) => { ctx.body = demandView(master); });
  router.get('/metrics', async (ctx) => {
    ctx.type = master.metrics.registry.contentType;
    ctx.body = await master.metrics.registry.metrics();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.on('error', (e: unknown) => {
    if (!isClientHangup(e)) log.error({ err: e }, 'http error');
  });
  const koa = app.callback();
  const callOptions = { limit: bodyLimit, log };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    const q = path.indexOf('?');
    const handler = calls.get(q < 0 ? path : path.slice(0, q));
    if (refuseAgentSecretsOffAgentApi(req, res, log)) return;
    if (handler) serveCall(handler, req, res, callOptions);
    else void koa(req, res);
  };
  return { handle, agentAuth, bootstrap, close: () => limiter?.close() };
}

/** A server for `handle`: HTTPS with `tls`, else HTTP; shared by the single master and the replicas. */
export function newMasterServer(handle: RequestListener, tls: Pick<TlsMaterial, 'cert' | 'key'> | undefined): Server {
  const s = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, handle) : createServer(handle);
  s.keepAliveTimeout = 5_000;
  s.on(tls ? 'secureConnection' : 'connection', coalesceWrites);
  return s;
}
