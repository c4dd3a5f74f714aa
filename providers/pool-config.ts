// Pools as ops teams write them (YAML or JSON): where machines come from, what they look like and
// cost, and how many. Validated with zod; errors name the file, the line, the path and the reason.
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { LineCounter, parseDocument } from 'yaml';
import { DEFAULT_SUBNET, parseSubnet } from './local/netns.ts';

const Name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, starting with a letter or digit (≤ 63)');

export const InstanceTypeSchema = z.object({
  name: z.string().min(1),
  cpus: z.number().positive(),
  mem: z.number().positive(),
  disk: z.number().nonnegative().optional(),
  gpus: z.number().int().nonnegative().optional(),
  /** On-demand price per hour from the pool's price book. */
  price: z.number().nonnegative().optional(),
  /** Spot price per hour if known statically (providers may report live spot prices instead). */
  spotPrice: z.number().nonnegative().optional(),
}).strict();

const AwsSchema = z.object({
  region: z.string().min(1),
  endpoint: z.string().url().optional(),
  amiId: z.string().optional(),
  subnetId: z.string().optional(),
  securityGroupIds: z.array(z.string()).default([]),
  instanceProfile: z.string().optional(),
  keyName: z.string().optional(),
  launchTemplate: z.object({ id: z.string().optional(), name: z.string().optional(), version: z.string().optional() }).strict().optional(),
  /** For tests and private setups only; otherwise the SDK's default credential chain is used. */
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }).strict().optional(),
}).strict().refine((a) => a.launchTemplate || a.amiId, { message: 'give either launchTemplate or amiId' });

const GcpSchema = z.object({
  project: z.string().min(1),
  zone: z.string().min(1),
  apiEndpoint: z.string().optional(),
  sourceImage: z.string().min(1),
  network: z.string().optional(),
  subnetwork: z.string().optional(),
  serviceAccount: z.string().optional(),
  /** For tests against a local fake: plain HTTP and no credentials. */
  insecure: z.boolean().optional(),
}).strict();

const StaticMachineSchema = z.object({
  name: z.string().min(1),
  address: z.string().min(1),
  cpus: z.number().positive(),
  mem: z.number().positive(),
  disk: z.number().nonnegative().optional(),
  gpus: z.number().int().nonnegative().optional(),
  attributes: z.record(z.string(), z.string()).default({}),
  costPerHour: z.number().nonnegative().optional(),
}).strict();

const StaticSchema = z.object({
  machines: z.array(StaticMachineSchema).min(1),
  /** Run to power a machine on; `{name}` and `{address}` are substituted (ipmitool, wakeonlan, ssh …). */
  powerOn: z.string().min(1),
  powerOff: z.string().optional(),
  /** On release: power the machine off, or only drain it and leave it on. */
  onRelease: z.enum(['power-off', 'drain-only']).default('power-off'),
}).strict();

