// `spillway master`: one master replica on a Redis. Run several on the same Redis (and --cluster)
// for high availability: one leads, the others redirect clients to it and take over when it dies.
import type { Command } from 'commander';
import { parseRedisTarget, RedisUrlError } from '../../ha/redis-connection.ts';
import { DEFAULT_LEADER_LEASE_MS, runMaster } from '../../master/run-master.ts';
import { fail } from '../output.ts';
import { parseListenAddress, type ListenAddress } from '../../http/listeners.ts';
import { loadTls, TlsConfigError, type TlsMaterial } from '../../http/tls.ts';
import { masterConfigFromFlags, masterProcessOptionsFromFlags, addMasterFlags, type MasterFlags } from './master-flags.ts';

interface ReplicaFlags extends MasterFlags {
  redis: string; host: string; port: string; listen: string[]; advertiseIp?: string; advertisePort?: string; leaderLease: string;
  tlsCert?: string; tlsKey?: string; tlsCa?: string; advertiseUrl?: string;
}

export function registerMasterCommand(program: Command): void {
  addMasterFlags(
    program.command('master')
      .description('run a master replica (scheduler, operator and agent APIs) on a Redis; several replicas elect a leader')
      .requiredOption('--redis <url>', 'redis://host:6379, or Sentinel: redis-sentinel://host:26379,host:26380/<master name> ($REDIS_URL)', process.env.REDIS_URL)
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--port <port>', 'port to listen on', '5050')
      .option('--listen <host[:port]>', 'also listen here (repeatable), e.g. the netns bridge address agents in network namespaces reach; port defaults to --port',
        (v: string, all: string[]) => [...all, v], [] as string[])
      .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, chain after it); needs --tls-key')
      .option('--tls-key <file>', 'the certificate\'s private key (PEM)')
      .option('--tls-ca <file>', 'the CA agents pin (default: the top of --tls-cert\'s chain when it signed itself)')
      .option('--advertise-url <url>', 'the URL agents on other machines reach this master at (written into user-data)')
      .option('--advertise-ip <host>', 'address other replicas redirect clients to while this one leads (default: --host, or this machine\'s name for 0.0.0.0)')
      .option('--advertise-port <port>', 'port advertised with --advertise-ip (default: --port)')
      .option('--leader-lease <seconds>', 'leader lease: a dead or stalled leader is replaced within about this long', String(DEFAULT_LEADER_LEASE_MS / 1000)),
  ).action(async (o: ReplicaFlags) => {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: '${o.port}' is not a port number`);
    const listen: ListenAddress[] = o.listen.map((spec) => {
      try {
        return parseListenAddress(spec);
      } catch (e) {
        return fail(`--listen: ${(e as Error).message}`);
      }
    });
    try {
      parseRedisTarget(o.redis);
    } catch (e) {
      if (e instanceof RedisUrlError) fail(`--redis: ${e.message}`);
      throw e;
    }
    const lease = Number(o.leaderLease);
    if (!Number.isFinite(lease) || lease < 0.1 || lease > 600) fail(`--leader-lease: '${o.leaderLease}' is not a number of seconds from 0.1 to 600`);
    const advertisePort = o.advertisePort === undefined ? undefined : Number(o.advertisePort);
    if (advertisePort !== undefined && (!Number.isInteger(advertisePort) || advertisePort < 1 || advertisePort > 65535)) fail(`--advertise-port: '${o.advertisePort}' is not a port number`);
    if (advertisePort !== undefined && o.advertiseIp === undefined && port === 0) fail('--advertise-port needs --advertise-ip or a fixed --port');
    const advertiseHost = o.advertiseIp ?? (advertisePort !== undefined ? o.host : undefined);
    const advertise = advertiseHost === undefined ? undefined : `${advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost}:${advertisePort ?? port}`;
    if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) fail(o.tlsCert ? '--tls-cert needs --tls-key' : '--tls-key needs --tls-cert');
    if (o.tlsCa && !o.tlsCert) fail('--tls-ca needs --tls-cert and --tls-key');
    let tls: TlsMaterial | undefined;
    try {
      tls = o.tlsCert && o.tlsKey ? loadTls({ certFile: o.tlsCert, keyFile: o.tlsKey, caFile: o.tlsCa }) : undefined;
    } catch (e) {
      if (e instanceof TlsConfigError) fail(e.message);
      throw e;
    }
    if (o.advertiseUrl !== undefined && !/^https?:\/\/[^/]+/.test(o.advertiseUrl)) fail(`--advertise-url: '${o.advertiseUrl}' is not an http(s) URL`);
    const config = masterConfigFromFlags(o);
    const limits = masterProcessOptionsFromFlags(o);
    const running = await runMaster({
      redisUrl: o.redis, host: o.host, port, listen, advertise, leaderLeaseMs: lease * 1000, config, ...limits, bodyLimit: o.bodyLimit, tls,
      ...(o.advertiseUrl ? { bootstrap: { advertiseUrl: o.advertiseUrl.replace(/\/+$/, '') } } : {}),
    }).catch((e) => fail(`master failed to start: ${(e as Error).message}`));
    const stop = () => { running.stop().finally(() => process.exit(0)); };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, stop);
  });
}
