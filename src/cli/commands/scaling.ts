// `spillway scaling decisions [--follow]`: the autoscaler's decision log (what it did and why — and
// why not), and `spillway policy plan`: a dry run of what an evaluation would do now.
import type { Command } from 'commander';
import type { StoredDecision } from '../../autoscaler/decision-log.ts';
import { v1 } from '../../client/v1-client.ts';
import { addMasterOption } from '../master-option.ts';
import { exitWhenWritten, fail, printJson } from '../output.ts';

const getJson = <T>(master: string, path: string): Promise<T> => v1<T>(master, 'GET', path);

const time = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** A decision for people: a header line, then `+` actions and `-` why-nots, indented. */
export function formatDecision(d: Pick<StoredDecision, 'kind' | 'at' | 'summary' | 'actions' | 'notes'>): string {
  const lines = [`${time(d.at)}  ${d.kind.padEnd(14)} ${d.summary}`];
  for (const a of d.actions) lines.push(`    + ${a.type}: ${a.reason}`);
  for (const n of d.notes) lines.push(`    - ${n}`);
  return `${lines.join('\n')}\n`;
}

interface DecisionOptions { master: string; json?: boolean; follow?: boolean; since?: string; limit: string; interval: string }

export function registerScalingCommands(program: Command): void {
  const scaling = program.command('scaling').description('the autoscaler: its decision log (docs/POLICIES.md)');
  addMasterOption(scaling.command('decisions')
    .description('what the autoscaler decided and why — and why not; newest last'))
    .option('--json', 'one JSON object per decision, one per line')
    .option('-f, --follow', 'keep printing new decisions as they are made (Ctrl-C stops)')
    .option('--since <id|time>', 'every decision after this decision id or time (ISO 8601 or ms), however many')
    .option('--limit <n>', 'without --since: how many of the latest decisions to print at first', '20')
    .option('--interval <ms>', 'with --follow: how often to ask', '1000')
    .addHelpText('after', '\nExamples:\n  spillway scaling decisions\n  spillway scaling decisions --follow\n  spillway scaling decisions --json --since 2026-01-01T00:00:00Z\n')
    .action(async (o: DecisionOptions) => {
      const limit = Number(o.limit);
      const interval = Number(o.interval);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail(`--limit: '${o.limit}' must be a whole number from 1 to 1000`);
      if (!Number.isFinite(interval) || interval < 100) fail(`--interval: '${o.interval}' must be at least 100 (ms)`);
      const print = (ds: StoredDecision[]): void => {
        for (const d of ds) process.stdout.write(o.json ? `${JSON.stringify(d)}\n` : formatDecision(d));
      };
      let since = o.since;
      const page = (n: number) => getJson<{ decisions: StoredDecision[]; next: string | null }>(o.master, `/v1/decisions?limit=${n}${since ? `&since=${encodeURIComponent(since)}` : ''}`);
      /** Every decision after `since`, page by page (a page holds at most 1000). */
      const catchUp = async (): Promise<number> => {
        let printed = 0;
        for (;;) {
          const p = await page(1000);
          print(p.decisions);
          printed += p.decisions.length;
          since = p.next ?? since;
          if (p.decisions.length < 1000) return printed;
        }
      };
      try {
        let printed: number;
        if (since) printed = await catchUp();
        else {
          const first = await page(limit);
          print(first.decisions);
          printed = first.decisions.length;
          since = first.next ?? since;
        }
        if (!o.follow) {
          if (!printed && !o.json) process.stderr.write('no decisions yet\n');
          return exitWhenWritten(0);
        }
        for (;;) {
          await new Promise((r) => setTimeout(r, interval));
          await catchUp();
        }
      } catch (e) {
        fail((e as Error).message);
      }
    });
}

interface PlanAnswer {
  summary: string;
  at: string;
  actions: StoredDecision['actions'];
  notes: string[];
  inputs?: Record<string, unknown>;
}

/** `spillway policy plan`, registered on the `policy` command. */
export function registerPolicyPlan(policy: Command): void {
  addMasterOption(policy.command('plan')
    .description('dry run: what the autoscaler would do now with the policy in force — launches, drains and why not; changes nothing'))
    .option('--json', 'print the whole dry run as JSON (steps, unmet demand, scale-down candidates)')
    .action(async (o: { master: string; json?: boolean }) => {
      try {
        const p = await getJson<PlanAnswer>(o.master, '/v1/plan');
        if (o.json) printJson(p);
        else {
          process.stdout.write(`dry run at ${p.at}: ${p.summary}\n`);
          if (!p.actions.length) process.stdout.write('  (nothing would change)\n');
          for (const a of p.actions) process.stdout.write(`  + ${a.type}: ${a.reason}\n`);
          for (const n of p.notes) process.stdout.write(`  - ${n}\n`);
        }
        exitWhenWritten(0);
      } catch (e) {
        fail((e as Error).message);
      }
    });
}
