// Starts a master process: Redis store, the master engine and its HTTP server.
import { RedisStore } from '../store/redis-store.ts';
import { createLogger, redactUrl, type Logger } from '../common/logger.ts';
import { startHttpServer, type RunningServer } from '../http/server.ts';
import { Master, type MasterConfig } from './master.ts';
import { createLaunchGate, type LaunchGate, type RateLimits } from './rate-limits.ts';
import type { ListenAddress } from '../http/listeners.ts';
import { systemClock, type Clock } from '../common/clock.ts';
import type { MasterAutoscalerOptions } from '../autoscaler/start.ts';
import type { AutoscalerHolder } from '../http/autoscaler-routes.ts';
import { startAccounting, type AccountingOptions, type Accounting } from '../accounting/start.ts';
import type { TlsMaterial } from '../http/tls.ts';
import type { AgentAuthOptions } from '../auth/agent-auth.ts';
import type { BootstrapOptions } from '../bootstrap/bootstrap-service.ts';

export interface MasterProcessOptions {
  redisUrl: string;
  host: string;
  port: number;
  /** More addresses to listen on besides host:port (`--listen`); a missing port means `port`. */
  listen?: ListenAddress[];
  config?: Partial<MasterConfig>;
  bodyLimit?: string;
  /** Mesos' --rate_limits (already validated): throttles scheduler calls per principal. */
  rateLimits?: RateLimits;
  /** --max-task-launches-per-second; undefined = unlimited. */
  maxTaskLaunchesPerSecond?: number;
  /** HTTPS with this certificate and key. */
  tls?: TlsMaterial;
  /** Who may act as an agent: `--agent-auth` mode and identity-proof verification. */
  agentAuth?: AgentAuthOptions;
  bootstrap?: BootstrapOptions;
  log?: Logger;
  /** Time for the master (tests inject one, e.g. to expire join tokens). */
  clock?: Clock;
  /** The autoscaler's loop and workers (default on); false leaves it out. */
  autoscaler?: MasterAutoscalerOptions | false;
  /** Accounting (--accounting-*); `false` turns it off. */
  accounting?: Partial<AccountingOptions> | false;
}

export interface RunningMaster {
  master: Master;
  http: RunningServer;
  url: string;
  /** The master-wide launch gate (`await launchGate.take(n)` before launching n tasks). */
  launchGate: LaunchGate;
  /** The autoscaler, once it runs (undefined when turned off). */
  autoscaler: AutoscalerHolder;
  /** Samples and reports (undefined when turned off). */
  accounting?: Accounting;
  stop(): Promise<void>;
}

export async function runMaster(opts: MasterProcessOptions): Promise<RunningMaster> {
  const log = opts.log ?? createLogger('master');
  const store = RedisStore.connect(opts.redisUrl, opts.config?.cluster ?? 'default');
  store.client.on('error', (e) => log.warn({ err: e.message }, 'redis connection problem'));
  const launchGate = createLaunchGate(opts.maxTaskLaunchesPerSecond);
  const master = new Master({ store, log, config: opts.config, clock: opts.clock ?? systemClock });
  if (opts.maxTaskLaunchesPerSecond !== undefined) master.launchGate = launchGate;
  await master.start();
  // Accounting samples on the leader only; with one master, this one. (HA hangs start/stop on leadership.)
  const accounting = opts.accounting === false ? undefined : startAccounting(master, store, log, opts.accounting);
  const autoscaler: AutoscalerHolder = {};
  const http = await startHttpServer(master, log, {
    host: opts.host, port: opts.port, listen: opts.listen, bodyLimit: opts.bodyLimit, rateLimits: opts.rateLimits, autoscaler, accounting,
    tls: opts.tls, agentAuth: opts.agentAuth, bootstrap: opts.bootstrap,
  });
  if (opts.autoscaler !== false) {
    // Loaded only when a master runs it, so client commands do not load BullMQ.
    const { startAutoscaler } = await import('../autoscaler/start.ts');
    autoscaler.autoscaler = startAutoscaler(master, store.client, () => http.url, log, opts.autoscaler ?? {});
  }
  log.info({
    url: http.url, ...(http.urls.length > 1 ? { urls: http.urls } : {}), redis: redactUrl(opts.redisUrl),
    ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
    ...(opts.maxTaskLaunchesPerSecond !== undefined ? { maxTaskLaunchesPerSecond: opts.maxTaskLaunchesPerSecond } : {}),
    agentAuth: http.agentAuth.mode, identityProofs: http.agentAuth.verifiedIdentityKinds(),
  }, 'master listening');
  return {
    master,
    http,
    url: http.url,
    launchGate,
    autoscaler,
    accounting,
    async stop() {
      launchGate.close();
      await autoscaler.autoscaler?.stop();
      await accounting?.sampler.stop();
      await master.stop();
      await http.close();
      await store.close();
    },
  };
}
