// The Terraform modules under terraform/, checked without a terraform binary or provider plugins:
// every .tf file is parsed with HashiCorp's HCL parser (@cdktf/hcl2json, Go's hclsyntax compiled to
// WASM), references are resolved within each module, and what the modules grant and run is
// compared with the code it must fit: the EC2 and Compute calls the providers make, the flags
// `spillway master` and `spillway agent` really take, the pool schema the policy snippets must pass.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getReferencesInExpression, parse } from '@cdktf/hcl2json';
import { PoolSchema } from '../providers/pool-config.ts';
import { checkPool } from '../providers/aws-ec2/config.ts';
import { MANAGED_BY, TAGS } from '../providers/context.ts';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tfRoot = join(root, 'terraform');

// ---- loading -------------------------------------------------------------------------------------

type Body = Record<string, any>;

interface TfFile {
  readonly rel: string;
  readonly text: string;
  readonly json: Body;
}

/** One Terraform module (a directory): its files and the blocks they declare. */
interface TfModule {
  readonly rel: string;
  readonly dir: string;
  readonly files: TfFile[];
  readonly variables: Map<string, Body>;
  readonly locals: Map<string, unknown>;
  readonly resources: Map<string, Body>;
  readonly data: Map<string, Body>;
  readonly outputs: Map<string, Body>;
  readonly modules: Map<string, Body>;
}

function tfFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === '.terraform') continue;
    if (statSync(p).isDirectory()) out.push(...tfFilesUnder(p));
    else if (name.endsWith('.tf')) out.push(p);
  }
  return out;
}

/** hcl2json gives each block as `{ label: [body] }` (type → name → [body] for resources and data). */
function addBlocks(into: Map<string, Body>, group: Body | undefined, twoLabels: boolean): void {
  for (const [a, v] of Object.entries(group ?? {})) {
    if (!twoLabels) {
      for (const body of v as Body[]) into.set(a, body);
      continue;
    }
    for (const [b, bodies] of Object.entries(v as Body)) for (const body of bodies as Body[]) into.set(`${a}.${b}`, body);
  }
}

async function load(): Promise<{ files: TfFile[]; modules: Map<string, TfModule> }> {
  const files: TfFile[] = [];
  for (const p of tfFilesUnder(tfRoot)) {
    const text = readFileSync(p, 'utf8');
    const rel = relative(root, p);
    let json: Body;
    try {
      json = await parse(p, text);
    } catch (e) {
      throw new Error(`${rel} does not parse as HCL: ${e instanceof Error ? e.message : String(e)}`);
    }
    files.push({ rel, text, json });
  }
  const modules = new Map<string, TfModule>();
  for (const f of files) {
    const dir = dirname(join(root, f.rel));
    const rel = relative(root, dir);
    let m = modules.get(rel);
    if (!m) {
      m = { rel, dir, files: [], variables: new Map(), locals: new Map(), resources: new Map(), data: new Map(), outputs: new Map(), modules: new Map() };
      modules.set(rel, m);
    }
    m.files.push(f);
    addBlocks(m.variables, f.json.variable, false);
    addBlocks(m.outputs, f.json.output, false);
    addBlocks(m.modules, f.json.module, false);
    addBlocks(m.resources, f.json.resource, true);
    addBlocks(m.data, f.json.data, true);
    for (const block of (f.json.locals ?? []) as Body[]) for (const [k, v] of Object.entries(block)) m.locals.set(k, v);
  }
  return { files, modules };
}

const loaded = load();

async function mod(rel: string): Promise<TfModule> {
  const m = (await loaded).modules.get(rel);
  if (!m) throw new Error(`${rel}: no .tf files`);
  return m;
}

/** Every string value (not key) in a parsed body, with where it is. */
function* strings(v: unknown, path: string): Generator<[string, string]> {
  if (typeof v === 'string') yield [path, v];
  else if (Array.isArray(v)) for (const [i, x] of v.entries()) yield* strings(x, `${path}[${i}]`);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) yield* strings(x, path ? `${path}.${k}` : k);
}

/** The references in an HCL expression or template string, as `a.b.c` paths (for-expression variables excluded). */
async function references(file: string, s: string): Promise<string[]> {
  if (!s.includes('${') && !s.includes('%{')) return [];
  return (await getReferencesInExpression(file, s)).map((r) => r.value);
}

// ---- what the rest of the repository says ---------------------------------------------------------

const helpCache = new Map<string, Promise<string>>();
/** `spillway <command> --help`, run from the checkout's bin/spillway. */
function help(command: string): Promise<string> {
  let h = helpCache.get(command);
  if (!h) {
    h = exec(process.execPath, [join(root, 'bin', 'spillway'), command, '--help'], { cwd: root, timeout: 120_000 }).then((r) => r.stdout);
    helpCache.set(command, h);
  }
  return h;
}

/** The long options a `--help` lists (first option of each line). */
async function knownFlags(command: string): Promise<Set<string>> {
  const flags = new Set<string>();
  for (const line of (await help(command)).split('\n')) {
    const m = /^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/.exec(line);
    if (m) flags.add(m[1]);
  }
  if (!flags.has('--help')) throw new Error(`spillway ${command} --help listed no options`);
  return flags;
}

async function flagDefault(command: string, flag: string): Promise<string | undefined> {
  const line = (await help(command)).split('\n').find((l) => l.trimStart().startsWith(`${flag} `));
  return line ? /\(default: "([^"]*)"\)/.exec(line)?.[1] : undefined;
}

function sourcesOf(dir: string): string[] {
  return readdirSync(join(root, dir)).filter((f) => f.endsWith('.ts')).sort().map((f) => readFileSync(join(root, dir, f), 'utf8'));
}

