// `spillway master`: one master replica on a Redis.
import type { Command } from 'commander';
import { runMaster } from '../../master/run-master.ts';
import { fail } from '../output.ts';
import { parseListenAddress, type ListenAddress } from '../../http/listeners.ts';
import { masterConfigFromFlags, masterProcessOptionsFromFlags, addMasterFlags, type MasterFlags } from './master-flags.ts';

export function registerMasterCommand(program: Command): void {
  addMasterFlags(
    program.command('master')
      .description('run a master (scheduler, operator and agent APIs) on a Redis')
      .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379 ($REDIS_URL)', process.env.REDIS_URL)
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--port <port>', 'port to listen on', '5050')
      .option('--listen <host[:port]>', 'also listen here (repeatable), e.g. the netns bridge address agents in network namespaces reach; port defaults to --port',
        (v: string, all: string[]) => [...all, v], [] as string[]),
  ).action(async (o: MasterFlags & { redis: string; host: string; port: string; listen: string[] }) => {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: '${o.port}' is not a port number`);
    const listen: ListenAddress[] = o.listen.map((spec) => {
      try {
        return parseListenAddress(spec);
      } catch (e) {
        return fail(`--listen: ${(e as Error).message}`);
      }
    });
    const config = masterConfigFromFlags(o);
    const limits = masterProcessOptionsFromFlags(o);
    const running = await runMaster({ redisUrl: o.redis, host: o.host, port, listen, config, ...limits, bodyLimit: o.bodyLimit }).catch((e) => fail(`master failed to start: ${(e as Error).message}`));
    const stop = () => { running.stop().finally(() => process.exit(0)); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
