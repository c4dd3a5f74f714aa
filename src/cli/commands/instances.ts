// `spillway instances`: list, launch and terminate machines through the provider adapters, with
// pools from `--pools FILE` (or $SPILLWAY_POOLS).
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { MasterClient } from '../../client/master-client.ts';
import { addMasterOption } from '../master-option.ts';
import { createLogger } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';
import { loadPoolsFile, ConfigFileError, type Pool } from '../../../providers/pool-config.ts';
import { ProviderSet } from '../../../providers/registry.ts';
import { ProviderError } from '../../../providers/errors.ts';
import type { Instance } from '../../../providers/provider.ts';
import { fail, printJson, printTable, step, runOrFail } from '../output.ts';
import { httpBootstrapPort, launchBootstrapped } from '../../bootstrap/bootstrap-launch.ts';

interface CommonFlags { pools?: string; stateDir: string; cluster: string; master: string; json?: boolean }

function common(cmd: Command): Command {
  return addMasterOption(cmd, 'master URL agents should join')
    .option('--pools <file>', 'pools file (YAML or JSON) ($SPILLWAY_POOLS); default: the policy applied on the master', process.env.SPILLWAY_POOLS)
    .option('--state-dir <dir>', 'where the local and static providers keep their state', '.spillway/providers')
    .option('--cluster <name>', 'cluster name instances are tagged with', 'default');
}

async function providers(o: CommonFlags): Promise<ProviderSet> {
  let pools: Pool[];
  try {
    pools = o.pools ? loadPoolsFile(o.pools).pools : await appliedPools(o.master);
  } catch (e) {
    return fail(e instanceof ConfigFileError ? `invalid pools file:\n${e.message}` : (e as Error).message);
  }
  return new ProviderSet(pools, { cluster: o.cluster, masterUrl: o.master, log: createLogger('providers', 'warn'), clock: systemClock }, { stateDir: resolve(o.stateDir) });
}

/** The pools of the policy applied on the master (`spillway policy apply`). */
async function appliedPools(master: string): Promise<Pool[]> {
  const res = await new MasterClient(master).fetch('/v1/policies/current', { headers: { Accept: 'application/json' } })
    .catch((e: Error) => { throw new Error(`no --pools given and ${e.message}`); });
  if (res.status === 404) throw new Error('no --pools given and no policy applied on the master (spillway policy apply FILE)');
  if (!res.ok) throw new Error(`master answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { policy: { pools: Pool[] } }).policy.pools;
}

const run = (fn: () => Promise<void>): Promise<void> => runOrFail(fn, (e) => (e instanceof ProviderError ? `${e.provider}: ${e.message}` : e.message));

const row = (i: Instance) => [i.id, i.pool, i.provider, i.instanceType, i.capacityType, i.zone, i.state, i.launchedAt ? new Date(i.launchedAt).toISOString() : '', i.privateAddress ?? ''];
const HEAD = ['id', 'pool', 'provider', 'type', 'capacity', 'zone', 'state', 'launched', 'address'];

export function registerInstancesCommand(program: Command): void {
  const instances = common(program.command('instances').description('machines the providers run for this cluster (list, launch, terminate)'))
    .option('--pool <name>', 'only this pool')
    .option('--json', 'print JSON instead of a table')
    // `instances launch --pool X`: options after a subcommand belong to it.
    .enablePositionalOptions()
    .action((o: CommonFlags & { pool?: string }) => run(async () => {
      const set = await providers(o);
      const names = o.pool ? [set.pool(o.pool).name] : set.poolNames();
      const all: Instance[] = [];
      for (const name of names) all.push(...(await set.forPool(name).list(name)));
      if (o.json) return printJson(all);
      printTable(HEAD, all.map(row));
    }));

  common(instances.command('launch').description('start N instances in a pool, each with its own single-use join token from the master (idempotent with --token)'))
    .requiredOption('--pool <name>', 'pool to launch in')
    .requiredOption('--count <n>', 'how many')
    .option('--type <instance-type>', 'instance type (default: the pool\'s first)')
    .option('--token <token>', 'idempotency token: the same token never launches twice (default: new)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  spillway instances launch --pools pools.yaml --pool aws-spot --count 2\n')
    .action((o: CommonFlags & { pool: string; count: string; type?: string; token?: string }) => run(async () => {
      const count = Number(o.count);
      if (!Number.isInteger(count) || count <= 0) fail(`--count: '${o.count}' must be a whole number > 0`);
      const set = await providers(o);
      const pool = set.pool(o.pool);
      const type = o.type ?? pool.instanceTypes[0]?.name ?? (pool.provider === 'static' ? 'any' : '');
      const token = o.token ?? `cli-${randomUUID()}`;
      const done = step(`launching ${count} × ${type} in pool ${pool.name} (token ${token})`);
      // Owned static machines have their agents installed; everything else boots with a join token.
      const launched = pool.provider === 'static'
        ? await set.forPool(pool.name).launch(pool.name, count, { token, instanceType: type })
        : await launchBootstrapped(set.forPool(pool.name), pool, count, { token, instanceType: type }, httpBootstrapPort(o.master));
      done();
      if (o.json) return printJson(launched);
      printTable(HEAD, launched.map(row));
    }));

  common(instances.command('terminate').description('give instances back (idempotent)'))
    .argument('<ids...>', 'instance ids')
    .option('--pool <name>', 'the pool they belong to (default: found by listing)')
    .action((ids: string[], o: CommonFlags & { pool?: string }) => run(async () => {
      const set = await providers(o);
      const byPool = new Map<string, string[]>();
      if (o.pool) byPool.set(set.pool(o.pool).name, ids);
      else {
        const left = new Set(ids);
        for (const name of set.poolNames()) {
          const mine = (await set.forPool(name).list(name)).filter((i) => left.has(i.id)).map((i) => i.id);
          if (mine.length) byPool.set(name, mine);
          for (const id of mine) left.delete(id);
        }
        if (left.size) fail(`not found in any pool: ${[...left].join(', ')} (give --pool to terminate anyway)`);
      }
      for (const [pool, list] of byPool) {
        const done = step(`terminating ${list.length} instance(s) in pool ${pool}`);
        await set.forPool(pool).terminate(list);
        done();
      }
    }));
}