/** EC2 API actions the aws-ec2 provider sends: `new XxxCommand(` and `paginateXxx(` → `ec2:Xxx`. */
function ec2ActionsOfProvider(): Set<string> {
  const out = new Set<string>();
  for (const src of sourcesOf('providers/aws-ec2')) {
    for (const m of src.matchAll(/\bnew\s+([A-Z]\w*)Command\s*\(/g)) out.add(`ec2:${m[1]}`);
    for (const m of src.matchAll(/\bpaginate([A-Z]\w*)\s*\(/g)) out.add(`ec2:${m[1]}`);
  }
  return out;
}

/**
 * The IAM permissions each Compute Engine call of the gcp-compute provider needs, from Google's
 * "required permissions" for the REST methods. insert: creating a VM with labels, `user-data`
 * metadata, a service account, a boot disk from an image, in a subnetwork (no external IP);
 * iam.serviceAccounts.actAs on that account is granted separately (roles/iam.serviceAccountUser on
 * the agents' account only). `close` is the SDK client's own shutdown, not an API call. A call
 * missing here fails the test: add its permissions (and to the module's custom role).
 */
const GCE_PERMISSIONS: Record<string, readonly string[]> = {
  'instances.insert': [
    'compute.instances.create', 'compute.instances.setMetadata', 'compute.instances.setLabels',
    'compute.instances.setServiceAccount', 'compute.disks.create', 'compute.images.useReadOnly', 'compute.subnetworks.use',
  ],
  'instances.get': ['compute.instances.get'],
  'instances.list': ['compute.instances.list'],
  'instances.delete': ['compute.instances.delete'],
  'operations.wait': ['compute.zoneOperations.get'],
  'instances.close': [],
  'operations.close': [],
};

/** Compute calls the gcp-compute provider makes: `api.instances.insert(`, `api.operations.wait(` … */
function gceCallsOfProvider(): Set<string> {
  const out = new Set<string>();
  for (const src of sourcesOf('providers/gcp-compute')) for (const m of src.matchAll(/\bapi\.(instances|operations)\.(\w+)\s*\(/g)) out.add(`${m[1]}.${m[2]}`);
  return out;
}

/** The `ExecStart=… spillway master …` command of a template, with its continuation and directive lines. */
function masterCommand(template: string): string {
  const lines = template.split('\n');
  const start = lines.findIndex((l) => l.startsWith('ExecStart=') && /\bspillway master\b/.test(l));
  if (start < 0) return '';
  const out: string[] = [];
  for (let i = start; i < lines.length; i++) {
    const line = lines[i];
    out.push(line);
    if (/^\s*%\{/.test(line) || line.trimEnd().endsWith('\\')) continue;
    break;
  }
  return out.join('\n');
}

const flagsIn = (s: string): string[] => [...s.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]);

/** The quoted names in the master_flags variable's validation list (flags without `--`). */
function allowedExtraFlags(m: TfModule): string[] {
  const conditions = ((m.variables.get('master_flags')?.validation ?? []) as Body[]).map((v) => String(v.condition));
  const list = conditions.find((c) => c.includes('contains(['));
  if (!list) return [];
  return [...list.slice(list.indexOf('contains([')).matchAll(/"([a-z][a-z0-9-]*)"/g)].map((x) => x[1]);
}

/** A stand-in value of the same shape as an HCL value (expressions become a string). */
function placeholder(key: string, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => placeholder(key, x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, placeholder(k, x)]));
  const known: Record<string, string> = { region: 'us-east-1', zone: 'us-central1-a', id: 'lt-0123456789abcdef0' };
  return known[key] ?? `placeholder-${key}`;
}

interface TemplateCall {
  /** The path as written after `${path.module}/` (master-host's own `master-host.sh.tftpl`). */
  readonly template: string;
  /** The template file, absolute, and relative to the repository (for messages). */
  readonly path: string;
  readonly file: string;
  readonly varsLocal: string;
  readonly where: string;
}

/** templatefile("${path.module}/X", local.Y) calls in a module: template path and the local with its variables. */
async function templateCalls(m: TfModule): Promise<TemplateCall[]> {
  const out: TemplateCall[] = [];
  for (const f of m.files) {
    for (const [where, s] of strings(f.json, '')) {
      for (const c of s.matchAll(/templatefile\("\$\{path\.module\}\/([^"]+)",\s*local\.(\w+)\)/g)) {
        const path = resolve(m.dir, c[1]);
        out.push({ template: c[1], path, file: relative(root, path), varsLocal: c[2], where: `${f.rel}: ${where}` });
      }
    }
  }
  return out;
}

/** Names a template file reads: interpolations and directive expressions, minus its own loop variables. */
async function templateNames(file: string, text: string): Promise<Set<string>> {
  const names = new Set<string>();
  const loopVars = new Set<string>();
  for (const m of text.matchAll(/%\{~?\s*for\s+(\w+)(?:\s*,\s*(\w+))?\s+in\s+/g)) {
    loopVars.add(m[1]);
    if (m[2]) loopVars.add(m[2]);
  }
  const exprs: string[] = [];
  for (const m of text.matchAll(/(?<!\$)\$\{([^}]*)\}/g)) exprs.push(m[1]);
  for (const m of text.matchAll(/(?<!%)%\{~?\s*(?:if|for\s+\w+(?:\s*,\s*\w+)?\s+in)\s+([^}]*?)\s*~?\}/g)) exprs.push(m[1]);
  for (const e of exprs) {
    for (const r of await references(file, `\${${e}}`)) {
      const name = r.split('.')[0];
      if (!loopVars.has(name)) names.add(name);
    }
  }
  return names;
}

/**
 * Renders the subset of Terraform's template syntax the master templates use — `${name}`,
 * `${chomp(name)}`, `%{ if name != "" }…%{ else }…%{ endif }` (or `== "aws"` and any other string
 * literal), `%{ for x in name }…%{ endfor }`,
 * `~` strip markers, `$${` / `%%{` escapes — as templatefile() does. Anything else throws, so a
 * template that outgrows it is noticed (extend this, or check the template by hand).
 */
function renderTemplate(text: string, vars: Record<string, unknown>): string {
  type Tok = { kind: 'text'; s: string } | { kind: 'interp'; expr: string } | { kind: 'dir'; body: string };
  const toks: Tok[] = [];
  const re = /(\$\$\{|%%\{)|\$\{(~?)(.*?)(~?)\}|%\{(~?)(.*?)(~?)\}/gs;
  let last = 0;
  let stripNext = false;
  const pushText = (s: string) => {
    if (stripNext) s = s.replace(/^\s+/, '');
    stripNext = false;
    toks.push({ kind: 'text', s });
  };
  for (let m = re.exec(text); m; m = re.exec(text)) {
    pushText(text.slice(last, m.index));
    last = re.lastIndex;
    if (m[1]) {
      toks.push({ kind: 'text', s: m[1].slice(1) });
      continue;
    }
    const [stripBefore, body, stripAfter] = m[3] !== undefined ? [m[2], m[3], m[4]] : [m[5], m[6], m[7]];
    if (stripBefore) {
      const prev = toks[toks.length - 1];
      if (prev?.kind === 'text') prev.s = prev.s.replace(/\s+$/, '');
    }
    toks.push(m[3] !== undefined ? { kind: 'interp', expr: body.trim() } : { kind: 'dir', body: body.trim() });
    stripNext = Boolean(stripAfter);
  }
  pushText(text.slice(last));

  const value = (name: string): unknown => {
    if (!(name in vars)) throw new Error(`template variable ${name} not given`);
    return vars[name];
  };
  const evalExpr = (e: string, scope: Record<string, unknown>): string => {
    const get = (n: string) => (n in scope ? scope[n] : value(n));
    let m = /^(\w+)$/.exec(e);
    if (m) return String(get(m[1]));
    m = /^chomp\((\w+)\)$/.exec(e);
    if (m) return String(get(m[1])).replace(/(\r?\n)+$/, '');
    throw new Error(`renderTemplate: unsupported expression \${${e}}`);
  };
  let i = 0;
  // `skip`: walk a branch not taken (or a loop over nothing) without evaluating it.
  const block = (scope: Record<string, unknown>, until: string[], skip: boolean): [string, string] => {
    let out = '';
    while (i < toks.length) {
      const t = toks[i++];
      if (t.kind === 'text') out += t.s;
      else if (t.kind === 'interp') out += skip ? '' : evalExpr(t.expr, scope);
      else if (until.includes(t.body)) return [out, t.body];
      else if (/^if\s/.test(t.body)) {
        const m = /^if\s+(\w+)\s*(==|!=)\s*"([^"\\$%]*)"$/.exec(t.body);
        if (!m) throw new Error(`renderTemplate: unsupported %{ ${t.body} }`);
        const cond = !skip && (String(m[1] in scope ? scope[m[1]] : value(m[1])) === m[3]) === (m[2] === '==');
        const [yes, end] = block(scope, ['else', 'endif'], skip || !cond);
        const [no] = end === 'else' ? block(scope, ['endif'], skip || cond) : [''];
        out += cond ? yes : no;
      } else if (/^for\s/.test(t.body)) {
        const m = /^for\s+(\w+)\s+in\s+(\w+)$/.exec(t.body);
        if (!m) throw new Error(`renderTemplate: unsupported %{ ${t.body} }`);
        const start = i;
        const items = skip ? [] : (value(m[2]) as unknown[]);
        block(scope, ['endfor'], true);
        const end = i;
        for (const item of items) {
          i = start;
          out += block({ ...scope, [m[1]]: item }, ['endfor'], false)[0];
        }
        i = end;
      } else throw new Error(`renderTemplate: unexpected %{ ${t.body} }`);
    }
    if (until.length) throw new Error(`renderTemplate: missing %{ ${until.join(' / ')} }`);
    return [skip ? '' : out, ''];
  };
  return block({}, [], false)[0];
}

