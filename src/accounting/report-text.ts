// Reports as text for people: the report table (cli-table3) and the summary's sentences.
import Table from 'cli-table3';
import { reportTable, type Report } from './report-engine.ts';
import type { Summary } from './summary.ts';

export function renderTable(head: string[], rows: string[][]): string {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) table.push(r);
  return `${table.toString()}\n`;
}

export function reportText(r: Report): string {
  const { head, rows } = reportTable(r);
  let out = `Report ${r.window.from} → ${r.window.to} (${r.window.hours.toFixed(1)} h), costs in ${r.currency}${r.by.length ? `, by ${r.by.join(', ')}` : ''}\n`;
  out += renderTable(head, rows);
  for (const w of r.warnings) out += `warning: ${w}\n`;
  return out;
}

export function summaryText(s: Summary): string {
  let out = `Summary ${s.window.from} → ${s.window.to}, costs in ${s.currency}\n\n`;
  for (const line of s.sentences) out += `• ${line}\n`;
  for (const w of s.warnings) out += `warning: ${w}\n`;
  return out;
}
