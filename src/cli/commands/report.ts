// `spillway report` and `spillway report summary`: finance reports from the master's accounting
// (docs/REPORTS.md). The query is checked here first with the same code the API uses, so a bad
// grouping, window or format is refused (exit 1, accepted values named) before the master is asked.
import type { Command } from 'commander';
import { MasterClient } from '../../client/master-client.ts';
import { addMasterOption } from '../master-option.ts';
import { COVERAGE_HEADER, type Coverage } from '../../accounting/coverage.ts';
import { FORMATS, GROUPINGS, parseReportQuery, ReportQueryError, type ReportFormat } from '../../accounting/report-query.ts';
import { reportText, summaryText } from '../../accounting/report-text.ts';
import type { Report } from '../../accounting/report-engine.ts';
import type { Summary } from '../../accounting/summary.ts';
import { fail, printJson, step } from '../output.ts';

interface ReportOptions { master: string; window?: string; from?: string; to?: string; by?: string; format?: string; json?: boolean }

function resolve(o: ReportOptions, fallback: ReportFormat): { from: number; to: number; by: string[]; format: ReportFormat } {
  try {
    const format = o.json ? 'json' : o.format;
    return parseReportQuery({ window: o.window, from: o.from, to: o.to, by: o.by, format }, Date.now(), fallback);
  } catch (e) {
    if (e instanceof ReportQueryError) return fail(`--${e.field}: ${e.reason}`);
    throw e;
  }
}

/**
 * The window as given (checked above): the master resolves it on its own clock, so "the last 7
 * days" ends where its sampler is and may start at an hour's beginning (docs/REPORTS.md Coverage).
 */
function windowParams(o: ReportOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['window', 'from', 'to'] as const) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

async function get(master: string, path: string, params: Record<string, string>): Promise<Response> {
  const query = new URLSearchParams(params).toString();
  let res: Response;
  try {
    res = await new MasterClient(master).fetch(query ? `${path}?${query}` : path);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!res.ok) {
    const text = await res.text();
    let msg = text;
    try { msg = (JSON.parse(text) as { error?: string }).error ?? text; } catch { /* plain text */ }
    return fail(`master answered ${res.status}: ${msg}`);
  }
  return res;
}

function windowOptions(cmd: Command): Command {
  return addMasterOption(cmd
    .option('--window <duration>', 'length of the window, ending now unless --from or --to say otherwise (e.g. 24h, 7d, 4w); default 7d')
    .option('--from <iso>', 'window start, ISO 8601 (e.g. 2026-11-01 or 2026-11-01T09:00:00Z)')
    .option('--to <iso>', 'window end (exclusive), ISO 8601'));
}

export function registerReportCommands(program: Command): void {
  const report = windowOptions(program.command('report').enablePositionalOptions()
    .description('owned vs rented capacity, allocation, use and cost over a window, grouped as you ask')
    .option('--by <groupings>', `comma-separated groupings: ${GROUPINGS.join(', ')}`)
    .option('--format <format>', `output: ${FORMATS.join(', ')} (csv: FOCUS columns, one row per resource, role and day — or hour with --by hour)`, 'table')
    .option('--json', 'same as --format json'))
    .addHelpText('after', '\nExamples:\n  spillway report --window 7d --by ownership,pool\n  spillway report --from 2026-11-01 --to 2026-12-01 --format csv > november.csv\n  spillway report summary --window 30d\n')
    .action(async (o: ReportOptions) => {
      const q = resolve(o, 'table');
      const params = { ...windowParams(o), ...(q.by.length ? { by: q.by.join(',') } : {}) };
      if (q.format === 'csv') {
        const done = step('exporting FOCUS CSV');
        const res = await get(o.master, '/v1/reports', { ...params, format: 'csv' });
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
        done();
        // stdout is the CSV (its rows say it too, in x_Warning): tell the person on stderr.
        const coverage = JSON.parse(res.headers.get(COVERAGE_HEADER) ?? '{}') as Partial<Coverage>;
        if (coverage.note) process.stderr.write(`warning: ${coverage.note}\n`);
        return;
      }
      const done = step('reading the report');
      const r = (await (await get(o.master, '/v1/reports', params)).json()) as Report;
      done();
      if (q.format === 'json') return printJson(r);
      process.stdout.write(reportText(r));
    });

  windowOptions(report.command('summary')
    .description('rented spend and its use, owned utilisation (owned before rented?), who drives rented spend, how long demand waited')
    .option('--json', 'print JSON'))
    .action(async (o: ReportOptions) => {
      const q = resolve({ ...o, format: o.json ? 'json' : 'table' }, 'table');
      const done = step('reading the summary');
      const s = (await (await get(o.master, '/v1/reports/summary', windowParams(o))).json()) as Summary;
      done();
      if (q.format === 'json') return printJson(s);
      process.stdout.write(summaryText(s));
    });
}