/** Splits a systemd command line into words (double and single quotes; backslash escapes inside double quotes). */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] ?? m[3]);
  return words;
}

/** The `--flag <value>` options of a --help (those that take a value). */
async function flagsWithValues(command: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const line of (await help(command)).split('\n')) {
    const m = /^\s+(?:-\w, )?(--[a-z][a-z0-9-]*) [<[]/.exec(line);
    if (m) out.add(m[1]);
  }
  return out;
}

const FAKE_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
/**
 * Stand-in values for every variable the master template takes that a cloud module feeds from an
 * expression (through its call of master-host): one set with every option off, one with all on.
 * What a cloud module fixes itself (its literal `cloud`; the other cloud's identity setting, left
 * unset, so "") is rendered as the module makes it (templateVars).
 */
const TEMPLATE_VALUES: Record<'minimal' | 'full', Record<string, unknown>> = {
  minimal: {
    cluster_name: 'demo', master_port: 5050, leader_lease_seconds: 3, agent_auth: 'required', advertise_url: '', scheme: 'http',
    redis_url: 'redis://10.0.0.9:6379', node_version: '20.20.2', node_dist_url: 'https://nodejs.org/dist', spillway_package: 'spillway@0.1.0',
    spillway_package_sha256: '', tls_cert_pem: '', tls_key_pem: '', tls_ca_pem: '', aws_identity_certs_pem: '', gcp_identity_jwks: '', extra_args: [],
  },
  full: {
    cluster_name: 'prod-eu', master_port: 5443, leader_lease_seconds: 5, agent_auth: 'loopback', advertise_url: 'https://masters.example:5443', scheme: 'https',
    redis_url: 'rediss://:p4ss@redis.example:6379', node_version: '22.11.0', node_dist_url: 'https://mirror.example/node', spillway_package: 'https://dl.example/spillway-0.1.0.tgz',
    spillway_package_sha256: 'a'.repeat(64), tls_cert_pem: FAKE_PEM, tls_key_pem: '-----BEGIN PRIVATE KEY-----\nMIIfake\n-----END PRIVATE KEY-----\n', tls_ca_pem: FAKE_PEM,
    aws_identity_certs_pem: FAKE_PEM, gcp_identity_jwks: 'https://www.googleapis.com/oauth2/v3/certs',
    extra_args: ['--offer-timeout=30', '--no-accounting', '"--rate-limits={\\"aggregate_default_qps\\": 10}"'],
  },
};

/** The cloud modules, the ones callers use. */
const MODULES = ['terraform/modules/aws', 'terraform/modules/gcp'];
/** The internal module both cloud modules call for their masters' setup script (no outputs of theirs, no provider). */
const MASTER_HOST = 'terraform/modules/master-host';
/** The one master template, which MASTER_HOST renders for both cloud modules, each with its own `cloud`. */
const MASTER_TEMPLATE = 'terraform/modules/master-host/master-host.sh.tftpl';
const cloudOf = (rel: string): 'aws' | 'gcp' => (rel.endsWith('/aws') ? 'aws' : 'gcp');
/** What reading the VM's IP looks like on each cloud: EC2's IMDSv2 (session token), GCE's metadata server. */
const METADATA_MARKERS = {
  aws: ['http://169.254.169.254/latest', '-X PUT -H \'X-aws-ec2-metadata-token-ttl-seconds: 300\' "$imds/api/token"', '"$imds/meta-data/local-ipv4"'],
  gcp: ['-H \'Metadata-Flavor: Google\' http://metadata.google.internal/computeMetadata/v1/instance/network-interfaces/0/ip'],
} as const;
const IDENTITY_FLAGS = { aws: '--aws-identity-certs', gcp: '--gcp-identity-jwks' } as const;
/** MASTER_HOST's input for each cloud's identity check; the other cloud's module leaves it unset. */
const IDENTITY_VARS = { aws: 'aws_identity_certs_pem', gcp: 'gcp_identity_jwks' } as const;

/** A `module "…"` block of a module that calls MASTER_HOST: its name, its arguments, and MASTER_HOST. */
interface MasterHostCall {
  readonly name: string;
  readonly args: Body;
  readonly host: TfModule;
}

async function masterHostCalls(m: TfModule): Promise<MasterHostCall[]> {
  const out: MasterHostCall[] = [];
  for (const [name, args] of m.modules) {
    if (relative(root, resolve(m.dir, String(args.source))) === MASTER_HOST) out.push({ name, args, host: await mod(MASTER_HOST) });
  }
  return out;
}

/** A cloud module's one call of MASTER_HOST. */
async function masterHostOf(rel: string): Promise<MasterHostCall> {
  const calls = await masterHostCalls(await mod(rel));
  if (calls.length !== 1) throw new Error(`${rel}: ${calls.length} calls of ${MASTER_HOST}, not one`);
  return calls[0];
}

/** The variables an expression of module m reads, directly or through its locals. */
async function inputsOf(m: TfModule, expr: unknown, seen = new Set<string>()): Promise<Set<string>> {
  const out = new Set<string>();
  for (const [, s] of strings(expr, '')) {
    for (const ref of await references(m.rel, s)) {
      const [head, name] = ref.split('.');
      if (head === 'var') out.add(name);
      else if (head === 'local' && !seen.has(name)) {
        seen.add(name);
        for (const v of await inputsOf(m, m.locals.get(name), seen)) out.add(v);
      }
    }
  }
  return out;
}

