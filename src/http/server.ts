// The master's HTTP server: Koa with thin routes that validate and call the master.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { demandView } from '../master/operator-views.ts';
import { FrameworkRateLimiter, type RateLimits } from '../master/rate-limits.ts';

export interface HttpOptions {
  host: string;
  port: number;
  /** Largest accepted JSON body. */
  bodyLimit?: string;
  /** Mesos' --rate_limits: throttles scheduler calls per framework principal. */
  rateLimits?: RateLimits;
}

export interface RunningServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startHttpServer(master: Master, log: Logger, opts: HttpOptions): Promise<RunningServer> {
  const app = new Koa();
  const router = new Router();
  let url = '';
  const bodyLimit = opts.bodyLimit ?? '1mb';
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: bodyLimit });
  app.use(errorResponder(log));
  const limiter = opts.rateLimits ? new FrameworkRateLimiter(opts.rateLimits) : undefined;
  // The hot call endpoints bypass Koa (see call-endpoint.ts); everything else goes through it.
  const calls = new Map<string, CallHandler>([
    ['/api/v1/scheduler', schedulerCalls(master, limiter)],
    ['/api/v1/agent', agentCalls(master)],
  ]);
  router.post('/api/v1', requireJson, json, operatorRoute(master));
  router.get('/master/state', legacyStateRoute(master, () => url));
  router.get('/state', legacyStateRoute(master, () => url));
  router.get('/health', (ctx) => { ctx.body = 'OK'; });
  mountPolicyRoutes(router, master);
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
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const handler = calls.get(q < 0 ? url : url.slice(0, q));
    if (handler) serveCall(handler, req, res, callOptions);
    else void koa(req, res);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${addr.port}`;
  return {
    server,
    url,
    close: () => new Promise<void>((resolve) => {
      limiter?.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
