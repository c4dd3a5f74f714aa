// Autoscaling policy files: validation with file, line, path and reason; versioned storage in Redis
// through the fenced Store; the /v1/policies API; and `spillway policy validate|apply|show|history`
// as a person runs them (child processes against an in-process master).
import test, { type ExecutionContext } from 'ava';
import { spillway } from './helpers/run-process.ts';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { disruptionLimit, formatProblem, parsePolicy, scalingPolicyOf, validatePolicy, type PolicyProblem } from '../src/autoscaler/policy-schema.ts';
import { InvalidPolicyError, MAX_POLICY_VERSIONS, PolicyStore, currentPolicy } from '../src/autoscaler/policy-store.ts';
import { ConfigFileError } from '../providers/pool-config.ts';
import { RedisStore } from '../src/store/redis-store.ts';
import { FencedError } from '../src/store/store.ts';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const EXAMPLES = fileURLToPath(new URL('../policies/examples/', import.meta.url));

const MINIMAL = `pools:
  - name: burst
    provider: local
    ownership: rented
    max: 4
    instanceTypes:
      - { name: small, cpus: 1, mem: 256, price: 0.05 }
budget:
  perHour: 1
`;

const cli = spillway;

function errorsOf(t: ExecutionContext, text: string, file = 'policy.yaml'): PolicyProblem[] {
  const r = validatePolicy(text, file);
  if (r.valid) {
    t.fail('expected the policy to be refused');
    return [];
  }
  return r.errors;
}

const lines = (problems: PolicyProblem[]): string => problems.map(formatProblem).join('\n');

async function master(t: ExecutionContext): Promise<InProcessMaster> {
  const m = await inProcessMaster();
  t.teardown(() => m.shutdown());
  return m;
}

const post = (m: InProcessMaster, path: string, body: string, type = 'text/yaml'): Promise<Response> =>
  fetch(`${m.url}${path}`, { method: 'POST', headers: { 'Content-Type': type }, body });

// ---- schema ------------------------------------------------------------------------------------

test('a minimal policy gets every default', (t) => {
  const { policy, warnings } = parsePolicy(MINIMAL, 'min.yaml');
  t.deepEqual(warnings, []);
  t.deepEqual(policy.scaleUp, { expanders: ['priority', 'least-waste', 'cheapest'], maxLaunchesPerMinute: 10, batchWindowSeconds: 10 });
  t.deepEqual(policy.scaleDown, { utilisationThreshold: 0.5, unneededForSeconds: 600, drainGraceSeconds: 120, disruptionBudget: 1, order: ['rented-first', 'most-expensive-first'] });
  t.deepEqual(policy.budget, { perHour: 1, currency: 'USD' });
  t.deepEqual(policy.headroom, { cpus: 0, mem: 0 });
  t.deepEqual(policy.cooldowns, { scaleUpSeconds: 60, scaleDownSeconds: 300 });
  // Pools come out of the pool schema with its own defaults.
  t.is(policy.pools[0].capacityType, 'on-demand');
  t.is(policy.pools[0].min, 0);
  t.deepEqual(scalingPolicyOf(policy), { expanders: ['priority', 'least-waste', 'cheapest'], maxLaunchesPerMinute: 10, budgetPerHour: 1, headroom: { cpus: 0, mem: 0 } });
  // Owned-only policies need no budget (no rented spending).
  const owned = parsePolicy(MINIMAL.replace('ownership: rented', 'ownership: owned').replace('budget:\n  perHour: 1\n', ''), 'owned.yaml');
  t.deepEqual(owned.policy.budget, { perHour: 0, currency: 'USD' });
});

