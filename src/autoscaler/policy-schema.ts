// Autoscaling policy files (DESIGN §7, docs/POLICIES.md): the pools plus the rules the planner
// follows — scale-up expanders and launch rate, scale-down thresholds and disruption budget, the
// money budget for rented capacity, headroom and cooldowns. Validated with zod through the pool
// files' parseConfig, so every problem names the file, the line, the path and the reason.
import * as z from 'zod';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigFileError, PoolSchema, checkNetnsNetworks, parseConfig, type Pool } from '../../providers/pool-config.ts';

export const EXPANDERS = ['priority', 'least-waste', 'cheapest'] as const;
export type Expander = (typeof EXPANDERS)[number];
export const SCALE_DOWN_ORDERS = ['rented-first', 'most-expensive-first'] as const;
export type ScaleDownOrder = (typeof SCALE_DOWN_ORDERS)[number];

/** Adds an issue at `[...at, i]` for each entry that already appeared earlier in the list. */
function noDuplicates<T>(list: readonly T[], ctx: z.RefinementCtx, what: string, at: (string | number)[] = []): void {
  list.forEach((v, i) => {
    if (list.indexOf(v) !== i) ctx.addIssue({ code: 'custom', path: [...at, i], message: `${what} '${String(v)}' is listed twice` });
  });
}

const seconds = (what: string) => z.number({ error: `${what}: a number of seconds` }).nonnegative(`${what} cannot be negative`);

export const ScaleUpSchema = z.object({
  /** Tie-breakers for choosing a rented instance type, applied in order. */
  expanders: z.array(z.enum(EXPANDERS)).min(1, 'give at least one expander').default([...EXPANDERS]),
  /** Instances launched per minute across all pools, at most. */
  maxLaunchesPerMinute: z.number().int('a whole number').min(1, 'at least 1').default(10),
  /** Demand is gathered this long before a plan is made, so a burst becomes one launch. */
  batchWindowSeconds: seconds('batchWindowSeconds').default(10),
}).strict().superRefine((s, ctx) => noDuplicates(s.expanders, ctx, 'expander', ['expanders']));
export type ScaleUp = z.infer<typeof ScaleUpSchema>;

/** A count of machines (`2`) or a share of a pool's machines (`"10%"`, rounded up). */
export const DisruptionBudgetSchema = z.union([
  z.number().int('a whole number of machines, or a percentage like "10%"').nonnegative('cannot be negative'),
  z.string()
    .regex(/^\d{1,3}(\.\d+)?%$/, 'a whole number of machines, or a percentage like "10%"')
    .refine((s) => Number.parseFloat(s) <= 100, 'a percentage cannot be above 100%'),
], { error: 'a whole number of machines, or a percentage like "10%"' });
export type DisruptionBudget = z.infer<typeof DisruptionBudgetSchema>;

export const ScaleDownSchema = z.object({
  /** An agent whose allocated share of cpus and of mem are both below this is a candidate. */
  utilisationThreshold: z.number().min(0, 'between 0 and 1').max(1, 'between 0 and 1 (a fraction, not a percentage)').default(0.5),
  /** …and must stay a candidate this long before it is drained. */
  unneededForSeconds: seconds('unneededForSeconds').default(600),
  /** Tasks on a draining agent get this long to finish before they are killed. */
  drainGraceSeconds: seconds('drainGraceSeconds').default(120),
  /** Machines being drained at once, at most. */
  disruptionBudget: DisruptionBudgetSchema.default(1),
  /** Which candidates go first. */
  order: z.array(z.enum(SCALE_DOWN_ORDERS)).default([...SCALE_DOWN_ORDERS]),
}).strict().superRefine((s, ctx) => noDuplicates(s.order, ctx, 'order', ['order']));
export type ScaleDown = z.infer<typeof ScaleDownSchema>;

export const BudgetSchema = z.object({
  /** Money per hour the planner may spend on rented capacity (owned machines are not counted). */
  perHour: z.number({ error: 'perHour: money per hour, a number ≥ 0' }).nonnegative('cannot be negative (0 means no rented spending)'),
  /** Currency of perHour; pool prices are read in the same currency. */
  currency: z.string().regex(/^[A-Z]{3}$/, 'a three-letter currency code such as USD').default('USD'),
}).strict();
export type Budget = z.infer<typeof BudgetSchema>;

