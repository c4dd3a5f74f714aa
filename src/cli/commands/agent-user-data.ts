// `spillway agent user-data --pool NAME`: asks the master for cloud-init user-data that turns a
// fresh VM into an agent of that pool — with a freshly minted single-use join token inside.
import type { Command } from 'commander';
import { addMasterOption } from '../master-option.ts';
import { v1 } from '../../client/v1-client.ts';
import { ttlFlag } from './token.ts';
import { fail, printJson } from '../output.ts';
import type { JoinTokenView } from '../../auth/join-tokens.ts';

interface Flags { master: string; pool: string; format: string; ttl?: string; agentMaster?: string; prefix?: string; json?: boolean }

export function registerUserDataCommand(agent: Command): void {
  addMasterOption(agent.command('user-data')
    .description('print cloud-init user-data that installs and starts an agent of a pool (mints a single-use join token)'))
    .requiredOption('--pool <name>', 'pool the VM joins')
    .option('--format <format>', 'cloud-config or mime (a multipart document to combine with your own parts)', 'cloud-config')
    .option('--ttl <duration>', 'how long the join token is valid, e.g. 15m, 2h (default 15m)')
    .option('--agent-master <url>', 'the master URL the VM uses (default: the master\'s --advertise-url, else --master)')
    .option('--prefix <dir>', 'install root on the VM', '/opt/spillway')
    .option('--json', 'print {userData, token} as JSON instead of the user-data itself')
    .addHelpText('after', '\nExample:\n  spillway agent user-data --pool aws-spot > user-data.yaml\n')
    .action(async (o: Flags) => {
      if (o.format !== 'cloud-config' && o.format !== 'mime') fail(`--format: '${o.format}' is not cloud-config or mime`);
      const ttlSeconds = ttlFlag(o.ttl);
      try {
        const r = await v1<{ userData: string; token: JoinTokenView }>(o.master, 'POST', '/v1/agent/user-data', {
          pool: o.pool, format: o.format, ...(ttlSeconds ? { ttlSeconds } : {}), ...(o.agentMaster ? { masterUrl: o.agentMaster } : {}), prefix: o.prefix,
        });
        process.stderr.write(`• join token ${r.token.id} for pool ${r.token.pool}, single use, valid until ${r.token.expiresAt} (${Buffer.byteLength(r.userData)} bytes of user-data)\n`);
        if (o.json) return printJson({ userData: r.userData, token: r.token });
        process.stdout.write(r.userData);
      } catch (e) {
        fail((e as Error).message);
      }
    });
}
