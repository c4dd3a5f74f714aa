// Starts a master process: one replica (src/ha/replica.ts) on a Redis. Several replicas on the
// same Redis and cluster elect one leader; the others answer with redirects until they take over.
// Leader-only work (the autoscaler loop, the accounting sampler, …) hangs on `onLeadership`.
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import { createLogger, type Logger } from '../common/logger.ts';
import { connectWhenReady, createRedisConnection, describeRedisTarget, parseRedisTarget } from '../ha/redis-connection.ts';
import { Replica, type LeadershipHook, type LeadershipStart, type LeadershipStop } from '../ha/replica.ts';
import { RedisStore } from '../store/redis-store.ts';
import { startAccounting, type AccountingOptions, type Accounting } from '../accounting/start.ts';
import { ProviderPriceFeed, type PriceFeed } from '../accounting/price-feed.ts';
import { Master, type MasterConfig } from './master.ts';
import { createLaunchGate, type LaunchGate, type RateLimits } from './rate-limits.ts';
import type { ListenAddress } from '../http/listeners.ts';
import type { Clock } from '../common/clock.ts';
import type { MasterAutoscalerOptions } from '../autoscaler/start.ts';
import type { AutoscalerHolder } from '../http/autoscaler-routes.ts';
import type { TlsMaterial } from '../http/tls.ts';
import type { AgentAuthOptions, AgentAuthority } from '../auth/agent-auth.ts';
import type { BootstrapOptions, BootstrapService } from '../bootstrap/bootstrap-service.ts';

export interface MasterProcessOptions {
  /** `redis://…`, `rediss://…` or `redis-sentinel://host:port,host:port/<name>`. */
  redisUrl: string;
  host: string;
  port: number;
  /** More addresses to listen on besides host:port (`--listen`); a missing port means `port`. */
  listen?: ListenAddress[];
  /** host:port other replicas redirect clients to while this one leads (default: host:port). */
  advertise?: string;
  /** Leader lease in ms: a dead or stalled leader is replaced within about this long (default 3000). */
  leaderLeaseMs?: number;
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
  /** The masters' clock (the leader lease always runs on real time: Redis expires it). */
  clock?: Clock;
  /** The autoscaler's loop and workers (default on), run by the leader; false leaves it out. */
  autoscaler?: MasterAutoscalerOptions | false;
  /** Accounting (--accounting-*), sampled by the leader; `false` turns it off. */
  accounting?: Partial<AccountingOptions> | false;
}