export const HeadroomSchema = z.object({
  cpus: z.number().nonnegative('cannot be negative').default(0),
  /** MB, as agents report mem. */
  mem: z.number().nonnegative('cannot be negative').default(0),
}).strict();
export type Headroom = z.infer<typeof HeadroomSchema>;

export const CooldownsSchema = z.object({
  /** After a scale-up, wait this long before the next one. */
  scaleUpSeconds: seconds('scaleUpSeconds').default(60),
  /** After a scale-up or scale-down, wait this long before scaling down. */
  scaleDownSeconds: seconds('scaleDownSeconds').default(300),
}).strict();
export type Cooldowns = z.infer<typeof CooldownsSchema>;

export const ReconcilerSchema = z.object({
  /** Instances tagged for this cluster that no record or agent knows: give them back, or adopt them. */
  unknownInstances: z.enum(['terminate', 'adopt'], { error: "'terminate' or 'adopt'" }).default('terminate'),
}).strict();
export type Reconciler = z.infer<typeof ReconcilerSchema>;
export const BILLING_UNITS = ['second', 'minute', 'hour'] as const;

/** How a provider bills rented machines (docs/REPORTS.md); defaults in src/accounting/cost-model.ts. */
export const BillingRuleSchema = z.object({
  /** Billing unit: a started unit is billed whole. */
  per: z.enum(BILLING_UNITS, { error: `one of: ${BILLING_UNITS.join(', ')}` }),
  /** Least a machine is billed for. */
  minimumSeconds: seconds('minimumSeconds').default(0),
}).strict();

/** Optional settings of the cost model (src/accounting/cost-model.ts, docs/REPORTS.md). */
export const AccountingSchema = z.object({
  /** Weights per core, GiB and GPU that split a machine's hourly cost over its resources. */
  costSplit: z.object({
    cpu: z.number().nonnegative('cannot be negative'),
    memGiB: z.number().nonnegative('cannot be negative'),
    gpu: z.number().nonnegative('cannot be negative'),
  }).strict().refine((w) => w.cpu + w.memGiB + w.gpu > 0, 'at least one weight must be above 0').optional(),
  /** Billing rules per provider kind, replacing the defaults for the kinds listed. */
  billing: z.partialRecord(z.enum(['local', 'static', 'aws-ec2', 'gcp-compute']), BillingRuleSchema).default({}),
}).strict();
export type AccountingSettings = z.infer<typeof AccountingSchema>;

/** Budget used when the file has none (allowed only when no rented pool can launch). */
export const NO_RENTED_BUDGET: Budget = { perHour: 0, currency: 'USD' };

export const PolicySchema = z.object({
  pools: z.array(PoolSchema).min(1, 'give at least one pool'),
  scaleUp: ScaleUpSchema.default(() => ScaleUpSchema.parse({})),
  scaleDown: ScaleDownSchema.default(() => ScaleDownSchema.parse({})),
  budget: BudgetSchema.optional(),
  headroom: HeadroomSchema.default({ cpus: 0, mem: 0 }),
  cooldowns: CooldownsSchema.default(() => CooldownsSchema.parse({})),
  reconciler: ReconcilerSchema.default(() => ReconcilerSchema.parse({})),
  accounting: AccountingSchema.optional(),
}).strict().superRefine((p, ctx) => {
  const seen = new Map<string, number>();
  p.pools.forEach((pool, i) => {
    if (seen.has(pool.name)) ctx.addIssue({ code: 'custom', path: ['pools', i, 'name'], message: `pool name '${pool.name}' is used twice (first at pools.${seen.get(pool.name)})` });
    else seen.set(pool.name, i);
  });
  checkNetnsNetworks(p.pools, ctx, ['pools']);
  const rented = p.pools.filter((x) => x.ownership === 'rented' && x.max > 0);
  if (!p.budget && rented.length) {
    ctx.addIssue({ code: 'custom', path: ['budget'], message: `rented pools can launch (${rented.map((x) => x.name).join(', ')}): give a budget (budget.perHour; 0 means no rented spending)` });
  }
}).transform((p) => ({ ...p, budget: p.budget ?? { ...NO_RENTED_BUDGET } }));

/** A validated policy, defaults filled in. */
export type Policy = z.output<typeof PolicySchema>;
export type { Pool };

// ---- validation with file, line, path and reason ------------------------------------------------