test('unknown keys are refused at their own line, with the keys allowed there', (t) => {
  const errors = errorsOf(t, `${MINIMAL}scaleUp:
  expanders: [priority]
  maxLaunchesPerMin: 5
spare: 1
`);
  t.is(lines(errors), [
    'policy.yaml:12: scaleUp.maxLaunchesPerMin: unknown key (expected one of: expanders, maxLaunchesPerMinute, batchWindowSeconds)',
    'policy.yaml:13: spare: unknown key (expected one of: pools, scaleUp, scaleDown, budget, headroom, cooldowns, reconciler, accounting)',
  ].join('\n'));
  const inPool = errorsOf(t, MINIMAL.replace('    max: 4\n', '    max: 4\n    maximum: 5\n'));
  t.is(inPool.length, 1);
  t.is(inPool[0].line, 6);
  t.is(inPool[0].path, 'pools.0.maximum');
  t.regex(inPool[0].reason, /^unknown key \(expected one of: name, provider, ownership/);
});

test('a bad expander and a duplicate expander name their entry and line', (t) => {
  const bad = errorsOf(t, `${MINIMAL}scaleUp:\n  expanders: [priority, random]\n`);
  t.is(bad.length, 1);
  t.like(bad[0], { file: 'policy.yaml', line: 11, path: 'scaleUp.expanders.1' });
  t.regex(bad[0].reason, /"priority"\|"least-waste"\|"cheapest"/);
  const dup = errorsOf(t, `${MINIMAL}scaleUp:\n  expanders:\n    - cheapest\n    - priority\n    - cheapest\n`);
  t.is(lines(dup), "policy.yaml:14: scaleUp.expanders.2: expander 'cheapest' is listed twice");
  const empty = errorsOf(t, `${MINIMAL}scaleUp:\n  expanders: []\n`);
  t.is(lines(empty), 'policy.yaml:11: scaleUp.expanders: give at least one expander');
});

test('scale-down, budget, headroom and cooldown values out of range', (t) => {
  const errors = errorsOf(t, MINIMAL.replace('perHour: 1', 'perHour: -2') + `scaleDown:
  utilisationThreshold: 1.5
  disruptionBudget: "150%"
  order: [rented-first, rented-first]
headroom: { cpus: -1 }
cooldowns:
  scaleUpSeconds: -5
`);
  t.is(lines(errors), [
    'policy.yaml:9: budget.perHour: cannot be negative (0 means no rented spending)',
    'policy.yaml:11: scaleDown.utilisationThreshold: between 0 and 1 (a fraction, not a percentage)',
    'policy.yaml:12: scaleDown.disruptionBudget: a percentage cannot be above 100%',
    "policy.yaml:13: scaleDown.order.1: order 'rented-first' is listed twice",
    'policy.yaml:14: headroom.cpus: cannot be negative',
    'policy.yaml:16: cooldowns.scaleUpSeconds: scaleUpSeconds cannot be negative',
  ].join('\n'));
  const budget = errorsOf(t, `${MINIMAL}scaleDown:\n  disruptionBudget: 1.5\nscaleUp:\n  maxLaunchesPerMinute: 0\n`);
  t.is(lines(budget), [
    'policy.yaml:11: scaleDown.disruptionBudget: a whole number of machines, or a percentage like "10%"',
    'policy.yaml:13: scaleUp.maxLaunchesPerMinute: at least 1',
  ].join('\n'));
  t.is(disruptionLimit('10%', 25), 3);
  t.is(disruptionLimit('10%', 1), 1);
  t.is(disruptionLimit('0%', 10), 0);
  t.is(disruptionLimit(2, 10), 2);
});

test('pool rules come from the pool schema: min above max, a rented type without a price, duplicate names', (t) => {
  const text = `pools:
  - name: cloud
    provider: aws-ec2
    ownership: rented
    min: 5
    max: 2
    aws: { region: us-east-1, amiId: ami-1 }
    instanceTypes:
      - { name: m5.large, cpus: 2, mem: 8192 }
  - name: cloud
    provider: local
    ownership: owned
    max: 1
    instanceTypes: [{ name: x, cpus: 1, mem: 128 }]
budget: { perHour: 3 }
`;
  const errors = errorsOf(t, text, 'hybrid.yaml');
  t.is(lines(errors), [
    'hybrid.yaml:5: pools.0.min: min (5) is above max (2)',
    'hybrid.yaml:9: pools.0.instanceTypes.0.price: instance type m5.large has no price in the price book',
    "hybrid.yaml:10: pools.1.name: pool name 'cloud' is used twice (first at pools.0)",
  ].join('\n'));
  const fixed = text.replace('min: 5', 'min: 1').replace('mem: 8192 }', 'mem: 8192, price: 0.1 }').replace('name: cloud\n    provider: local', 'name: rack\n    provider: local');
  t.true(validatePolicy(fixed, 'hybrid.yaml').valid);
});

test('structure: at least one pool, a budget when rented pools can launch, YAML syntax, empty files', (t) => {
  t.is(lines(errorsOf(t, 'pools: []\n')), 'policy.yaml:1: pools: give at least one pool');
  t.is(lines(errorsOf(t, MINIMAL.replace('budget:\n  perHour: 1\n', ''))), 'policy.yaml:1: budget: rented pools can launch (burst): give a budget (budget.perHour; 0 means no rented spending)');
  t.regex(lines(errorsOf(t, 'pools:\n  - { name: x\n')), /^policy\.yaml:\d+: \(top\): /);
  t.is(lines(errorsOf(t, '  \n')), 'policy.yaml: (top): the policy is empty (expected at least a `pools:` list)');
  const thrown = t.throws(() => parsePolicy('pools: []\n', 'p.yaml'), { instanceOf: ConfigFileError })!;
  t.is(thrown.message, 'p.yaml:1: pools: give at least one pool');
});

test('warnings: a zero budget with rented pools, unpriced rented types, a zero disruption budget, an unaffordable pool', (t) => {
  const r = validatePolicy(MINIMAL.replace('perHour: 1', 'perHour: 0').replace(', price: 0.05', '') + 'scaleDown:\n  disruptionBudget: 0\n', 'w.yaml');
  if (!r.valid) return t.fail(lines(r.errors));
  t.is(lines(r.warnings), [
    'w.yaml:7: pools.0.instanceTypes.0: instance type small has no price: it counts as free against the budget',
    'w.yaml:9: budget.perHour: budget is 0: rented pools (burst) will not launch anything',
    'w.yaml:11: scaleDown.disruptionBudget: disruption budget is 0: scale-down never releases a machine',
  ].join('\n'));
  for (const zero of ['"0%"', '"0.0%"', '"00.00%"']) {
    const z = validatePolicy(`${MINIMAL}scaleDown:\n  disruptionBudget: ${zero}\n`, 'w.yaml');
    if (!z.valid) return t.fail(lines(z.errors));
    t.regex(lines(z.warnings), /scaleDown\.disruptionBudget: disruption budget is 0: scale-down never releases a machine/, zero);
  }
  const tiny = validatePolicy(`${MINIMAL}scaleDown:\n  disruptionBudget: "0.5%"\n`, 'w.yaml');
  t.true(tiny.valid && tiny.warnings.every((w) => !w.path.includes('disruptionBudget')), 'a small non-zero percentage still releases one machine at a time');
  const dear = validatePolicy(MINIMAL.replace('perHour: 1', 'perHour: 0.01'), 'w.yaml');
  if (!dear.valid) return t.fail(lines(dear.errors));
  t.is(lines(dear.warnings), 'w.yaml:2: pools.0: pool burst: its cheapest instance type costs 0.05/h, above budget.perHour 0.01 — it never launches for demand');
  const moot = validatePolicy(`${MINIMAL}accounting:\n  billing:\n    static: { per: hour }\n`, 'w.yaml');
  if (!moot.valid) return t.fail(lines(moot.errors));
  t.regex(lines(moot.warnings), /accounting\.billing\.static: no rented pool uses provider static: owned machines are always charged per second, so this rule applies to nothing/);
});

test('every example policy in policies/examples validates without warnings', (t) => {
  const files = readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f));
  t.true(['hybrid-aws.yaml', 'gcp-spot.yaml', 'local.yaml'].every((f) => files.includes(f)), files.join(', '));
  for (const f of files) {
    const r = validatePolicy(readFileSync(join(EXAMPLES, f), 'utf8'), f);
    if (!r.valid) {
      t.fail(lines(r.errors));
      continue;
    }
    t.deepEqual(r.warnings, [], f);
  }
  const local = parsePolicy(readFileSync(join(EXAMPLES, 'local.yaml'), 'utf8'), 'local.yaml').policy;
  t.deepEqual(local.pools.map((p) => [p.name, p.ownership, p.max]), [['local-owned', 'owned', 2], ['local-rented', 'rented', 4]]);
  const hybrid = parsePolicy(readFileSync(join(EXAMPLES, 'hybrid-aws.yaml'), 'utf8'), 'hybrid-aws.yaml').policy;
  t.deepEqual(hybrid.pools.map((p) => `${p.provider}/${p.ownership}/${p.capacityType}`), ['static/owned/on-demand', 'aws-ec2/rented/spot', 'aws-ec2/rented/on-demand']);
});

