// Finance reports on the master (docs/REPORTS.md):
//   GET /v1/reports?window=7d&by=ownership,pool&format=json|csv|table   (also from=, to= ISO times)
//   GET /v1/reports/summary?window=7d[&format=json|table]
// Query parameters mirror `spillway report`; a bad one is a 400 naming the parameter, the problem
// and the accepted values. CSV (FOCUS columns) streams as it is read; its coverage (the part of
// the window there is data for, as in the JSON report) comes first, in X-Spillway-Coverage.
import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Accounting } from '../accounting/accounting.ts';
import { COVERAGE_HEADER } from '../accounting/coverage.ts';
import { parseReportQuery, ReportQueryError } from '../accounting/report-query.ts';
import { reportText, summaryText } from '../accounting/report-text.ts';
import type { Clock } from '../common/clock.ts';

/** Query parameters as strings; a repeated `by` is joined, other repeats are refused by the schema. */
function queryOf(ctx: Context): Record<string, unknown> {
  const q: Record<string, unknown> = { ...ctx.query };
  if (Array.isArray(q.by)) q.by = q.by.join(',');
  return q;
}

function bad(ctx: Context, e: ReportQueryError): void {
  ctx.status = 400;
  ctx.body = { error: e.message, field: e.field, reason: e.reason };
}

const stamp = (t: number): string => new Date(t).toISOString().replace(/[-:]|\.\d{3}/g, '');

export function mountReportRoutes(router: Router, accounting: Accounting | undefined, clock: Clock): void {
  const withAccounting = (handler: (a: Accounting, ctx: Context) => Promise<void>) => async (ctx: Context): Promise<void> => {
    if (!accounting) {
      ctx.status = 503;
      ctx.body = { error: 'accounting is off on this master (it was started with --no-accounting)' };
      return;
    }
    try {
      await handler(accounting, ctx);
    } catch (e) {
      if (e instanceof ReportQueryError) return bad(ctx, e);
      throw e;
    }
  };

  router.get('/v1/reports/summary', withAccounting(async (a, ctx) => {
    const q = parseReportQuery(queryOf(ctx), clock.now());
    if (q.by.length) throw new ReportQueryError('by', 'the summary has its own groupings; leave by out');
    if (q.format === 'csv') throw new ReportQueryError('format', "'csv' is not offered for the summary (accepted: table, json)");
    const s = await a.summary(q);
    if (q.format === 'table') {
      ctx.type = 'text/plain';
      ctx.body = summaryText(s);
    } else ctx.body = s;
  }));

  router.get('/v1/reports', withAccounting(async (a, ctx) => {
    const q = parseReportQuery(queryOf(ctx), clock.now());
    if (q.format === 'csv') {
      const csv = await a.csv(q);
      const body = new PassThrough();
      ctx.type = 'text/csv; charset=utf-8';
      ctx.set('Content-Disposition', `attachment; filename="spillway-focus-${stamp(q.from)}-${stamp(q.to)}.csv"`);
      const { missing: _, ...coverage } = csv.coverage; // the note names the missing parts; the list can be long
      ctx.set(COVERAGE_HEADER, JSON.stringify(coverage));
      ctx.body = body;
      csv.write((chunk) => body.write(chunk)).then(() => body.end(), (e: unknown) => body.destroy(e as Error));
      return;
    }
    const report = await a.report(q);
    if (q.format === 'table') {
      ctx.type = 'text/plain';
      ctx.body = reportText(report);
    } else ctx.body = report;
  }));
}
