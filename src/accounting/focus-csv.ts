// The report as a FOCUS dataset (FinOps Open Cost and Usage Specification column names): one row
// per charge period (hour or day), resource, role and framework, plus an idle row per resource and
// period. Rows stream out as their period closes. Spillway acts as the internal provider: owned
// machines are charged back at their amortised cost, so BilledCost includes them and the BilledCost
// of the rows adds up to the report's total cost. The billing account is the cluster's (or the one
// the master is told). FOCUS columns come first; columns Spillway adds carry the x_ prefix.
import { IDLE } from './sample.ts';
import { M, MEASURE_COUNT, addMeasures, dimsKey, type Measures, type RowDims, type UsageRow } from './rows.ts';

export const FOCUS_COLUMNS = [
  'BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost', 'BillingAccountId', 'BillingAccountName', 'BillingCurrency', 'BillingPeriodStart', 'BillingPeriodEnd',
  'ChargePeriodStart', 'ChargePeriodEnd', 'ChargeCategory', 'ChargeClass', 'ChargeDescription', 'ChargeFrequency',
  'ConsumedQuantity', 'ConsumedUnit', 'PricingCategory', 'PricingQuantity', 'PricingUnit', 'ListUnitPrice', 'ContractedUnitPrice', 'SkuId', 'SkuPriceId', 'ProviderName', 'PublisherName', 'InvoiceIssuerName',
  'RegionId', 'RegionName', 'AvailabilityZone', 'ResourceId', 'ResourceName', 'ResourceType', 'ServiceCategory', 'ServiceName',
  'x_Ownership', 'x_Pool', 'x_Provider', 'x_InstanceType', 'x_CapacityType', 'x_AgentId', 'x_Role', 'x_FrameworkId', 'x_FrameworkName',
  'x_AllocatedCost', 'x_IdleCost', 'x_Utilization', 'x_CapacityCoreHours', 'x_AllocatedCoreHours', 'x_UsedCoreHours',
  'x_CapacityMemoryGiBHours', 'x_AllocatedMemoryGiBHours', 'x_UsedMemoryGiBHours', 'x_CapacityGpuHours', 'x_AllocatedGpuHours', 'x_UsedGpuHours',
  'x_Warning',
] as const;

export type ChargePeriod = 'hour' | 'day';

/** FOCUS BillingAccountId / BillingAccountName. */
export interface BillingAccount { id: string; name: string }

/** The default: Spillway bills as the internal provider, so the cluster is the account. */
export const clusterBillingAccount = (cluster: string): BillingAccount => ({ id: cluster, name: `Spillway cluster ${cluster}` });

const PROVIDER_NAMES: Record<string, string> = { 'aws-ec2': 'AWS', 'gcp-compute': 'Google Cloud', static: 'On-premises', local: 'Local', unknown: 'Unknown' };
const SERVICE_NAMES: Record<string, string> = {
  'aws-ec2': 'Amazon Elastic Compute Cloud', 'gcp-compute': 'Compute Engine', static: 'Owned machines',
  local: 'Local agents', unknown: 'Unpooled agents',
};
const RESOURCE_TYPES: Record<string, string> = { 'aws-ec2': 'Virtual Machine', 'gcp-compute': 'Virtual Machine', static: 'Physical Server', local: 'Local Agent', unknown: 'Agent' };
const PRICING: Record<RowDims['cap'], string> = { 'on-demand': 'Standard', spot: 'Dynamic', owned: 'Other' };

/**
 * One CSV field per RFC 4180: quoted when it holds a comma, a quote, a line break or edge spaces,
 * with quotes doubled. Text that a spreadsheet would run as a formula (= + - @ at the start) gets a
 * leading apostrophe, since framework names and hostnames come from outside. Numbers go as they are.
 */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (fields: readonly (string | number | null | undefined)[]): string => `${fields.map(csvField).join(',')}\r\n`;

const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
const num = (x: number): number => Number(x.toFixed(10));

function periodStart(t: number, p: ChargePeriod): number {
  const d = new Date(t);
  return p === 'hour' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

const periodLength = (p: ChargePeriod): number => (p === 'hour' ? 3_600_000 : 86_400_000);

function billingPeriod(t: number): [number, number] {
  const d = new Date(t);
  return [Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)];
}