/**
 * The variables MASTER_HOST's templatefile() passes when a cloud module calls it, as the test
 * renders them. A literal in the local (no `${…}`) as written. An entry that reads only inputs the
 * cloud module fixes (a literal argument such as its `cloud`, or an input it leaves unset, so the
 * default: the other cloud's identity setting) is evaluated from them: `var.X` gives the value,
 * `var.X == null ? "" : var.X` the value or "". An entry fed by any expression of the cloud module
 * comes from TEMPLATE_VALUES[variant]. Any other shape throws, so one this does not follow is noticed.
 */
async function templateVars(call: MasterHostCall, c: TemplateCall, variant: keyof typeof TEMPLATE_VALUES): Promise<Record<string, unknown>> {
  const { host, args } = call;
  const local = host.locals.get(c.varsLocal) as Body;
  const values = TEMPLATE_VALUES[variant];
  const fixedByCaller = (x: string) => !(x in args) || !(typeof args[x] === 'string' && args[x].includes('${'));
  const given = (x: string): unknown => {
    if (x in args) return args[x];
    const v = host.variables.get(x);
    if (!v || !('default' in v)) throw new Error(`module "${call.name}" leaves ${MASTER_HOST}'s required variable ${x} unset`);
    return v.default;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(local)) {
    if (typeof v === 'string' && !v.includes('${')) {
      out[k] = v;
      continue;
    }
    const inputs = [...(await inputsOf(host, v))];
    const fixed = inputs.filter(fixedByCaller);
    if (fixed.length === 0) {
      if (!(k in values)) throw new Error(`TEMPLATE_VALUES.${variant} has no value for ${k} (local.${c.varsLocal})`);
      out[k] = values[k];
      continue;
    }
    const plain = /^\$\{var\.(\w+)\}$/.exec(String(v));
    const orEmpty = /^\$\{var\.(\w+) == null \? "" : var\.(\w+)\}$/.exec(String(v));
    let value: unknown;
    if (inputs.length === 1 && plain) value = given(plain[1]);
    else if (inputs.length === 1 && orEmpty && orEmpty[1] === orEmpty[2]) value = given(orEmpty[1]) ?? '';
    else throw new Error(`templateVars: local.${c.varsLocal}.${k} = ${String(v)} reads ${fixed.join(', ')}, fixed by module "${call.name}", in a way this test does not evaluate`);
    if (value === null || typeof value === 'object') throw new Error(`local.${c.varsLocal}.${k}: module "${call.name}" makes it ${JSON.stringify(value)}, which templatefile() cannot interpolate`);
    out[k] = value;
  }
  return out;
}

const EXAMPLES = ['terraform/examples/aws-hybrid', 'terraform/examples/gcp-spot'];

// ---- the files -------------------------------------------------------------------------------------

test('the HCL parser rejects what Terraform would (so the checks below mean something)', async (t) => {
  await t.throwsAsync(parse('broken.tf', 'resource "aws_instance" "x" {\n  ami = "a"\n'));
  await t.throwsAsync(parse('broken.tf', 'variable "x" {\n  type = list(string\n}\n'));
});

test('every .tf file under terraform/ parses, and both modules, master-host and the examples exist', async (t) => {
  const { files, modules } = await loaded;
  t.true(files.length >= 10, `only ${files.length} .tf files`);
  for (const rel of [...MODULES, MASTER_HOST, ...EXAMPLES]) t.true(modules.has(rel), `${rel} has no .tf files`);
});

test('every variable has a type and a description', async (t) => {
  const problems: string[] = [];
  for (const m of (await loaded).modules.values()) {
    for (const [name, v] of m.variables) {
      if (typeof v.type !== 'string' || v.type.trim() === '') problems.push(`${m.rel}: variable "${name}" has no type`);
      if (typeof v.description !== 'string' || v.description.trim().length < 10) problems.push(`${m.rel}: variable "${name}" has no description`);
    }
  }
  t.deepEqual(problems, []);
});

test('every output has a description; both cloud modules output the master URLs, Redis and a pool snippet', async (t) => {
  const problems: string[] = [];
  for (const m of (await loaded).modules.values()) {
    for (const [name, o] of m.outputs) if (typeof o.description !== 'string' || o.description.trim() === '') problems.push(`${m.rel}: output "${name}" has no description`);
  }
  t.deepEqual(problems, []);
  // The cloud modules, not master-host: it is internal, its one output is the script (checked below).
  for (const rel of MODULES) {
    const outputs = (await mod(rel)).outputs;
    for (const name of ['master_urls', 'master_url', 'policy_pool_snippet', 'redis_url']) t.true(outputs.has(name), `${rel} has no output "${name}"`);
  }
});

test('every var., local., resource, data and module reference resolves in its module', async (t) => {
  const problems: string[] = [];
  const resolvedModuleRefs = new Set<string>();
  for (const m of (await loaded).modules.values()) {
    for (const f of m.files) {
      for (const [where, s] of strings(f.json, '')) {
        for (const ref of await references(f.rel, s)) {
          const parts = ref.split('.');
          const at = `${f.rel}: ${where}: ${ref}`;
          const [head, a, b] = parts;
          if (head === 'var') {
            if (!m.variables.has(a)) problems.push(`${at}: no variable "${a}" in ${m.rel}`);
          } else if (head === 'local') {
            if (!m.locals.has(a)) problems.push(`${at}: no local "${a}" in ${m.rel}`);
          } else if (head === 'data') {
            if (!m.data.has(`${a}.${b}`)) problems.push(`${at}: no data "${a}" "${b}" in ${m.rel}`);
          } else if (head === 'module') {
            const call = m.modules.get(a);
            if (!call) {
              problems.push(`${at}: no module "${a}" in ${m.rel}`);
              continue;
            }
            const target = relative(root, resolve(m.dir, String(call.source)));
            const called = (await loaded).modules.get(target);
            if (!called) problems.push(`${at}: module "${a}" source ${call.source} has no .tf files`);
            else if (b !== undefined && !called.outputs.has(b)) problems.push(`${at}: ${target} has no output "${b}"`);
            else resolvedModuleRefs.add(`${m.rel}: ${parts.slice(0, 3).join('.')}`);
          } else if (/^(aws|google|terraform)_[a-z0-9_]+$/.test(head)) {
            if (!m.resources.has(`${head}.${a}`)) problems.push(`${at}: no resource "${head}" "${a}" in ${m.rel}`);
          }
        }
      }
    }
  }
  t.deepEqual(problems, []);
  // The module references were really followed (not skipped): the cloud modules' use of the script.
  for (const rel of MODULES) t.true(resolvedModuleRefs.has(`${rel}: module.master_host.script`), `${rel}: module.master_host.script not seen and resolved`);
});

test('module calls (examples → cloud modules → master-host) set declared variables only, and give every required one', async (t) => {
  const problems: string[] = [];
  const calling: string[] = [];
  for (const ex of (await loaded).modules.values()) {
    const rel = ex.rel;
    if (ex.modules.size > 0) calling.push(rel);
    for (const [name, call] of ex.modules) {
      const target = relative(root, resolve(ex.dir, String(call.source)));
      const called = await mod(target);
      const given = new Set(Object.keys(call).filter((k) => !['source', 'version', 'providers', 'count', 'for_each', 'depends_on'].includes(k)));
      for (const k of given) if (!called.variables.has(k)) problems.push(`${rel}: module "${name}" sets ${k}, which ${target} does not declare`);
      for (const [k, v] of called.variables) if (!('default' in v) && !given.has(k)) problems.push(`${rel}: module "${name}" leaves required variable ${k} unset`);
    }
  }
  t.deepEqual(problems, []);
  t.deepEqual(calling.sort(), [...EXAMPLES, ...MODULES].sort(), 'modules with module calls');
});