// ---- storage -----------------------------------------------------------------------------------

test.serial('apply stores versions in Redis: current, history, a bad apply writes nothing, 20 kept', async (t) => {
  const m = await master(t);
  const store = new PolicyStore(m.master.store);
  t.is(await store.current(), undefined);
  t.is(await currentPolicy(m.master.store), undefined);

  const v1 = await store.apply(MINIMAL, { file: 'min.yaml' });
  t.is(v1.version, 1);
  t.is(v1.source, MINIMAL);
  t.is(v1.file, 'min.yaml');
  t.regex(v1.sha256, /^[0-9a-f]{64}$/);
  t.false(Number.isNaN(Date.parse(v1.appliedAt)));
  t.deepEqual(await currentPolicy(m.master.store), v1);

  const second = MINIMAL.replace('max: 4', 'max: 6');
  const v2 = await store.apply(second);
  t.is(v2.version, 2);
  t.is((await currentPolicy(m.master.store))?.policy.pools[0].max, 6);
  t.deepEqual((await store.history()).map((v) => v.version), [2, 1]);
  t.is((await store.version(1))?.source, MINIMAL);

  const err = await t.throwsAsync(store.apply(MINIMAL.replace('max: 4', 'max: -1'), { file: 'bad.yaml' }), { instanceOf: InvalidPolicyError });
  t.like(err?.problems.find((p) => p.path === 'pools.0.max'), { file: 'bad.yaml', line: 5 });
  t.is((await store.current())?.version, 2, 'a bad apply changes nothing');
  t.is((await store.history()).length, 2);

  // Concurrent applies each get their own version.
  const many = await Promise.all([3, 4, 5].map((n) => store.apply(MINIMAL.replace('max: 4', `max: ${n}`))));
  t.deepEqual(many.map((v) => v.version).sort(), [3, 4, 5]);
  for (let i = 0; i < MAX_POLICY_VERSIONS; i++) await store.apply(MINIMAL);
  const kept = await store.history();
  t.is(kept.length, MAX_POLICY_VERSIONS);
  t.is(kept[0].version, 5 + MAX_POLICY_VERSIONS);
  t.is(kept.at(-1)?.version, 6);
  t.is(await store.version(1), undefined, 'older versions are no longer kept');
});