export interface PolicyProblem {
  file: string;
  line?: number;
  /** Dotted path into the document (`scaleUp.expanders.1`); '' for the document itself. */
  path: string;
  reason: string;
}

export type PolicyCheck =
  | { valid: true; policy: Policy; warnings: PolicyProblem[] }
  | { valid: false; errors: PolicyProblem[] };

/** `FILE:LINE: path: reason`, the format of every policy error and warning. */
export function formatProblem(p: PolicyProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.path || '(top)'}: ${p.reason}`;
}

/** Finds the line of a path in a YAML/JSON text (the nearest existing ancestor's, if it is absent). */
function locator(text: string): (path: readonly (string | number)[]) => number | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  return (path) => {
    for (let cut = path.length; cut >= 0; cut--) {
      const node = (cut === 0 ? doc.contents : doc.getIn(path.slice(0, cut), true)) as { range?: [number, number, number] } | null | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

/** Finds the line of a key (not its value) inside the mapping at `parent`. */
function keyLine(text: string, parent: readonly (string | number)[], key: string): number | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const map = (parent.length ? doc.getIn(parent, true) : doc.contents) as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null;
  const item = map?.items?.find((it) => it.key?.value === key);
  return item?.key?.range ? lines.linePos(item.key.range[0]).line : undefined;
}

/** The keys an object schema accepts at `path` (through arrays, defaults, optionals, transforms). */
function keysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] | undefined {
  let s = schema as unknown as { def: Record<string, unknown> & { type: string } };
  const unwrap = (): void => {
    for (;;) {
      const d = s.def;
      if (d.type === 'default' || d.type === 'optional' || d.type === 'nullable' || d.type === 'prefault') s = d.innerType as typeof s;
      else if (d.type === 'pipe') s = d.in as typeof s;
      else return;
    }
  };
  unwrap();
  for (const part of path) {
    if (typeof part === 'number') {
      if (s.def.type !== 'array') return undefined;
      s = s.def.element as typeof s;
    } else if (s.def.type === 'object') {
      const next = (s.def.shape as Record<string, typeof s>)[part];
      if (!next) return undefined;
      s = next;
    } else return undefined;
    unwrap();
  }
  return s.def.type === 'object' ? Object.keys(s.def.shape as object) : undefined;
}

/**
 * Problems from parseConfig, with unknown keys pointed at the key's own line and listed one by one
 * together with the keys that are allowed there.
 */
function refineProblems(err: ConfigFileError, text: string, file: string): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const p of err.problems) {
    const unknown = /^Unrecognized keys?: (.*)$/.exec(p.message);
    if (!unknown) {
      out.push({ file, line: p.line, path: p.path, reason: p.message });
      continue;
    }
    const parent = p.path ? p.path.split('.').map((x) => (/^\d+$/.test(x) ? Number(x) : x)) : [];
    const allowed = keysAt(PolicySchema, parent);
    for (const quoted of unknown[1].split(/,\s*/)) {
      const key = quoted.replace(/^"|"$/g, '');
      out.push({
        file,
        line: keyLine(text, parent, key) ?? p.line,
        path: [...parent, key].join('.'),
        reason: `unknown key${allowed ? ` (expected one of: ${allowed.join(', ')})` : ''}`,
      });
    }
  }
  return out;
}

function priceOf(pool: Pool, t: Pool['instanceTypes'][number]): number | undefined {
  return pool.capacityType === 'spot' ? (t.spotPrice ?? t.price) : t.price;
}

/** Things that are allowed but probably not what was meant. */
export function policyWarnings(policy: Policy): { path: (string | number)[]; reason: string }[] {
  const out: { path: (string | number)[]; reason: string }[] = [];
  const rented = policy.pools.map((pool, i) => ({ pool, i })).filter(({ pool }) => pool.ownership === 'rented' && pool.max > 0);
  if (rented.length && policy.budget.perHour === 0) {
    out.push({ path: ['budget', 'perHour'], reason: `budget is 0: rented pools (${rented.map(({ pool }) => pool.name).join(', ')}) will not launch anything` });
  }
  for (const { pool, i } of rented) {
    const prices = pool.instanceTypes.map((t) => priceOf(pool, t)).filter((x): x is number => x !== undefined);
    const cheapest = prices.length ? Math.min(...prices) : undefined;
    if (policy.budget.perHour > 0 && cheapest !== undefined && cheapest > policy.budget.perHour) {
      out.push({ path: ['pools', i], reason: `pool ${pool.name}: its cheapest instance type costs ${cheapest}/h, above budget.perHour ${policy.budget.perHour} — it never launches for demand${pool.min > 0 ? ' (its min still does)' : ''}` });
    }
    if (pool.min > 0 && cheapest !== undefined && pool.min * cheapest > policy.budget.perHour) {
      out.push({ path: ['pools', i, 'min'], reason: `pool ${pool.name}: its min of ${pool.min} costs at least ${Math.round(pool.min * cheapest * 1e6) / 1e6}/h, above budget.perHour ${policy.budget.perHour} — the min is kept whatever the budget` });
    }
    pool.instanceTypes.forEach((t, j) => {
      if (priceOf(pool, t) === undefined) out.push({ path: ['pools', i, 'instanceTypes', j], reason: `instance type ${t.name} has no price: it counts as free against the budget` });
    });
  }
  if (Number.parseFloat(String(policy.scaleDown.disruptionBudget)) === 0) { // 0, "0%", "0.0%" alike
    out.push({ path: ['scaleDown', 'disruptionBudget'], reason: 'disruption budget is 0: scale-down never releases a machine' });
  }
  if (policy.pools.every((pool) => pool.max === 0)) out.push({ path: ['pools'], reason: 'every pool has max 0: nothing can ever be launched' });
  // Owned machines are always charged per second: a rule for a provider with no rented pool is moot.
  for (const kind of Object.keys(policy.accounting?.billing ?? {})) {
    if (!policy.pools.some((pool) => pool.provider === kind && pool.ownership === 'rented')) {
      out.push({ path: ['accounting', 'billing', kind], reason: `no rented pool uses provider ${kind}: owned machines are always charged per second, so this rule applies to nothing` });
    }
  }
  return out;
}

/** Top to bottom, as people read the file (stable; problems without a line last). */
const byLine = (problems: PolicyProblem[]): PolicyProblem[] =>
  problems.map((p, i) => ({ p, i })).sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || a.i - b.i).map(({ p }) => p);

/** Validates a policy text (YAML or JSON); never throws for a bad document. */
export function validatePolicy(text: string, file: string): PolicyCheck {
  if (!text.trim()) return { valid: false, errors: [{ file, path: '', reason: 'the policy is empty (expected at least a `pools:` list)' }] };
  let policy: Policy;
  try {
    policy = parseConfig(PolicySchema, text, file);
  } catch (e) {
    if (e instanceof ConfigFileError) return { valid: false, errors: byLine(refineProblems(e, text, file)) };
    throw e;
  }
  const at = locator(text);
  const warnings = byLine(policyWarnings(policy).map((w) => ({ file, line: at(w.path), path: w.path.join('.'), reason: w.reason })));
  return { valid: true, policy, warnings };
}

/** Validates a policy text; throws a ConfigFileError (file:line: path: reason lines) if it is bad. */
export function parsePolicy(text: string, file: string): { policy: Policy; warnings: PolicyProblem[] } {
  const r = validatePolicy(text, file);
  if (!r.valid) throw new ConfigFileError(file, r.errors.map((p) => ({ line: p.line, path: p.path, message: p.reason })));
  return { policy: r.policy, warnings: r.warnings };
}

/**
 * How many machines may be draining at once out of `machines`: a count as given, a percentage of
 * the machines rounded up (so any percentage above 0 allows at least one).
 */
export function disruptionLimit(budget: DisruptionBudget, machines: number): number {
  if (typeof budget === 'number') return budget;
  return Math.ceil((machines * Number.parseFloat(budget)) / 100);
}

/** The planner's view of a policy (src/autoscaler/plan-types.ts ScalingPolicy). */
export function scalingPolicyOf(policy: Policy): {
  expanders: Expander[];
  maxLaunchesPerMinute: number;
  budgetPerHour: number;
  headroom: { cpus: number; mem: number };
} {
  return {
    expanders: [...policy.scaleUp.expanders],
    maxLaunchesPerMinute: policy.scaleUp.maxLaunchesPerMinute,
    budgetPerHour: policy.budget.perHour,
    headroom: { cpus: policy.headroom.cpus, mem: policy.headroom.mem },
  };
}