test('modules require Terraform >= 1.5 and a 5.x provider (master-host none); examples pin ~> 5.0', async (t) => {
  const expect: Record<string, string | null> = {
    'terraform/modules/aws': 'aws', 'terraform/modules/gcp': 'google', [MASTER_HOST]: null,
    'terraform/examples/aws-hybrid': 'aws', 'terraform/examples/gcp-spot': 'google',
  };
  t.deepEqual(Object.keys(expect).sort(), [...(await loaded).modules.keys()].sort(), 'every module is checked here');
  for (const [rel, provider] of Object.entries(expect)) {
    const m = await mod(rel);
    const blocks = m.files.flatMap((f) => (f.json.terraform ?? []) as Body[]);
    t.is(blocks.length, 1, `${rel}: one terraform block`);
    t.is(blocks[0].required_version, '>= 1.5', rel);
    if (provider === null) {
      t.is(blocks[0].required_providers, undefined, `${rel}: an internal module that only renders needs no provider`);
      t.deepEqual([...m.resources.keys(), ...m.data.keys()], [], `${rel}: creates and reads nothing`);
      t.deepEqual(m.files.filter((f) => f.json.provider !== undefined).map((f) => f.rel), [], `${rel}: configures no provider`);
      continue;
    }
    const req = ((blocks[0].required_providers ?? []) as Body[])[0]?.[provider] as Body | undefined;
    t.is(req?.source, `hashicorp/${provider}`, rel);
    if (rel.includes('/examples/')) t.is(req?.version, '~> 5.0', rel);
    else t.regex(String(req?.version), /^>= 5\.\d+, < 6\.0$/, `${rel}: a 5.x range the examples' ~> 5.0 can meet`);
  }
});

// ---- templates ---------------------------------------------------------------------------------------

