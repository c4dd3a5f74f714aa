// Allocation-policy commands: roles, weights, quota, reserve and unreserve — through the operator
// API (GET_ROLES, GET_WEIGHTS/UPDATE_WEIGHTS, GET_QUOTA/UPDATE_QUOTA, RESERVE/UNRESERVE_RESOURCES).
import type { Command } from 'commander';
import { MasterClient } from '../../client/master-client.ts';
import { addMasterOption } from '../master-option.ts';
import { fromMesos, parseResourceFlag, toMesos, type MesosResource } from '../../resources/mesos-resources.ts';
import { fail, printJson, printTable, runOrFail } from '../output.ts';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Quantities = Record<string, number>;

interface MasterOptions { master: string }
interface ListOptions extends MasterOptions { json?: boolean }


const run = (fn: () => Promise<void>): Promise<void> => runOrFail(fn);

function withMaster(cmd: Command): Command {
  return addMasterOption(cmd);
}

function withList(cmd: Command): Command {
  return withMaster(cmd).option('--json', 'print JSON instead of a table');
}

/**
 * The master URL for a subcommand (`weights set`, `quota set|remove`). The parent command knows
 * `--master` too and commander hands the flag to it wherever it appears, so the subcommand's own
 * value only counts when it was really given to it.
 */
export function masterOf(o: MasterOptions, cmd: Command): string {
  if (cmd.getOptionValueSource('master') === 'cli' || !cmd.parent) return o.master;
  return (cmd.parent.opts() as MasterOptions).master ?? o.master;
}

/** Sends a call whose answer has no body (UPDATE_* → 200, RESERVE/UNRESERVE → 202). */
async function send(master: string, type: string, extra: object): Promise<void> {
  await new MasterClient(master).request('/api/v1', { type, ...extra });
}

// ---- formatting ----------------------------------------------------------------------------------

const num = (v: number): string => String(Math.round(v * 1000) / 1000);

/** Mesos Resource list → scalar quantities by name (reservations and allocation info ignored). */
function quantitiesOf(list: MesosResource[] | undefined): Quantities {
  const r = fromMesos(list ?? []);
  return r.ok ? r.value.scalars : {};
}

/** `{cpus: {value: 4}}` (quota JSON) → `{cpus: 4}`. */
const fromQuotaJson = (rec: Record<string, { value: number }> | undefined): Quantities =>
  Object.fromEntries(Object.entries(rec ?? {}).map(([k, v]) => [k, v.value]));

const toQuotaJson = (q: Quantities): Record<string, { value: number }> =>
  Object.fromEntries(Object.entries(q).map(([k, v]) => [k, { value: v }]));

/** `cpus 4 · mem 4096` for the cpus and mem present, `—` if neither is. */
function cpusMem(q: Quantities): string {
  return ['cpus', 'mem'].filter((k) => q[k] !== undefined).map((k) => `${k} ${num(q[k])}`).join(' · ') || '—';
}

/** Every quantity in the flag syntax, `cpus:4;mem:4096`, or `—`. */
function flagSyntax(q: Quantities): string {
  return Object.entries(q).map(([k, v]) => `${k}:${num(v)}`).join(';') || '—';
}

// ---- parsing -------------------------------------------------------------------------------------

/** `ROLE=WEIGHT`, with WEIGHT a number > 0. */
export function parseWeightPair(pair: string): { role: string; weight: number } | string {
  const eq = pair.lastIndexOf('=');
  if (eq <= 0) return `'${pair}': expected ROLE=WEIGHT, e.g. analytics=2`;
  const role = pair.slice(0, eq);
  const text = pair.slice(eq + 1).trim();
  const weight = Number(text);
  if (text === '' || !Number.isFinite(weight) || !(weight > 0)) return `'${pair}': the weight of '${role}' must be a number > 0, got '${text}'`;
  return { role, weight };
}

/**
 * Quota quantities in the resource-flag syntax (`cpus:4;mem:4096`). Parsed part by part with
 * parseResourceFlag so that an explicit 0 (e.g. a limit of `gpus:0`) is kept rather than dropped.
 */
export function parseQuota(text: string, flag: string): Quantities | string {
  const out: Quantities = {};
  for (const part of text.split(';').map((s) => s.trim()).filter(Boolean)) {
    const parsed = parseResourceFlag(part);
    if (!parsed.ok) return `${flag}: ${parsed.error}`;
    if (parsed.value.ports.length) return `${flag}: quota applies to scalar resources only ('${part}')`;
    const name = part.slice(0, part.indexOf(':')).trim();
    out[name] = (out[name] ?? 0) + (parsed.value.scalars[name] ?? 0);
  }
  if (Object.keys(out).length === 0) return `${flag}: '${text}' names no resources; expected e.g. "cpus:4;mem:4096"`;
  return out;
}