test.serial('a deposed writer cannot apply: the write is fenced and nothing changes', async (t) => {
  const redis = await testRedis();
  const a = RedisStore.connect(redis.url, 'fence');
  const b = RedisStore.connect(redis.url, 'fence');
  t.teardown(async () => { await a.close(); await b.close(); await redis.stop(); });
  await a.claimEpoch();
  await new PolicyStore(a).apply(MINIMAL);
  await b.claimEpoch(); // a newer master
  await t.throwsAsync(new PolicyStore(a).apply(MINIMAL.replace('max: 4', 'max: 9')), { instanceOf: FencedError });
  const current = await currentPolicy(b);
  t.is(current?.version, 1);
  t.is(current?.policy.pools[0].max, 4);
});

// ---- REST --------------------------------------------------------------------------------------

test.serial('REST: POST /v1/policies stores a version, GET current / list / one version, validate, errors name line and path', async (t) => {
  const m = await master(t);
  const none = await fetch(`${m.url}/v1/policies/current`);
  t.is(none.status, 404);
  t.regex(((await none.json()) as Any).error, /no policy has been applied/);
  t.deepEqual(await (await fetch(`${m.url}/v1/policies`)).json(), { versions: [] });

  const created = await post(m, '/v1/policies?file=min.yaml', MINIMAL);
  t.is(created.status, 201);
  const c = (await created.json()) as Any;
  t.is(c.version, 1);
  t.deepEqual(c.warnings, []);
  t.deepEqual(c.pools, ['burst']);

  const current = (await (await fetch(`${m.url}/v1/policies/current`)).json()) as Any;
  t.is(current.version, 1);
  t.is(current.source, MINIMAL);
  t.is(current.file, 'min.yaml');
  t.is(current.policy.scaleUp.maxLaunchesPerMinute, 10);
  const yaml = await fetch(`${m.url}/v1/policies/current`, { headers: { Accept: 'text/yaml' } });
  t.regex(yaml.headers.get('content-type') ?? '', /text\/yaml/);
  t.is(await yaml.text(), MINIMAL);

  // JSON is accepted too (JSON is YAML), with lines still counted.
  const asJson = JSON.stringify({ pools: [{ name: 'burst', provider: 'local', ownership: 'rented', max: 2, instanceTypes: [{ name: 's', cpus: 1, mem: 128, price: 0.01 }] }], budget: { perHour: 1 } }, null, 2);
  const v2 = await post(m, '/v1/policies', asJson, 'application/json');
  t.is(v2.status, 201);
  t.is(((await v2.json()) as Any).version, 2);
  const list = (await (await fetch(`${m.url}/v1/policies`)).json()) as Any;
  t.deepEqual(list.versions.map((v: Any) => [v.version, v.current]), [[2, true], [1, false]]);
  const one = (await (await fetch(`${m.url}/v1/policies/1`)).json()) as Any;
  t.is(one.source, MINIMAL);
  t.false(one.current);
  t.is((await fetch(`${m.url}/v1/policies/7`)).status, 404);
  t.is((await fetch(`${m.url}/v1/policies/x`)).status, 400);

  const bad = await post(m, '/v1/policies', MINIMAL.replace('    max: 4\n', '    max: 4\n    mx: 1\n') + 'scaleDown:\n  utilisationThreshold: 2\n', 'application/yaml');
  t.is(bad.status, 400);
  const body = (await bad.json()) as Any;
  t.is(body.error, 'invalid policy');
  t.deepEqual(body.problems.map((p: Any) => [p.file, p.line, p.path]), [['(request)', 6, 'pools.0.mx'], ['(request)', 12, 'scaleDown.utilisationThreshold']]);
  t.regex(body.problems[1].reason, /between 0 and 1/);
  t.is(((await (await fetch(`${m.url}/v1/policies/current`)).json()) as Any).version, 2, 'a refused policy changes nothing');

  const ok = await post(m, '/v1/policies/validate', MINIMAL.replace('perHour: 1', 'perHour: 0'));
  t.is(ok.status, 200);
  const okBody = (await ok.json()) as Any;
  t.true(okBody.valid);
  t.deepEqual(okBody.warnings.map((w: Any) => [w.file, w.line, w.path]), [['(request)', 9, 'budget.perHour']]);
  const invalid = await post(m, '/v1/policies/validate', 'pools: []\n');
  t.is(invalid.status, 400);
  t.deepEqual(((await invalid.json()) as Any).problems, [{ file: '(request)', line: 1, path: 'pools', reason: 'give at least one pool' }]);
  t.is((await fetch(`${m.url}/v1/policies`)).status, 200);
  t.is(((await (await fetch(`${m.url}/v1/policies`)).json()) as Any).versions.length, 2, 'validate stores nothing');

  t.is((await post(m, '/v1/policies', MINIMAL, 'application/x-protobuf')).status, 415);
  t.is((await fetch(`${m.url}/v1/policies`, { method: 'POST', body: MINIMAL, headers: { 'Content-Type': '' } })).status, 400);
});