test('each templatefile() gets exactly the variables its template uses', async (t) => {
  const rendering: string[] = [];
  for (const m of (await loaded).modules.values()) {
    const rel = m.rel;
    const calls = await templateCalls(m);
    if (calls.length > 0) rendering.push(rel);
    // Every templatefile() is one of the form followed here, so none escapes these checks.
    const written = [...strings(m.files.map((f) => f.json), '')].reduce((n, [, s]) => n + [...s.matchAll(/\btemplatefile\(/g)].length, 0);
    t.is(written, calls.length, `${rel}: a templatefile() call not of the form templatefile("\${path.module}/…", local.X)`);
    for (const c of calls) {
      t.true(existsSync(c.path), `${c.where}: ${c.file} does not exist`);
      const vars = m.locals.get(c.varsLocal);
      t.true(vars !== null && typeof vars === 'object' && !Array.isArray(vars), `${c.where}: local.${c.varsLocal} is not an object literal`);
      const given = new Set(Object.keys(vars as object));
      const used = await templateNames(c.path, readFileSync(c.path, 'utf8'));
      t.deepEqual([...used].filter((n) => !given.has(n)).sort(), [], `${c.file} uses variables ${rel}'s local.${c.varsLocal} does not pass`);
      t.deepEqual([...given].filter((n) => !used.has(n)).sort(), [], `${rel}'s local.${c.varsLocal} passes variables ${c.file} never uses`);
    }
  }
  // master-host renders the master template; the cloud modules take its output instead (below).
  t.deepEqual(rendering, [MASTER_HOST], 'modules that render a template');
});

test('both cloud modules get their masters\' script from master-host, the one shared template, each for its own cloud', async (t) => {
  const text = readFileSync(join(root, MASTER_TEMPLATE), 'utf8');
  const handled = new Set([...text.matchAll(/%\{~?\s*if\s+cloud\s*==\s*"(\w+)"/g)].map((x) => x[1]));
  t.deepEqual([...handled].sort(), ['aws', 'gcp'], `${MASTER_TEMPLATE}: not a %{ if cloud == "…" } branch for each cloud`);

  // master-host renders it (only), with the caller's cloud, one of those it has a branch for.
  const host = await mod(MASTER_HOST);
  const calls = await templateCalls(host);
  t.deepEqual(calls.map((c) => c.template), ['master-host.sh.tftpl'], `${MASTER_HOST}: renders ${MASTER_TEMPLATE} (only), as \${path.module}/master-host.sh.tftpl`);
  t.deepEqual(calls.map((c) => c.file), [MASTER_TEMPLATE], MASTER_HOST);
  for (const c of calls) t.is((host.locals.get(c.varsLocal) as Body | undefined)?.cloud, '${var.cloud}', `${MASTER_HOST}: local.${c.varsLocal}.cloud is not the caller's cloud`);
  const cloudChecks = ((host.variables.get('cloud')?.validation ?? []) as Body[]).map((v) => String(v.condition));
  t.true(cloudChecks.some((c) => /^\$\{contains\(\["aws", "gcp"\], var\.cloud\)\}$/.test(c)), `${MASTER_HOST}: var.cloud must be validated as aws or gcp`);
  // Its one output is the rendered script, sensitive (the Redis URL, the TLS key).
  t.deepEqual([...host.outputs.keys()], ['script'], `${MASTER_HOST}: outputs`);
  const script = host.outputs.get('script');
  t.is(script?.value, `\${templatefile("\${path.module}/master-host.sh.tftpl", local.${calls[0]?.varsLocal})}`, `${MASTER_HOST}: output "script" is not the rendered template as it is`);
  t.is(script?.sensitive, true, `${MASTER_HOST}: output "script" holds secrets and must be sensitive`);

  for (const rel of MODULES) {
    const m = await mod(rel);
    const cloud = cloudOf(rel);
    const other = cloud === 'aws' ? 'gcp' : 'aws';
    const hosts = await masterHostCalls(m);
    t.deepEqual(hosts.map((h) => h.name), ['master_host'], `${rel}: calls ${MASTER_HOST} once, as module "master_host"`);
    const args = hosts[0]?.args ?? {};
    t.is(args.source, '../master-host', rel);
    t.is(args.cloud, cloud, `${rel}: module.master_host.cloud`);
    // Every input given, so none falls back to a default unnoticed; only the other cloud's
    // identity setting is left unset (its default, null: off).
    const given = new Set(Object.keys(args).filter((k) => k !== 'source'));
    t.deepEqual([...host.variables.keys()].filter((k) => k !== IDENTITY_VARS[other] && !given.has(k)).sort(), [], `${rel}: ${MASTER_HOST} inputs left to their defaults`);
    t.false(given.has(IDENTITY_VARS[other]), `${rel}: sets ${IDENTITY_VARS[other]}, ${other}'s identity setting`);
    t.is(host.variables.get(IDENTITY_VARS[other])?.default, null, `${MASTER_HOST}: ${IDENTITY_VARS[other]} must default to null (off)`);
  }
  // … and hand the script to their masters: gzipped EC2 user-data, the GCE startup-script metadata.
  const aws = (await mod('terraform/modules/aws')).resources.get('aws_instance.master');
  t.is(aws?.user_data_base64, '${base64gzip(module.master_host.script)}', 'terraform/modules/aws: user_data_base64');
  const gcp = (await mod('terraform/modules/gcp')).resources.get('google_compute_instance.master');
  t.is((gcp?.metadata as Body | undefined)?.['startup-script'], '${module.master_host.script}', 'terraform/modules/gcp: metadata startup-script');

  // One template and nowhere else: a copy would miss the next fix to it.
  const tftpl = (readdirSync(tfRoot, { recursive: true }) as string[]).filter((f) => f.endsWith('.tftpl')).map((f) => relative(root, join(tfRoot, f)));
  t.deepEqual(tftpl, [MASTER_TEMPLATE], 'templates under terraform/');
  t.false(existsSync(join(tfRoot, 'templates')), 'terraform/templates/ is gone');
});

test('the masters run `spillway master` only with flags it knows, listening where agents reach it', async (t) => {
  const known = await knownFlags('master');
  const masterCli = readFileSync(join(root, 'src/cli/commands/master.ts'), 'utf8');
  const bin = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin ?? {});
  for (const rel of MODULES) {
    const { host } = await masterHostOf(rel);
    for (const c of await templateCalls(host)) {
      const text = readFileSync(c.path, 'utf8');
      const cmd = masterCommand(text);
      t.not(cmd, '', `${c.file} (${rel}): no ExecStart=… spillway master`);
      const flags = flagsIn(cmd);
      t.deepEqual(flags.filter((f) => !known.has(f)), [], `${c.file} (${rel}): flags \`spillway master --help\` does not list`);
      for (const f of ['--host', '--port', '--cluster', '--advertise-ip', '--advertise-url', '--agent-auth']) t.true(flags.includes(f), `${c.file} (${rel}): no ${f}`);
      t.regex(cmd, /--host 0\.0\.0\.0\b/, `${c.file} (${rel}): the master must listen beyond loopback`);
      // --redis comes from the environment file; that only works while the CLI defaults it to $REDIS_URL.
      if (!flags.includes('--redis')) {
        t.regex(masterCli, /requiredOption\('--redis <url>'.*, process\.env\.REDIS_URL\)/, 'spillway master no longer takes --redis from $REDIS_URL');
        t.regex(text, /^EnvironmentFile=\/etc\/spillway\/master\.env$/m, `${c.file} (${rel}): no EnvironmentFile`);
        t.regex(text, /^REDIS_URL='\$\{redis_url\}'$/m, `${c.file} (${rel}): REDIS_URL not written to the environment file`);
      }
      const exe = /ExecStart=(\S+) master/.exec(cmd)?.[1] ?? '';
      t.true(bin.some((b) => exe.endsWith(`/bin/${b}`)), `${c.file} (${rel}): runs ${exe}, not the package's bin (${bin.join(', ')})`);
    }
  }
});

test('the rendered master scripts are valid sh and run one well-formed `spillway master` under systemd', async (t) => {
  const known = await knownFlags('master');
  const takesValue = await flagsWithValues('master');
  for (const rel of MODULES) {
    const call = await masterHostOf(rel);
    const cloud = cloudOf(rel);
    const other = cloud === 'aws' ? 'gcp' : 'aws';
    for (const c of await templateCalls(call.host)) {
      for (const variant of ['minimal', 'full'] as const) {
        const vars = await templateVars(call, c, variant);
        const what = `${c.file} for ${rel} (${variant})`;
        t.is(vars.cloud, cloud, `${what}: cloud`);
        const script = renderTemplate(readFileSync(c.path, 'utf8'), vars);
        t.true(script.startsWith('#!/bin/sh\n'), `${what}: no #!/bin/sh first line`);
        const sh = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
        t.is(sh.status, 0, `${what}: sh -n: ${sh.stderr}`);
        for (const h of script.matchAll(/<<'(\w+)'\n/g)) t.regex(script.slice(h.index), new RegExp(`\\n${h[1]}\\n`), `${what}: heredoc ${h[1]} is not closed`);

        // The VM's own IP (--advertise-ip) is read once, from its own cloud's metadata service.
        t.is([...script.matchAll(/^ip=\$\(curl /gm)].length, 1, `${what}: the VM's IP is not read exactly once`);
        for (const marker of METADATA_MARKERS[cloud]) t.true(script.includes(marker), `${what}: no ${marker} (reading the IP on ${cloud})`);
        for (const marker of METADATA_MARKERS[other]) t.false(script.includes(marker), `${what}: ${marker} (${other}'s metadata service) on ${cloud}`);

        const unit = /<<'SPILLWAY_UNIT'\n([\s\S]*?)\nSPILLWAY_UNIT\n/.exec(script)?.[1] ?? '';
        for (const section of ['[Unit]', '[Service]', '[Install]']) t.true(unit.includes(section), `${what}: unit has no ${section}`);
        // systemd joins a line ending in a backslash with the next one.
        const logical = unit.replace(/\\\n/g, ' ').split('\n');
        const exec = logical.filter((l) => l.startsWith('ExecStart='));
        t.is(exec.length, 1, `${what}: one ExecStart`);
        t.false(logical.some((l) => /\\$/.test(l)), `${what}: a continued line runs into an empty one`);
        const stray = logical.filter((l) => !/^(\s*|#.*|\[[A-Za-z]+\]|[A-Za-z]+=.*)$/.test(l));
        t.deepEqual(stray, [], `${what}: unit lines systemd would not understand`);
        const words = systemdWords(exec[0].slice('ExecStart='.length));
        t.deepEqual(words.slice(0, 2), ['/opt/spillway/app/bin/spillway', 'master'], what);
        const args = words.slice(2);
        for (let k = 0; k < args.length; k++) {
          const flag = args[k].split('=')[0];
          if (!flag.startsWith('--')) {
            t.fail(`${what}: stray word '${args[k]}' in ExecStart`);
            continue;
          }
          t.true(known.has(flag), `${what}: ${flag} is not a spillway master flag`);
          if (takesValue.has(flag) && !args[k].includes('=')) {
            t.true(k + 1 < args.length && !args[k + 1].startsWith('--'), `${what}: ${flag} has no value`);
            k++;
          }
        }
        // Instance identity: the module's own cloud's check when on, never the other cloud's.
        const valueOf = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
        t.false(args.includes(IDENTITY_FLAGS[other]), `${what}: ${IDENTITY_FLAGS[other]} on ${cloud}`);
        t.is(script.includes('cat > "$ETC/aws-identity-certs.pem"'), args.includes('--aws-identity-certs'), `${what}: the AWS identity certificates file and flag go together`);
        if (variant === 'full') {
          for (const f of ['--tls-cert', '--tls-key', '--tls-ca', '--offer-timeout=30', '--no-accounting', '--rate-limits={"aggregate_default_qps": 10}']) t.true(args.includes(f) || args.includes(f.split(' ')[0]), `${what}: ${f} missing`);
          t.true(args.includes(IDENTITY_FLAGS[cloud]), `${what}: identity flag missing`);
          if (cloud === 'aws') t.is(valueOf('--aws-identity-certs'), '/etc/spillway/aws-identity-certs.pem', `${what}: --aws-identity-certs`);
          else t.is(valueOf('--gcp-identity-jwks'), String(TEMPLATE_VALUES.full.gcp_identity_jwks), `${what}: --gcp-identity-jwks`);
        } else {
          t.false(args.some((a) => a.startsWith('--tls-')), `${what}: TLS flags without TLS`);
          t.false(args.includes(IDENTITY_FLAGS[cloud]), `${what}: identity flag without the setting`);
        }
      }
    }
  }
});

test('master_flags accepts only real `spillway master` flags, none the module sets itself', async (t) => {
  const known = await knownFlags('master');
  for (const rel of MODULES) {
    const m = await mod(rel);
    const allowed = allowedExtraFlags(m);
    t.true(allowed.length > 10, `${rel}: no allowed-flags list in var.master_flags' validation`);
    t.deepEqual(allowed.filter((f) => !known.has(`--${f}`)), [], `${rel}: master_flags allows flags \`spillway master --help\` does not list`);
    // What is validated here is what master-host turns into ExecStart words.
    const { host, args } = await masterHostOf(rel);
    t.is(args.master_flags, '${var.master_flags}', `${rel}: module.master_host.master_flags is not the validated var.master_flags`);
    const managed = new Set<string>();
    const calls = await templateCalls(host);
    t.true(calls.length > 0, `${MASTER_HOST} renders no template`);
    for (const c of calls) for (const f of flagsIn(masterCommand(readFileSync(c.path, 'utf8')))) managed.add(f.slice(2));
    t.true(managed.has('cluster') && managed.has('advertise-url'), `${rel}: the flags the template sets were not found`);
    t.deepEqual(allowed.filter((f) => managed.has(f) || f === 'redis'), [], `${rel}: master_flags allows flags the template already sets`);
  }
});

test('the ports the modules open are the ones Spillway uses by default', async (t) => {
  const agentSrc = readFileSync(join(root, 'agents/agent.ts'), 'utf8');
  const ports = /defaultPorts \?\? '\[(\d+)-(\d+)\]'/.exec(agentSrc);
  t.truthy(ports, 'agents/agent.ts: default port range not found');
  const masterPort = Number(await flagDefault('master', '--port'));
  const agentPort = Number(await flagDefault('agent', '--port'));
  for (const rel of MODULES) {
    const v = (await mod(rel)).variables;
    t.is(v.get('master_port')?.default, masterPort, `${rel}: master_port default`);
    t.is(v.get('agent_port')?.default, agentPort, `${rel}: agent_port default`);
    t.deepEqual(v.get('task_ports')?.default, { from: Number(ports![1]), to: Number(ports![2]) }, `${rel}: task_ports default`);
    t.deepEqual(v.get('operator_cidrs')?.default, [], `${rel}: operator_cidrs must default to none`);
    t.is(v.get('master_count')?.default, 2, `${rel}: HA needs two masters by default`);
  }
});

test('nothing is opened to the whole internet inbound', async (t) => {
  const problems: string[] = [];
  for (const rel of MODULES) {
    const m = await mod(rel);
    for (const [key, r] of m.resources) {
      const inbound = key.startsWith('aws_vpc_security_group_ingress_rule.') || (key.startsWith('google_compute_firewall.') && r.direction !== 'EGRESS');
      if (!inbound) continue;
      for (const [where, s] of strings(r, '')) if (/(^|[^\d.])0\.0\.0\.0\/0|::\/0/.test(s) && !where.startsWith('description')) problems.push(`${rel}: ${key}.${where} = ${s}`);
    }
  }
  t.deepEqual(problems, []);
});

test('the example on-prem agent command uses only flags `spillway agent` knows', async (t) => {
  const known = await knownFlags('agent');
  const out = (await mod('terraform/examples/aws-hybrid')).outputs.get('onprem_agent_command');
  const cmd = String(out?.value ?? '');
  t.regex(cmd, /^spillway agent /);
  t.deepEqual(flagsIn(cmd).filter((f) => !known.has(f)), []);
});

// ---- AWS: the masters' IAM policy ------------------------------------------------------------------

interface Statement { sid?: string; actions?: string[]; resources: string[]; condition?: { test: string; variable: string; values: string[] }[] }

async function masterStatements(): Promise<Statement[]> {
  const doc = (await mod('terraform/modules/aws')).data.get('aws_iam_policy_document.master');
  if (!doc) throw new Error('terraform/modules/aws: no data "aws_iam_policy_document" "master"');
  // `resources` is a list literal, or one expression (concat(…)) that hcl2json leaves as a string.
  return ((doc.statement ?? []) as Body[]).map((s) => ({ ...s, resources: s.resources === undefined ? [] : Array.isArray(s.resources) ? s.resources : [String(s.resources)] }) as Statement);
}

test('AWS: the masters may call exactly the EC2 actions the aws-ec2 provider sends, plus CreateTags', async (t) => {
  const sent = ec2ActionsOfProvider();
  // If this regex finds nothing the provider changed shape; the check below would pass vacuously.
  for (const a of ['ec2:RunInstances', 'ec2:TerminateInstances', 'ec2:DescribeInstances']) t.true(sent.has(a), `providers/aws-ec2 no longer seems to send ${a}`);
  const statements = await masterStatements();
  const actions = new Set(statements.flatMap((s) => s.actions ?? []));
  const ec2 = [...actions].filter((a) => a.startsWith('ec2:'));
  t.deepEqual([...sent].filter((a) => !actions.has(a)).sort(), [], 'EC2 actions the provider sends but the policy does not allow');
  t.deepEqual(ec2.filter((a) => !sent.has(a) && a !== 'ec2:CreateTags').sort(), [], 'EC2 actions allowed that the provider never sends');
  t.deepEqual([...actions].filter((a) => a.includes('*')), [], 'wildcard actions');
  t.deepEqual([...actions].filter((a) => !a.startsWith('ec2:') && a !== 'iam:PassRole'), [], 'actions beyond EC2 and iam:PassRole');

  const policy = (await mod('terraform/modules/aws')).resources.get('aws_iam_role_policy.master');
  t.is(policy?.policy, '${data.aws_iam_policy_document.master.json}', 'the policy document is the one attached to the masters\' role');
  t.is(policy?.role, '${aws_iam_role.master.id}');
});

test('AWS: CreateTags only while launching, PassRole only for the agents\' role', async (t) => {
  const statements = await masterStatements();
  const tagging = statements.filter((s) => s.actions?.includes('ec2:CreateTags'));
  t.true(tagging.length > 0);
  for (const s of tagging) {
    t.deepEqual(s.actions, ['ec2:CreateTags'], 'CreateTags in a statement of its own');
    t.true((s.condition ?? []).some((c) => c.test === 'StringEquals' && c.variable === 'ec2:CreateAction' && c.values.length === 1 && c.values[0] === 'RunInstances'), `${s.sid}: no ec2:CreateAction = RunInstances condition`);
  }
  const passing = statements.filter((s) => s.actions?.includes('iam:PassRole'));
  t.true(passing.length > 0);
  for (const s of passing) {
    t.deepEqual(s.actions, ['iam:PassRole']);
    t.deepEqual(s.resources, ['${aws_iam_role.agent.arn}'], 'iam:PassRole on the agents\' role only');
    t.true((s.condition ?? []).some((c) => c.variable === 'iam:PassedToService' && c.values.includes('ec2.amazonaws.com')));
  }
});

test('AWS: launches and terminations are bound to the tags the provider puts on its instances', async (t) => {
  const statements = await masterStatements();
  const cond = (s: Statement, variable: string) => (s.condition ?? []).find((c) => c.test === 'StringEquals' && c.variable === variable)?.values;
  const terminate = statements.filter((s) => s.actions?.includes('ec2:TerminateInstances'));
  t.true(terminate.length > 0);
  for (const s of terminate) {
    t.deepEqual(cond(s, `aws:ResourceTag/${TAGS.cluster}`), ['${var.cluster_name}'], `${s.sid}: terminate only this cluster's instances`);
    t.deepEqual(cond(s, `aws:ResourceTag/${TAGS.managedBy}`), [MANAGED_BY], `${s.sid}: terminate only what Spillway launched`);
  }
  const tagged = statements.filter((s) => s.actions?.includes('ec2:RunInstances') && s.resources.some((r) => r.endsWith(':instance/*')));
  t.true(tagged.length > 0, 'no RunInstances statement for instance/*');
  for (const s of tagged) {
    t.deepEqual(cond(s, `aws:RequestTag/${TAGS.cluster}`), ['${var.cluster_name}'], `${s.sid}: launch only with this cluster's tag`);
    t.deepEqual(cond(s, `aws:RequestTag/${TAGS.managedBy}`), [MANAGED_BY], `${s.sid}`);
  }
  // The only statement with a bare "*" resource is the one for calls EC2 cannot scope.
  const star = statements.filter((s) => s.resources.includes('*'));
  t.deepEqual(star.flatMap((s) => s.actions ?? []).sort(), ['ec2:DescribeInstances', 'ec2:DescribeSpotPriceHistory']);
});

test('AWS: the pool section the module outputs is a valid aws-ec2 pool', async (t) => {
  const m = await mod('terraform/modules/aws');
  const aws = m.locals.get('pool_aws');
  t.true(aws !== null && typeof aws === 'object', 'local.pool_aws is not an object literal');
  const pool = PoolSchema.safeParse({
    name: 'aws-spot', provider: 'aws-ec2', ownership: 'rented', capacityType: 'spot', max: 2,
    instanceTypes: [{ name: 'm6i.xlarge', cpus: 4, mem: 15360, price: 0.192 }], aws: placeholder('aws', aws),
  });
  t.true(pool.success, pool.success ? '' : pool.error.message);
  if (pool.success) t.notThrows(() => checkPool(pool.data));
  t.deepEqual(Object.keys(aws as object).sort(), ['instanceProfile', 'launchTemplate', 'region', 'securityGroupIds', 'subnetId']);
  t.is((aws as Body).launchTemplate.id, '${aws_launch_template.agent.id}');
});

test('AWS: the agents\' launch template requires IMDSv2 and terminates on shutdown', async (t) => {
  const lt = (await mod('terraform/modules/aws')).resources.get('aws_launch_template.agent');
  t.truthy(lt);
  t.is(lt!.metadata_options?.[0]?.http_tokens, 'required', 'agents fetch identity documents and spot notices with IMDSv2');
  t.is(lt!.instance_initiated_shutdown_behavior, 'terminate');
  t.is(lt!.user_data, undefined, 'the master writes each agent\'s user-data (with its join token); the template must not');
});

// ---- GCP: the masters' custom role -----------------------------------------------------------------

test('GCP: the masters\' role holds exactly the permissions of the Compute calls the provider makes', async (t) => {
  const calls = gceCallsOfProvider();
  for (const c of ['instances.insert', 'instances.delete', 'instances.list', 'operations.wait']) t.true(calls.has(c), `providers/gcp-compute no longer seems to call ${c}`);
  const unmapped = [...calls].filter((c) => !(c in GCE_PERMISSIONS));
  t.deepEqual(unmapped, [], 'Compute calls with no permission mapping in this test (add them to GCE_PERMISSIONS and the role)');
  const needed = new Set([...calls].flatMap((c) => GCE_PERMISSIONS[c] ?? []));
  const m = await mod('terraform/modules/gcp');
  const role = m.resources.get('google_project_iam_custom_role.master');
  const granted = new Set((role?.permissions ?? []) as string[]);
  t.deepEqual([...needed].filter((p) => !granted.has(p)).sort(), [], 'permissions the provider needs that the role lacks');
  t.deepEqual([...granted].filter((p) => !needed.has(p)).sort(), [], 'permissions the role grants that no provider call needs');
  t.deepEqual([...granted].filter((p) => p.includes('*')), []);
  t.is(m.resources.get('google_project_iam_member.master_compute')?.role, '${google_project_iam_custom_role.master.name}');
});

test('GCP: the masters may act as the agents\' service account only', async (t) => {
  const m = await mod('terraform/modules/gcp');
  const actAs = [...m.resources].filter(([, r]) => r.role === 'roles/iam.serviceAccountUser');
  t.is(actAs.length, 1, 'one serviceAccountUser grant');
  const [key, r] = actAs[0];
  t.true(key.startsWith('google_service_account_iam_member.'), `${key}: serviceAccountUser must be granted on the agents' account, not the project`);
  t.is(r.service_account_id, '${google_service_account.agent.name}');
  t.is(r.member, 'serviceAccount:${google_service_account.master.email}');
});

test('GCP: the pool section the module outputs is a valid gcp-compute pool', async (t) => {
  const gcp = (await mod('terraform/modules/gcp')).locals.get('pool_gcp');
  t.true(gcp !== null && typeof gcp === 'object', 'local.pool_gcp is not an object literal');
  const pool = PoolSchema.safeParse({
    name: 'gce-spot', provider: 'gcp-compute', ownership: 'rented', capacityType: 'spot', max: 2,
    instanceTypes: [{ name: 'n2-standard-4', cpus: 4, mem: 15360, price: 0.1942 }], gcp: placeholder('gcp', gcp),
  });
  t.true(pool.success, pool.success ? '' : pool.error.message);
  t.deepEqual(Object.keys(gcp as object).sort(), ['network', 'project', 'serviceAccount', 'sourceImage', 'subnetwork', 'zone']);
  t.is((gcp as Body).serviceAccount, '${google_service_account.agent.email}', 'agents run as the account the firewall rules target');
});