const SubnetSchema = z.string().superRefine((v, ctx) => {
  try {
    parseSubnet(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** Owned machines: what one machine cost and costs to run; gives its cost per hour (docs/POLICIES.md). */
export const AmortisationSchema = z.object({
  /** What one machine cost to buy. */
  purchasePrice: z.number().nonnegative(),
  /** Years it is written off over. */
  lifeYears: z.number().positive(),
  /** Power per machine per hour. */
  powerPerHour: z.number().nonnegative().default(0),
  /** Rack space, cooling and the like per machine per hour. */
  spacePerHour: z.number().nonnegative().default(0),
}).strict();

const LocalSchema = z.object({
  /** Run each instance in its own network namespace with its own address (root only). */
  netns: z.boolean().default(false),
  /** The namespaces' private IPv4 subnet; the host (and the master) take its first address. */
  subnet: SubnetSchema.default(DEFAULT_SUBNET),
  /** Name of that network (prefixes its bridge, namespaces and links); pools may share one. */
  network: z.string().regex(/^[a-z][a-z0-9]{0,5}$/, '1–6 lowercase letters and digits, starting with a letter').default('spw'),
  /** Where agents in the namespaces find the master (default: the master URL with the bridge address as host). */
  masterUrl: z.string().url().optional(),
}).strict();

export const PoolSchema = z.object({
  name: Name,
  provider: z.enum(['local', 'static', 'aws-ec2', 'gcp-compute']),
  ownership: z.enum(['owned', 'rented']),
  capacityType: z.enum(['on-demand', 'spot']).default('on-demand'),
  min: z.number().int().nonnegative().default(0),
  max: z.number().int().nonnegative(),
  priority: z.number().int().default(0),
  bootTimeoutSeconds: z.number().positive().default(600),
  /** Owned machines: amortised cost per hour (purchase over life + power + space). */
  costPerHour: z.number().nonnegative().optional(),
  /** Owned machines: the cost per hour worked out from the purchase (instead of costPerHour). */
  amortisation: AmortisationSchema.optional(),
  attributes: z.record(z.string(), z.string()).default({}),
  instanceTypes: z.array(InstanceTypeSchema).default([]),
  aws: AwsSchema.optional(),
  gcp: GcpSchema.optional(),
  static: StaticSchema.optional(),
  local: LocalSchema.optional(),
}).strict().superRefine((p, ctx) => {
  if (p.min > p.max) ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${p.min}) is above max (${p.max})` });
  const need = { 'aws-ec2': 'aws', 'gcp-compute': 'gcp', static: 'static' } as const;
  const section = need[p.provider as keyof typeof need];
  if (section && !p[section]) ctx.addIssue({ code: 'custom', path: [section], message: `provider ${p.provider} needs a '${section}' section` });
  if ((p.provider === 'aws-ec2' || p.provider === 'gcp-compute' || p.provider === 'local') && p.instanceTypes.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['instanceTypes'], message: 'give at least one instance type (name, cpus, mem, price)' });
  }
  if (p.ownership === 'rented') {
    p.instanceTypes.forEach((t, i) => {
      if (t.price === undefined && p.provider !== 'local') ctx.addIssue({ code: 'custom', path: ['instanceTypes', i, 'price'], message: `instance type ${t.name} has no price in the price book` });
    });
  }
  if (p.costPerHour !== undefined && p.amortisation) ctx.addIssue({ code: 'custom', path: ['amortisation'], message: 'give costPerHour or amortisation, not both' });
  if (p.provider === 'static' && p.ownership !== 'owned') ctx.addIssue({ code: 'custom', path: ['ownership'], message: 'static pools are owned machines' });
});
export type Pool = z.infer<typeof PoolSchema>;

/** A cross-pool rule shared by pool files and policies: pools sharing a netns network share its subnet. */
export function checkNetnsNetworks(pools: readonly Pool[], ctx: z.RefinementCtx, path: (string | number)[]): void {
  const subnets = new Map<string, string>();
  pools.forEach((p, i) => {
    if (p.provider !== 'local' || !p.local?.netns) return;
    const other = subnets.get(p.local.network);
    if (other !== undefined && other !== p.local.subnet) {
      ctx.addIssue({ code: 'custom', path: [...path, i, 'local', 'subnet'], message: `network '${p.local.network}' is already given subnet ${other} by another pool` });
    }
    subnets.set(p.local.network, p.local.subnet);
  });
}

export const PoolsFileSchema = z.object({ pools: z.array(PoolSchema) }).strict().superRefine((f, ctx) => {
  const seen = new Set<string>();
  f.pools.forEach((p, i) => {
    if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['pools', i, 'name'], message: `pool name '${p.name}' is used twice` });
    seen.add(p.name);
  });
  checkNetnsNetworks(f.pools, ctx, ['pools']);
});
export type PoolsFile = z.infer<typeof PoolsFileSchema>;

export class ConfigFileError extends Error {
  constructor(readonly file: string, readonly problems: { line?: number; path: string; message: string }[]) {
    super(problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.path || '(top)'}: ${p.message}`).join('\n'));
    this.name = 'ConfigFileError';
  }
}

/**
 * Parses and validates a YAML/JSON document against a schema; every problem carries its line.
 * Shared by pool files and policy files.
 */
export function parseConfig<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    throw new ConfigFileError(file, doc.errors.map((e) => ({ line: lines.linePos(e.pos[0]).line, path: '', message: e.message.split('\n')[0] })));
  }
  const parsed = schema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  throw new ConfigFileError(file, parsed.error.issues.map((issue) => {
    const path = issue.path.map(String);
    let node = doc.getIn(issue.path as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    for (let cut = path.length - 1; !node?.range && cut >= 0; cut--) node = doc.getIn(issue.path.slice(0, cut) as (string | number)[], true) as typeof node;
    return { line: node?.range ? lines.linePos(node.range[0]).line : undefined, path: path.join('.'), message: issue.message };
  }));
}

export function loadPoolsFile(file: string): PoolsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigFileError(file, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseConfig(PoolsFileSchema, text, file);
}
