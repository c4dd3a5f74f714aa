// `spillway master`: one master replica on a Redis.
import type { Command } from 'commander';
import { runMaster } from '../../master/run-master.ts';
import { fail } from '../output.ts';
import { parseListenAddress, type ListenAddress } from '../../http/listeners.ts';
import { loadTls, TlsConfigError, type TlsMaterial } from '../../http/tls.ts';
import { masterConfigFromFlags, masterProcessOptionsFromFlags, addMasterFlags, type MasterFlags } from './master-flags.ts';

export function registerMasterCommand(program: Command): void {
  addMasterFlags(
    program.command('master')
      .description('run a master (scheduler, operator and agent APIs) on a Redis')
      .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379 ($REDIS_URL)', process.env.REDIS_URL)
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--port <port>', 'port to listen on', '5050')
      .option('--listen <host[:port]>', 'also listen here (repeatable), e.g. the netns bridge address agents in network namespaces reach; port defaults to --port',
        (v: string, all: string[]) => [...all, v], [] as string[])
      .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, chain after it); needs --tls-key')
      .option('--tls-key <file>', 'the certificate\'s private key (PEM)')
      .option('--tls-ca <file>', 'the CA agents pin (default: the top of --tls-cert\'s chain when it signed itself)')
      .option('--advertise-url <url>', 'the URL agents on other machines reach this master at (written into user-data)'),
  ).action(async (o: MasterFlags & { redis: string; host: string; port: string; listen: string[]; tlsCert?: string; tlsKey?: string; tlsCa?: string; advertiseUrl?: string }) => {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: '${o.port}' is not a port number`);
    const listen: ListenAddress[] = o.listen.map((spec) => {
      try {
        return parseListenAddress(spec);
      } catch (e) {
        return fail(`--listen: ${(e as Error).message}`);
      }
    });
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
      redisUrl: o.redis, host: o.host, port, listen, config, ...limits, bodyLimit: o.bodyLimit, tls,
      ...(o.advertiseUrl ? { bootstrap: { advertiseUrl: o.advertiseUrl.replace(/\/+$/, '') } } : {}),
    }).catch((e) => fail(`master failed to start: ${(e as Error).message}`));
    const stop = () => { running.stop().finally(() => process.exit(0)); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