function record(d: RowDims, m: Measures, start: number, end: number, account: BillingAccount, warn: string | undefined): (string | number | null)[] {
  const [bStart, bEnd] = billingPeriod(start);
  const idle = d.role === IDLE;
  const what = d.type ? `${d.type} (${d.cap})` : `machine (${d.cap})`;
  const description = idle
    ? `${what} in pool ${d.pool}: capacity no task held, and billing top-ups`
    : `${what} in pool ${d.pool}: allocated to role ${d.role}, framework ${d.fwName}`;
  const provider = PROVIDER_NAMES[d.prov] ?? d.prov;
  // No commitment or negotiated discounts: EffectiveCost and ContractedCost are the billed cost
  // (for spot, the spot price charged; ListCost is the on-demand price).
  // The priced unit is an hour of the machine; a row holds its share of them (PricingQuantity), so
  // unit price × PricingQuantity = cost, as FOCUS requires. A row with any part recorded before
  // machine-hours were (the day of the upgrade) has an incomplete count: quantity and unit prices
  // are left empty rather than made up.
  const hours = m[M.withoutHours] > 0 ? null : m[M.machineHours];
  // 8 decimals: the sums behind the quotient are stored to a billionth, and price lists quote no finer.
  const unit = (cost: number): number | null => (hours ? Number((cost / hours).toFixed(8)) : null);
  const sku = `${d.prov}/${d.type || 'machine'}`;
  return [
    num(m[M.cost]), num(m[M.cost]), num(m[M.listCost]), num(m[M.cost]), account.id, account.name, d.cur, iso(bStart), iso(bEnd),
    iso(start), iso(end), 'Usage', '', description, 'Usage-Based',
    num(m[M.capCpu]), 'Core-Hours', PRICING[d.cap], hours === null ? null : num(hours), 'Hours', unit(m[M.listCost]), unit(m[M.cost]), sku, `${sku}/${d.cap}/${d.region || 'none'}`,
    provider, provider, provider,
    d.region, d.region, d.zone, d.res, d.host, RESOURCE_TYPES[d.prov] ?? 'Agent', 'Compute', SERVICE_NAMES[d.prov] ?? d.prov,
    d.own, d.pool, d.prov, d.type, d.cap, d.agent, d.role, d.fw, d.fwName,
    num(m[M.allocatedCost]), num(m[M.idleCost]), num(m[M.capCpu] > 0 ? m[M.usedCpu] / m[M.capCpu] : 0),
    num(m[M.capCpu]), num(m[M.allocCpu]), num(m[M.usedCpu]),
    num(m[M.capMem]), num(m[M.allocMem]), num(m[M.usedMem]), num(m[M.capGpu]), num(m[M.allocGpu]), num(m[M.usedGpu]),
    warn ?? '',
  ];
}

export interface FocusCsvOptions {
  account: BillingAccount;
  /** Said on every row, e.g. that the export lacks part of the window asked for. */
  warning?: string | null;
}

/**
 * Streams rows into FOCUS CSV lines. Rows must arrive in non-decreasing charge period (the reader
 * goes hour by hour); each period's lines are emitted when a later period starts or at `end()`.
 * Charge periods are clipped to `span`: the part of the window the rows cover.
 */
export class FocusCsvWriter {
  private current = -1;
  private rows = new Map<string, { d: RowDims; m: Measures; warn?: string }>();
  billedTotal = 0;
  lines = 0;

  constructor(
    private readonly span: { from: number; to: number }, private readonly period: ChargePeriod,
    private readonly emit: (chunk: string) => void, private readonly options: FocusCsvOptions,
  ) {}

  header(): void {
    this.emit(csvLine(FOCUS_COLUMNS));
  }

  add(r: UsageRow): void {
    const p = periodStart(r.start, this.period);
    if (p !== this.current) {
      if (p < this.current) throw new Error('FocusCsvWriter: rows out of period order');
      this.flush();
      this.current = p;
    }
    const key = dimsKey(r.dims);
    let e = this.rows.get(key);
    if (!e) this.rows.set(key, (e = { d: r.dims, m: new Array<number>(MEASURE_COUNT).fill(0), ...(r.warn ? { warn: r.warn } : {}) }));
    addMeasures(e.m, r.m);
  }

  private flush(): void {
    if (this.current < 0) return;
    const start = Math.max(this.current, this.span.from);
    const end = Math.min(this.current + periodLength(this.period), this.span.to);
    const { account, warning } = this.options;
    const sorted = [...this.rows.values()].sort((a, b) => a.d.pool.localeCompare(b.d.pool) || a.d.res.localeCompare(b.d.res) || a.d.role.localeCompare(b.d.role) || a.d.fw.localeCompare(b.d.fw));
    let chunk = '';
    for (const e of sorted) {
      const warn = [e.warn, warning].filter(Boolean).join('; ');
      chunk += csvLine(record(e.d, e.m, start, end, account, warn || undefined));
      this.billedTotal += e.m[M.cost];
      this.lines++;
    }
    if (chunk) this.emit(chunk);
    this.rows = new Map();
  }

  end(): void {
    this.flush();
    this.current = -1;
  }
}
