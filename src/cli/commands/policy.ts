// `spillway policy validate|apply|show|history`: autoscaling policy files (docs/POLICIES.md).
// `validate` runs locally; the others talk to the master's /v1/policies API. `apply` validates
// locally first, so a bad file never reaches the master.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { MasterClient } from '../../client/master-client.ts';
import { addMasterOption } from '../master-option.ts';
import { formatProblem, validatePolicy, type PolicyProblem } from '../../autoscaler/policy-schema.ts';
import type { PolicyVersion, PolicyVersionSummary } from '../../autoscaler/policy-store.ts';
import { fail, printJson, printTable, runOrFail } from '../output.ts';
import { registerPolicyPlan } from './scaling.ts';

interface MasterOptions { master: string }
interface JsonOptions { json?: boolean }


function readPolicyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

function printWarnings(warnings: PolicyProblem[]): void {
  for (const w of warnings) process.stderr.write(`warning: ${formatProblem(w)}\n`);
}

/** Prints every problem as `FILE:LINE: path: reason` on stderr and exits 1. */
function invalid(problems: PolicyProblem[]): never {
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  return fail(`invalid policy (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
}

/** Validates FILE locally; exits 1 with its problems if it is bad. */
function checkFile(file: string): { text: string; check: Extract<ReturnType<typeof validatePolicy>, { valid: true }> } {
  const text = readPolicyFile(file);
  const check = validatePolicy(text, file);
  if (!check.valid) return invalid(check.errors);
  return { text, check };
}

class HttpAnswerError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`master answered ${status}: ${body}`);
  }
}

async function request(master: string, path: string, init: RequestInit = {}): Promise<Response> {
  const res = await new MasterClient(master).fetch(path, { ...init, headers: { Accept: 'application/json', ...init.headers } });
  if (!res.ok) throw new HttpAnswerError(res.status, await res.text());
  return res;
}

/** The `error` field of a JSON error answer, else the text. */
function errorOf(e: HttpAnswerError): string {
  try {
    return (JSON.parse(e.body) as { error?: string }).error ?? e.body;
  } catch {
    return e.body;
  }
}

const run = (fn: () => Promise<void>): Promise<void> => runOrFail(fn, (e) => (e instanceof HttpAnswerError && e.status === 404 ? errorOf(e) : e.message));

const shortTime = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy')
    .description('autoscaling policy files: validate, apply, show and history (docs/POLICIES.md)')
    .addHelpText('after', '\nExamples:\n  spillway policy validate policies/examples/local.yaml\n  spillway policy apply policies/examples/local.yaml\n  spillway policy show\n  spillway policy history\n  spillway policy plan\n');
  registerPolicyPlan(policy);

  policy.command('validate <file>')
    .description('check a policy file locally (no master needed): FILE:LINE: path: reason for each problem, exit 1 if any')
    .action((file: string) => {
      const { check } = checkFile(file);
      const pools = check.policy.pools.map((p) => p.name);
      process.stdout.write(`ok: ${file} — ${pools.length} pool${pools.length === 1 ? '' : 's'} (${pools.join(', ')})${check.warnings.length ? `, ${check.warnings.length} warning${check.warnings.length === 1 ? '' : 's'}` : ''}\n`);
      printWarnings(check.warnings);
    });

  addMasterOption(policy.command('apply <file>')
    .description('validate a policy file, then store it on the master as the next version'))
    .option('--json', 'print the answer as JSON')
    .action((file: string, o: MasterOptions & JsonOptions) => run(async () => {
      const { text, check } = checkFile(file);
      printWarnings(check.warnings);
      const type = extname(file).toLowerCase() === '.json' ? 'application/json' : 'text/yaml';
      let res: Response;
      try {
        res = await request(o.master, `/v1/policies?file=${encodeURIComponent(basename(file))}`, { method: 'POST', headers: { 'Content-Type': type }, body: text });
      } catch (e) {
        // The master validates again; if it still refuses (a different version), show its reasons.
        if (e instanceof HttpAnswerError && e.status === 400) {
          const problems = (JSON.parse(e.body) as { problems?: PolicyProblem[] }).problems;
          if (problems) return invalid(problems.map((p) => ({ ...p, file })));
        }
        throw e;
      }
      const answer = (await res.json()) as PolicyVersionSummary;
      if (o.json) return printJson(answer);
      process.stdout.write(`applied ${file} as policy version ${answer.version} (sha256 ${answer.sha256.slice(0, 12)})\n`);
    }));

  addMasterOption(policy.command('show'))
    .description('print the current policy as applied (YAML source), or a kept version with --version')
    .option('--version <n>', 'a kept version instead of the current one')
    .option('--json', 'print the stored record as JSON: version, appliedAt, sha256, source and the validated policy with defaults')
    .action((o: MasterOptions & JsonOptions & { version?: string }) => run(async () => {
      if (o.version !== undefined && !/^[1-9]\d*$/.test(o.version)) fail(`--version: '${o.version}' must be a whole number ≥ 1`);
      const path = o.version !== undefined ? `/v1/policies/${o.version}` : '/v1/policies/current';
      const v = (await (await request(o.master, path)).json()) as PolicyVersion;
      if (o.json) return printJson(v);
      process.stderr.write(`# policy version ${v.version}, applied ${shortTime(v.appliedAt)}${v.file ? ` from ${v.file}` : ''}\n`);
      process.stdout.write(v.source.endsWith('\n') ? v.source : `${v.source}\n`);
    }));

  addMasterOption(policy.command('history')
    .description('list the policy versions the master keeps, newest first'))
    .option('--json', 'print JSON instead of a table')
    .action((o: MasterOptions & JsonOptions) => run(async () => {
      const { versions } = (await (await request(o.master, '/v1/policies')).json()) as { versions: PolicyVersionSummary[] };
      if (o.json) return printJson(versions);
      if (!versions.length) {
        process.stdout.write('no policy has been applied yet (spillway policy apply FILE)\n');
        return;
      }
      printTable(['version', 'applied', 'file', 'pools', 'sha256', ''], versions.map((v) => [
        v.version, shortTime(v.appliedAt), v.file ?? '', v.pools.join(', '), v.sha256.slice(0, 12), v.current ? 'current' : '',
      ]));
    }));
}