// ---- CLI ---------------------------------------------------------------------------------------

test.serial('CLI: policy validate needs no master; errors are FILE:LINE: path: reason and exit 1', async (t) => {
  t.timeout(300_000); // a CLI process per step: slow on a loaded machine
  const dir = tempDir('spillway-policy-');
  const good = join(EXAMPLES, 'local.yaml');
  const r = await cli(['policy', 'validate', good]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ok: .*local\.yaml — 2 pools \(local-owned, local-rented\)\n$/);
  t.is(r.stderr, '');

  const warn = join(dir, 'warn.yaml');
  writeFileSync(warn, MINIMAL.replace('perHour: 1', 'perHour: 0'));
  const w = await cli(['policy', 'validate', warn]);
  t.is(w.code, 0, w.stderr);
  t.regex(w.stdout, /^ok: .*1 warning\n$/);
  t.is(w.stderr, `warning: ${warn}:9: budget.perHour: budget is 0: rented pools (burst) will not launch anything\n`);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, `${MINIMAL}scaleUp:\n  expanders: [cheapest, cheapest]\n`);
  const b = await cli(['policy', 'validate', bad]);
  t.is(b.code, 1);
  t.is(b.stdout, '');
  t.is(b.stderr, `${bad}:11: scaleUp.expanders.1: expander 'cheapest' is listed twice\nspillway: invalid policy (1 problem)\n`);

  const missing = await cli(['policy', 'validate', join(dir, 'nope.yaml')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /cannot read .*nope\.yaml: no such file/);
});

