// Starts a master process: Redis store, the master engine and its HTTP server.
import { RedisStore } from '../store/redis-store.ts';
import { createLogger, redactUrl, type Logger } from '../common/logger.ts';
import { startHttpServer, type RunningServer } from '../http/server.ts';
import { Master, type MasterConfig } from './master.ts';

export interface MasterProcessOptions {
  redisUrl: string;
  host: string;
  port: number;
  config?: Partial<MasterConfig>;
  bodyLimit?: string;
  log?: Logger;
}

export interface RunningMaster {
  master: Master;
  http: RunningServer;
  url: string;
  stop(): Promise<void>;
}

export async function runMaster(opts: MasterProcessOptions): Promise<RunningMaster> {
  const log = opts.log ?? createLogger('master');
  const store = RedisStore.connect(opts.redisUrl, opts.config?.cluster ?? 'default');
  store.client.on('error', (e) => log.warn({ err: e.message }, 'redis connection problem'));
  const master = new Master({ store, log, config: opts.config });
  await master.start();
  const http = await startHttpServer(master, log, { host: opts.host, port: opts.port, bodyLimit: opts.bodyLimit });
  log.info({ url: http.url, redis: redactUrl(opts.redisUrl) }, 'master listening');
  return {
    master,
    http,
    url: http.url,
    async stop() {
      await master.stop();
      await http.close();
      await store.close();
    },
  };
}