/** Mesos Resource JSON for a RESERVE/UNRESERVE of `text` for `role` (DYNAMIC reservation). */
export function reservationResources(text: string, role: string, principal?: string): Record<string, unknown>[] | string {
  const parsed = parseResourceFlag(text);
  if (!parsed.ok) return `--resources: ${parsed.error}`;
  const list = toMesos(parsed.value);
  if (list.length === 0) return `--resources: '${text}' names no resources; expected e.g. "cpus:2;mem:1024"`;
  const reservation = { type: 'DYNAMIC', role, ...(principal !== undefined ? { principal } : {}) };
  return list.map((r) => ({ ...r, reservations: [reservation] }));
}

// ---- commands ------------------------------------------------------------------------------------

export function registerPolicyAdminCommands(program: Command): void {
  withList(program.command('roles').description('list roles: weight, frameworks, allocation, reservations and quota'))
    .addHelpText('after', '\nResources are cpus and mem (MB); — means none. Roles that only have a weight are listed by\n`spillway weights`. Example:\n  spillway roles --master http://127.0.0.1:5050\n')
    .action((o: ListOptions) => run(async () => {
      const r = await new MasterClient(o.master).call<Any>('GET_ROLES');
      const roles = r.get_roles.roles as Any[];
      if (o.json) return printJson(roles);
      printTable(['role', 'weight', 'frameworks', 'allocated', 'reserved', 'quota guarantee', 'quota limit', 'consumed'], roles.map((x) => [
        x.name, num(x.weight), (x.frameworks ?? []).length,
        cpusMem(quantitiesOf(x.allocated)), cpusMem(quantitiesOf(x.reserved)),
        cpusMem(fromQuotaJson(x.quota?.guarantees)), cpusMem(fromQuotaJson(x.quota?.limits)), cpusMem(fromQuotaJson(x.quota?.consumed)),
      ]));
    }));

  const weights = withList(program.command('weights').description('list role weights (roles not listed weigh 1); `weights set` changes them'))
    .addHelpText('after', '\nExamples:\n  spillway weights\n  spillway weights set analytics=2 batch=0.5\n')
    .action((o: ListOptions) => run(async () => {
      const r = await new MasterClient(o.master).call<Any>('GET_WEIGHTS');
      const infos = (r.get_weights.weight_infos as Any[]).slice().sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
      if (o.json) return printJson(infos);
      printTable(['role', 'weight'], infos.map((w) => [w.role, num(w.weight)]));
    }));
  withMaster(weights.command('set').description('set the weight of one or more roles (UPDATE_WEIGHTS); a weight is a number > 0')
    .argument('<ROLE=WEIGHT...>', 'e.g. analytics=2'))
    .addHelpText('after', '\nA role with weight 2 gets twice the fair share of a role with weight 1. Example:\n  spillway weights set analytics=2 batch=0.5\n')
    .action((pairs: string[], o: MasterOptions, cmd: Command) => run(async () => {
      const infos: { role: string; weight: number }[] = [];
      for (const pair of pairs) {
        const p = parseWeightPair(pair);
        if (typeof p === 'string') fail(p);
        infos.push(p);
      }
      await send(masterOf(o, cmd), 'UPDATE_WEIGHTS', { update_weights: { weight_infos: infos } });
      process.stdout.write(`${infos.map((w) => `weight of '${w.role}' set to ${num(w.weight)}`).join('\n')}\n`);
    }));

  const quota = withList(program.command('quota').description('list role quotas; `quota set` / `quota remove` change them'))
    .addHelpText('after', '\nExamples:\n  spillway quota\n  spillway quota set prod --guarantee "cpus:4;mem:4096" --limit "cpus:8"\n  spillway quota remove prod\n')
    .action((o: ListOptions) => run(async () => {
      const c = new MasterClient(o.master);
      const r = await c.call<Any>('GET_QUOTA');
      const configs = (r.get_quota.status.configs ?? []) as Any[];
      if (o.json) return printJson(configs);
      const roles = (await c.call<Any>('GET_ROLES')).get_roles.roles as Any[];
      const consumed = new Map(roles.map((x) => [x.name as string, fromQuotaJson(x.quota?.consumed)]));
      printTable(['role', 'guarantee', 'limit', 'consumed'], configs.map((q) => [
        q.role, flagSyntax(fromQuotaJson(q.guarantees)), flagSyntax(fromQuotaJson(q.limits)), cpusMem(consumed.get(q.role) ?? {}),
      ]));
    }));
  withMaster(quota.command('set').description("set a role's quota (UPDATE_QUOTA): replaces its guarantee and limit")
    .argument('<ROLE>', 'the role (not *)')
    .option('--guarantee <resources>', 'resources the role is guaranteed, e.g. "cpus:4;mem:4096"')
    .option('--limit <resources>', 'most the role may hold, e.g. "cpus:8"')
    .option('--force', "skip the master's check that all guarantees fit the cluster"))
    .addHelpText('after', '\nA resource not named has no guarantee / no limit. Example:\n  spillway quota set prod --guarantee "cpus:4;mem:4096" --limit "cpus:8;mem:8192"\n')
    .action((role: string, o: MasterOptions & { guarantee?: string; limit?: string; force?: boolean }, cmd: Command) => run(async () => {
      if (o.guarantee === undefined && o.limit === undefined) fail(`give --guarantee and/or --limit (to remove the quota of '${role}': spillway quota remove ${role})`);
      const guarantees = o.guarantee === undefined ? {} : parseQuota(o.guarantee, '--guarantee');
      if (typeof guarantees === 'string') fail(guarantees);
      const limits = o.limit === undefined ? {} : parseQuota(o.limit, '--limit');
      if (typeof limits === 'string') fail(limits);
      await send(masterOf(o, cmd), 'UPDATE_QUOTA', { update_quota: {
        ...(o.force ? { force: true } : {}),
        quota_configs: [{ role, guarantees: toQuotaJson(guarantees), limits: toQuotaJson(limits) }],
      } });
      process.stdout.write(`quota of '${role}' set: guarantee ${flagSyntax(guarantees)}, limit ${flagSyntax(limits)}\n`);
    }));
  withMaster(quota.command('remove').description("remove a role's quota (UPDATE_QUOTA with no guarantees and no limits)")
    .argument('<ROLE>', 'the role'))
    .addHelpText('after', '\nExample:\n  spillway quota remove prod\n')
    .action((role: string, o: MasterOptions, cmd: Command) => run(async () => {
      const master = masterOf(o, cmd);
      const configs = ((await new MasterClient(master).call<Any>('GET_QUOTA')).get_quota.status.configs ?? []) as Any[];
      if (!configs.some((q) => q.role === role)) {
        process.stderr.write(`spillway: role '${role}' has no quota; nothing changed\n`);
        return;
      }
      await send(master, 'UPDATE_QUOTA', { update_quota: { quota_configs: [{ role, guarantees: {}, limits: {} }] } });
      process.stdout.write(`quota of '${role}' removed\n`);
    }));

  for (const kind of ['reserve', 'unreserve'] as const) {
    const verb = kind === 'reserve' ? 'RESERVE_RESOURCES' : 'UNRESERVE_RESOURCES';
    withMaster(program.command(kind)
      .description(kind === 'reserve'
        ? "dynamically reserve an agent's unreserved resources for a role (RESERVE_RESOURCES)"
        : 'return dynamically reserved resources of an agent to the unreserved pool (UNRESERVE_RESOURCES)')
      .argument('<AGENT_ID>', 'the agent (see `spillway agents`)')
      .requiredOption('--role <role>', kind === 'reserve' ? 'the role to reserve for' : 'the role they are reserved for')
      .requiredOption('--resources <resources>', `what to ${kind}, e.g. "cpus:2;mem:1024"`)
      .option('--principal <principal>', kind === 'reserve' ? 'principal recorded with the reservation' : 'the principal the reservation was made with, if any'))
      .addHelpText('after', `\nResources in use by tasks cannot be re-labelled (the master answers 409). Example:\n  spillway ${kind} 766281a5-ddec-4127-ba0a-8902836c0363-S0 --role analytics --resources "cpus:2;mem:1024" --principal ops\n`)
      .action((agentId: string, o: MasterOptions & { role: string; resources: string; principal?: string }) => run(async () => {
        const list = reservationResources(o.resources, o.role, o.principal);
        if (typeof list === 'string') fail(list);
        const field = kind === 'reserve' ? 'reserve_resources' : 'unreserve_resources';
        try {
          await send(o.master, verb, { [field]: { agent_id: { value: agentId }, resources: list } });
        } catch (e) {
          fail(`${(e as Error).message}${kind === 'unreserve' ? await principalHint(o.master, agentId, o.role, o.principal) : ''}`);
        }
        const what = flagSyntax(quantitiesOf(list as MesosResource[]));
        process.stdout.write(kind === 'reserve'
          ? `reserved ${what} on agent ${agentId} for role '${o.role}'\n`
          : `unreserved ${what} on agent ${agentId} (was reserved for role '${o.role}')\n`);
      }));
  }
}

/** After a failed UNRESERVE: the principals the role's dynamic reservations on the agent carry. */
async function principalHint(master: string, agentId: string, role: string, given?: string): Promise<string> {
  try {
    const agents = (await new MasterClient(master).call<Any>('GET_AGENTS')).get_agents.agents as Any[];
    const agent = agents.find((a) => a.agent_info.id.value === agentId);
    const principals = new Set<string | undefined>();
    for (const r of (agent?.total_resources ?? []) as Any[]) {
      const res = r.reservations?.[r.reservations.length - 1];
      if (res?.type === 'DYNAMIC' && res.role === role) principals.add(res.principal);
    }
    principals.delete(given);
    const named = [...principals].filter((p): p is string => p !== undefined);
    if (named.length === 0) return '';
    return `\nhint: the reservations for '${role}' on this agent were made with ${named.map((p) => `--principal ${p}`).join(' or ')}`;
  } catch {
    return '';
  }
}
