// Accounting flags of `spillway master` and `spillway up` (docs/OPERATIONS.md, "Accounting").
import type { Command } from 'commander';
import { DEFAULT_ACCOUNTING, type AccountingOptions } from '../../accounting/accounting.ts';
import { DURATION_HELP, formatDuration, parseDuration } from '../../accounting/duration.ts';
import { fail } from '../output.ts';

export interface AccountingFlags {
  accounting: boolean;
  accountingInterval: string;
  accountingRetention: string;
  accountingSampleRetention: string;
  accountingBillingAccount?: string;
  accountingBillingAccountName?: string;
}

export function addAccountingFlags(cmd: Command): Command {
  return cmd
    .option('--accounting-interval <seconds>', 'seconds between accounting samples of every agent', String(DEFAULT_ACCOUNTING.intervalSeconds))
    .option('--accounting-retention <duration>', 'how long hourly accounting rollups (what reports read) are kept', formatDuration(DEFAULT_ACCOUNTING.retentionMs))
    .option('--accounting-sample-retention <duration>', 'how long per-interval samples are kept (reports with window edges inside an hour need them)', formatDuration(DEFAULT_ACCOUNTING.sampleRetentionMs))
    .option('--accounting-billing-account <id>', 'FOCUS BillingAccountId of the CSV reports (default: the cluster name)')
    .option('--accounting-billing-account-name <name>', 'FOCUS BillingAccountName of the CSV reports (default: "Spillway cluster <cluster>")')
    .option('--no-accounting', 'do not sample agents for cost reports');
}

function duration(flag: string, v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) fail(`--${flag}: '${v}' is not a duration (${DURATION_HELP})`);
  return ms;
}

/** Accounting options from the flags, or false when turned off; exits 1 naming the flag on a bad value. */
export function accountingFromFlags(o: AccountingFlags): Partial<AccountingOptions> | false {
  if (o.accounting === false) return false;
  const interval = Number(o.accountingInterval);
  if (!Number.isInteger(interval) || interval < 1 || interval > 3600 || 3600 % interval !== 0) {
    fail(`--accounting-interval: '${o.accountingInterval}' is not a whole number of seconds from 1 to 3600 that divides an hour (e.g. 10, 30, 60, 300)`);
  }
  const retentionMs = duration('accounting-retention', o.accountingRetention);
  const sampleRetentionMs = duration('accounting-sample-retention', o.accountingSampleRetention);
  const account = (flag: string, v: string | undefined): string | undefined => {
    if (v !== undefined && v.trim() === '') fail(`--${flag}: give a non-empty value (or leave the flag out for the cluster's)`);
    return v?.trim();
  };
  const billingAccountId = account('accounting-billing-account', o.accountingBillingAccount);
  const billingAccountName = account('accounting-billing-account-name', o.accountingBillingAccountName);
  return {
    intervalSeconds: interval, retentionMs, sampleRetentionMs,
    ...(billingAccountId !== undefined ? { billingAccountId } : {}), ...(billingAccountName !== undefined ? { billingAccountName } : {}),
  };
}
