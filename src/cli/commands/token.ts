// `spillway token create|list|revoke`: single-use join tokens for agents (docs/OPERATIONS.md
// "Bootstrap, join tokens and TLS"). A token's secret is printed once, at creation; listings
// never show secrets.
import type { Command } from 'commander';
import { addMasterOption } from '../master-option.ts';
import { v1 } from '../../client/v1-client.ts';
import type { JoinTokenView } from '../../auth/join-tokens.ts';
import { parseDurationSeconds } from '../duration.ts';
import { fail, printJson, printTable, runOrFail } from '../output.ts';

interface Common { master: string; json?: boolean }

const master = (cmd: Command): Command => addMasterOption(cmd).option('--json', 'print JSON');

/** `--ttl` as whole seconds > 0; exits 1 with the reason otherwise. */
export function ttlFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = parseDurationSeconds(v);
  if (typeof s === 'string') return fail(`--ttl: ${s}`);
  if (!Number.isInteger(s) || s <= 0) return fail(`--ttl: '${v}' must be a whole number of seconds above 0`);
  return s;
}

const run = (fn: () => Promise<void>): Promise<void> => runOrFail(fn);

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('single-use join tokens agents trade for a credential when they first register');

  master(token.command('create').description('mint a join token for a pool (printed once)'))
    .requiredOption('--pool <name>', 'the pool the joining agent must belong to')
    .option('--ttl <duration>', 'valid for, e.g. 90s, 15m, 2h (default 15m, at most 7d)')
    .option('--instance <id>', 'only this instance may use it')
    .addHelpText('after', '\nExample:\n  spillway token create --pool rack-a --ttl 1h > /etc/spillway/join-token\n')
    .action((o: Common & { pool: string; ttl?: string; instance?: string }) => run(async () => {
      const ttlSeconds = ttlFlag(o.ttl);
      const r = await v1<{ joinToken: string; token: JoinTokenView }>(o.master, 'POST', '/v1/tokens', {
        pool: o.pool, ...(ttlSeconds ? { ttlSeconds } : {}), ...(o.instance ? { instanceId: o.instance } : {}),
      });
      if (o.json) return printJson(r);
      process.stderr.write(`• join token ${r.token.id} for pool ${r.token.pool}, single use, valid until ${r.token.expiresAt}\n`);
      process.stdout.write(`${r.joinToken}\n`);
    }));

  master(token.command('list').description('join tokens: id, pool, state, expiry, who used them (never the secrets)'))
    .action((o: Common) => run(async () => {
      const { tokens } = await v1<{ tokens: JoinTokenView[] }>(o.master, 'GET', '/v1/tokens');
      if (o.json) return printJson(tokens);
      printTable(['id', 'pool', 'state', 'expires', 'used by', 'used at', 'instance'],
        tokens.map((t) => [t.id, t.pool, t.state, t.expiresAt, t.usedBy ?? '', t.usedAt ?? '', t.instanceId ?? '']));
    }));

  master(token.command('revoke').description('revoke an unused join token'))
    .argument('<id>', 'token id (from `spillway token list`)')
    .action((id: string, o: Common) => run(async () => {
      const { token: t } = await v1<{ token: JoinTokenView }>(o.master, 'DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
      if (o.json) return printJson(t);
      if (t.state === 'used') process.stderr.write(`• join token ${t.id} was already used by agent ${t.usedBy} at ${t.usedAt}; nothing to revoke\n`);
      else process.stderr.write(`• join token ${t.id} revoked\n`);
    }));
}