test.serial('CLI: policy apply, show (source, --json, --version) and history against a master', async (t) => {
  t.timeout(300_000); // a CLI process per step: slow on a loaded machine
  const m = await master(t);
  const dir = tempDir('spillway-policy-');
  const run = (...args: string[]) => cli([...args, '--master', m.url]);

  const empty = await run('policy', 'show');
  t.is(empty.code, 1);
  t.regex(empty.stderr, /no policy has been applied yet/);
  const noHistory = await run('policy', 'history');
  t.is(noHistory.code, 0, noHistory.stderr);
  t.regex(noHistory.stdout, /no policy has been applied yet/);

  const local = join(EXAMPLES, 'local.yaml');
  const a1 = await run('policy', 'apply', local);
  t.is(a1.code, 0, a1.stderr);
  t.regex(a1.stdout, /applied .*local\.yaml as policy version 1 \(sha256 [0-9a-f]{12}\)/);

  const second = join(dir, 'burst.yaml');
  writeFileSync(second, MINIMAL);
  const a2 = await run('policy', 'apply', second, '--json');
  t.is(a2.code, 0, a2.stderr);
  t.like(JSON.parse(a2.stdout), { version: 2, file: 'burst.yaml', pools: ['burst'], current: true });

  // A bad file is refused locally: exit 1, the master still has version 2.
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, MINIMAL.replace('max: 4', 'max: 4\n    min: 9'));
  const a3 = await run('policy', 'apply', bad);
  t.is(a3.code, 1);
  t.regex(a3.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6: pools\\.0\\.min: min \\(9\\) is above max \\(4\\)`));
  t.is((await currentPolicy(m.master.store))?.version, 2);

  const show = await run('policy', 'show');
  t.is(show.code, 0, show.stderr);
  t.is(show.stdout, MINIMAL);
  t.regex(show.stderr, /# policy version 2, applied .* from burst\.yaml/);
  const shown1 = await run('policy', 'show', '--version', '1');
  t.is(shown1.code, 0, shown1.stderr);
  t.is(shown1.stdout, readFileSync(local, 'utf8'));
  const json = await run('policy', 'show', '--json');
  t.is(json.code, 0, json.stderr);
  const record = JSON.parse(json.stdout) as Any;
  t.is(record.version, 2);
  t.is(record.policy.scaleDown.utilisationThreshold, 0.5);
  const gone = await run('policy', 'show', '--version', '9');
  t.is(gone.code, 1);
  t.regex(gone.stderr, /policy version 9 is not kept \(kept: 2, 1\)/);
  t.is((await run('policy', 'show', '--version', 'x')).code, 1);

  const history = await run('policy', 'history', '--json');
  t.is(history.code, 0, history.stderr);
  t.deepEqual((JSON.parse(history.stdout) as Any[]).map((v) => [v.version, v.file, v.current]), [[2, 'burst.yaml', true], [1, 'local.yaml', false]]);
  const table = await run('policy', 'history');
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /│ 2 +│ .* │ burst\.yaml +│ burst +│ [0-9a-f]{12} │ current │/);
  t.regex(table.stdout, /│ 1 +│ .* │ local\.yaml +│ local-owned, local-rented │/);

  const unreachable = await cli(['policy', 'history', '--master', 'http://127.0.0.1:1']);
  t.is(unreachable.code, 1);
  t.regex(unreachable.stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:1/);
});