export interface RunningMaster {
  /** The current term's master. Throws on a standby: check `isLeader()` or `await whenLeader()`. */
  readonly master: Master;
  replica: Replica;
  /**
   * `urls`: every address served, the primary first, then the `listen` ones. `agentAuth` and
   * `bootstrap` are the current term's (they throw on a standby).
   */
  http: { server: Server; url: string; urls: string[]; readonly agentAuth: AgentAuthority; readonly bootstrap: BootstrapService };
  /** http://<advertised host:port> of this replica. */
  url: string;
  /** The master-wide launch gate (`await launchGate.take(n)` before launching n tasks). */
  launchGate: LaunchGate;
  /** The autoscaler while this replica leads (undefined otherwise, or when turned off). */
  autoscaler: AutoscalerHolder;
  /** Samples and reports while this replica leads (undefined otherwise, or when turned off). */
  readonly accounting: Accounting | undefined;
  isLeader(): boolean;
  whenLeader(): Promise<Master>;
  /**
   * THE hook for leader-only work: `start(master)` runs each time this replica starts leading (at
   * once if it leads now), `stop()` each time it stops (deposed, Redis lost, shutting down).
   * Returns a function that unregisters both.
   */
  onLeadership(start: LeadershipStart, stop: LeadershipStop): () => Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_LEADER_LEASE_MS = 3000;

export async function runMaster(opts: MasterProcessOptions): Promise<RunningMaster> {
  const log = opts.log ?? createLogger('master');
  const target = parseRedisTarget(opts.redisUrl);
  const redis = createRedisConnection(target);
  const leaseRedis = createRedisConnection(target);
  const cluster = opts.config?.cluster ?? 'default';
  const launchGate = createLaunchGate(opts.maxTaskLaunchesPerSecond);
  const autoscaler: AutoscalerHolder = {};
  let accounting: Accounting | undefined;
  // Leader-only work that writes Redis on its own (the autoscaler's BullMQ queues and records,
  // accounting samples) gets a connection with ioredis' ordinary settings (queued commands,
  // resends), which BullMQ's workers expect; the fencing-safe ones are for the master's terms.
  let auxRedis: Redis | undefined;
  const aux = (): Redis => {
    if (auxRedis) return auxRedis;
    auxRedis = createRedisConnection(target, { lazyConnect: false, enableOfflineQueue: true, autoResendUnfulfilledCommands: true });
    auxRedis.on('error', (e: Error) => log.warn({ err: e.message }, 'redis connection problem (leader-only work)'));
    return auxRedis;
  };
  const leadership: LeadershipHook[] = [];
  if (opts.accounting !== false) {
    const settings = opts.accounting;
    leadership.push({
      start: (master) => { accounting = startAccounting(master, new RedisStore(aux(), cluster), log, settings, rentedPoolPrices(autoscaler, log)); },
      stop: async () => {
        const a = accounting;
        accounting = undefined;
        await a?.sampler.stop();
      },
    });
  }
  if (opts.autoscaler !== false) {
    // Loaded only when a master runs it, so client commands do not load BullMQ.
    const { startAutoscaler } = await import('../autoscaler/start.ts');
    const { handOffAgentInterruption } = await import('../autoscaler/interruptions.ts');
    const settings = opts.autoscaler ?? {};
    leadership.push({
      start: (master, term) => {
        autoscaler.autoscaler = startAutoscaler(master, aux(), () => term.url, log, settings);
        master.interruptionHandoff = async (agentId, deadline, reason) => {
          const a = autoscaler.autoscaler;
          return a ? handOffAgentInterruption(a, master, agentId, deadline, reason) : false;
        };
      },
      stop: async () => {
        const a = autoscaler.autoscaler;
        autoscaler.autoscaler = undefined;
        await a?.stop();
      },
    });
  }
  log.info({ redis: describeRedisTarget(target) }, 'connecting to Redis');
  const waiting = setTimeout(() => log.warn({ redis: describeRedisTarget(target) }, 'waiting for Redis'), 2000);
  try {
    await Promise.all([connectWhenReady(redis), connectWhenReady(leaseRedis)]);
  } finally {
    clearTimeout(waiting);
  }
  const replica = await Replica.start({
    redis, leaseRedis, cluster, host: opts.host, port: opts.port, listen: opts.listen, advertise: opts.advertise,
    leaseMs: opts.leaderLeaseMs ?? DEFAULT_LEADER_LEASE_MS, log,
    leadership,
    // Read when a term opens its APIs, after its leader-only work started.
    http: () => ({ bodyLimit: opts.bodyLimit, rateLimits: opts.rateLimits, autoscaler, accounting, agentAuth: opts.agentAuth, bootstrap: opts.bootstrap }),
    tls: opts.tls,
    createMaster: (store, onFatal) => {
      const master = new Master({ store, log, config: opts.config, clock: opts.clock, onFatal });
      if (opts.maxTaskLaunchesPerSecond !== undefined) master.launchGate = launchGate;
      return master;
    },
  });
  log.info({
    url: replica.url, ...(replica.urls.length > 1 ? { urls: replica.urls } : {}), redis: describeRedisTarget(target), leading: replica.master !== undefined,
    ...(opts.rateLimits ? { rateLimits: opts.rateLimits } : {}),
    ...(opts.maxTaskLaunchesPerSecond !== undefined ? { maxTaskLaunchesPerSecond: opts.maxTaskLaunchesPerSecond } : {}),
    agentAuth: opts.agentAuth?.mode ?? 'default', tls: Boolean(opts.tls),
  }, 'master listening');
  const termApp = () => {
    const app = replica.app;
    if (!app) throw new Error(`this master replica (${replica.url}) is not the leader`);
    return app;
  };
  return {
    get master(): Master {
      const m = replica.master;
      if (!m) throw new Error(`this master replica (${replica.url}) is not the leader`);
      return m;
    },
    replica,
    http: {
      server: replica.server, url: replica.url, urls: replica.urls,
      get agentAuth() { return termApp().agentAuth; },
      get bootstrap() { return termApp().bootstrap; },
    },
    url: replica.url,
    launchGate,
    autoscaler,
    get accounting() { return accounting; },
    isLeader: () => replica.master !== undefined,
    whenLeader: () => replica.whenLeader(),
    onLeadership: (start, stop) => replica.onLeadership(start, stop),
    async stop() {
      launchGate.close();
      await replica.stop();
      await auxRedis?.quit().catch(() => auxRedis?.disconnect());
    },
  };
}

/**
 * Live prices (spot prices from DescribeSpotPriceHistory, …) of the rented pools in force, from the
 * providers the autoscaler runs them with, for accounting — the numbers the autoscaler budgets with.
 * Without the autoscaler there are none, and the policy's listed prices are used.
 */
function rentedPoolPrices(holder: AutoscalerHolder, log: Logger): PriceFeed {
  return new ProviderPriceFeed(async () => {
    const cur = await holder.autoscaler?.providers.current();
    if (!cur) return new Map();
    return new Map(cur.policy.policy.pools.filter((p) => p.ownership === 'rented').map((p) => [p.name, cur.providers.forPool(p.name)]));
  }, 5 * 60_000, log.child({ component: 'accounting' })); // spot prices move every few minutes at most
}

