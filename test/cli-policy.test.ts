// `spillway roles|weights|quota|reserve|unreserve` as a person runs them: the real CLI as a child
// process against an in-process master (own Redis) with a simulated agent.
import test, { type ExecutionContext } from 'ava';
import { spillway, type ProcessResult } from './helpers/run-process.ts';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { RawFramework, scalarRes } from './helpers/raw-framework.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type CliResult = ProcessResult;

const cli = spillway;

async function op(m: InProcessMaster, body: object): Promise<Any> {
  const res = await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${JSON.stringify(body)}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Any;
}

async function cluster(t: ExecutionContext, agentResources = resources({ cpus: 4, mem: 8192, disk: 10000 })): Promise<{ m: InProcessMaster; agent: SimulatedAgent; run: (...args: string[]) => Promise<CliResult> }> {
  const m = await inProcessMaster();
  const agent = new SimulatedAgent({ master: m.url, behaviour: 'run', resources: agentResources });
  t.teardown(async () => { agent.stop(); await m.shutdown(); });
  await agent.start();
  return { m, agent, run: (...args) => cli([...args, '--master', m.url]) };
}

const ok = (t: ExecutionContext, r: CliResult, what: string): void => { t.is(r.code, 0, `${what}: ${r.stderr}`); };

/** The table row (a line of the printed table) that starts with `first`. */
const row = (table: string, first: string): string | undefined =>
  table.split('\n').find((l) => new RegExp(`^│ ${first.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} +│`).test(l));

test.serial('weights: set, list as a table and as JSON; a bad weight or role exits 1 and changes nothing', async (t) => {
  t.timeout(300_000); // a CLI process per step: slow on a loaded machine
  const { m, run } = await cluster(t);
  ok(t, await run('weights', 'set', 'analytics=2', 'batch=0.5'), 'weights set');
  const json = await run('weights', '--json');
  ok(t, json, 'weights --json');
  t.deepEqual(JSON.parse(json.stdout), [{ role: 'analytics', weight: 2 }, { role: 'batch', weight: 0.5 }]);
  const table = await run('weights');
  ok(t, table, 'weights');
  t.regex(table.stdout, /role/);
  t.regex(row(table.stdout, 'analytics') ?? '', /│ 2 +│/);
  t.regex(row(table.stdout, 'batch') ?? '', /│ 0\.5 +│/);
  // --master after the subcommand or before it both reach the subcommand.
  ok(t, await cli(['weights', '--master', m.url, 'set', 'batch=1.5']), 'weights --master URL set');
  t.is((await op(m, { type: 'GET_WEIGHTS' })).get_weights.weight_infos.find((w: Any) => w.role === 'batch').weight, 1.5);

  const before = (await op(m, { type: 'GET_WEIGHTS' })).get_weights.weight_infos;
  for (const bad of ['analytics=-1', 'analytics=0', 'analytics=abc', 'analytics=', 'analytics']) {
    const r = await run('weights', 'set', 'other=3', bad);
    t.is(r.code, 1, bad);
    t.regex(r.stderr, /^spillway: '.*': (the weight of 'analytics' must be a number > 0|expected ROLE=WEIGHT)/, bad);
  }
  // A weight the CLI cannot judge (an invalid role name): the master's 400 message is shown.
  const badRole = await run('weights', 'set', 'other=3', '../x=2');
  t.is(badRole.code, 1);
  t.regex(badRole.stderr, /master answered 400: update_weights\.weight_infos\[1\]\.role: role '\.\.\/x' is invalid/);
  t.deepEqual((await op(m, { type: 'GET_WEIGHTS' })).get_weights.weight_infos, before, 'nothing changed');
});

test.serial('quota: set, list, remove; limit below guarantee and over-capacity guarantees exit 1 with the master\'s message', async (t) => {
  t.timeout(300_000); // a CLI process per step: slow on a loaded machine
  const { m, run } = await cluster(t);
  ok(t, await run('quota', 'set', 'prod', '--guarantee', 'cpus:2;mem:1024', '--limit', 'cpus:3;mem:4096;gpus:0'), 'quota set');
  const json = await run('quota', '--json');
  ok(t, json, 'quota --json');
  t.deepEqual(JSON.parse(json.stdout), [{
    role: 'prod', guarantees: { cpus: { value: 2 }, mem: { value: 1024 } }, limits: { cpus: { value: 3 }, mem: { value: 4096 }, gpus: { value: 0 } },
  }]);
  const table = await run('quota');
  ok(t, table, 'quota');
  t.regex(row(table.stdout, 'prod') ?? '', /│ cpus:2;mem:1024 +│ cpus:3;mem:4096;gpus:0 +│/);

  const before = (await op(m, { type: 'GET_QUOTA' })).get_quota;
  const below = await run('quota', 'set', 'prod', '--guarantee', 'cpus:4', '--limit', 'cpus:2');
  t.is(below.code, 1);
  t.regex(below.stderr, /master answered 400: update_quota\.quota_configs\[0\]: limit cpus:2 is below the guarantee cpus:4/);
  const tooBig = await run('quota', 'set', 'big', '--guarantee', 'cpus:100');
  t.is(tooBig.code, 1);
  t.regex(tooBig.stderr, /master answered 409: Total quota guarantees cpus:102 exceed the cluster's cpus:4/);
  const local = await run('quota', 'set', 'prod', '--guarantee', 'cpus:x');
  t.is(local.code, 1);
  t.regex(local.stderr, /--guarantee: 'cpus': 'x' is not a non-negative number/);
  const nothing = await run('quota', 'set', 'prod');
  t.is(nothing.code, 1);
  t.regex(nothing.stderr, /give --guarantee and\/or --limit/);
  t.deepEqual((await op(m, { type: 'GET_QUOTA' })).get_quota, before, 'refused changes changed nothing');

  ok(t, await run('quota', 'set', 'big', '--guarantee', 'cpus:100', '--force'), 'quota set --force');
  t.deepEqual((await op(m, { type: 'GET_QUOTA' })).get_quota.status.configs.map((q: Any) => q.role).sort(), ['big', 'prod']);
  const removed = await run('quota', 'remove', 'big');
  ok(t, removed, 'quota remove');
  t.regex(removed.stdout, /quota of 'big' removed/);
  t.deepEqual(JSON.parse((await run('quota', '--json')).stdout).map((q: Any) => q.role), ['prod']);
  const none = await run('quota', 'remove', 'nobody');
  ok(t, none, 'quota remove of a role without quota');
  t.regex(none.stderr, /role 'nobody' has no quota; nothing changed/);
});

test.serial('reserve and unreserve on an agent; roles shows the reservation and quota; in-use and unknown agents are refused', async (t) => {
  t.timeout(300_000); // a CLI process per step: slow on a loaded machine
  const { m, agent, run } = await cluster(t);
  const id = agent.agentId!;
  const total = async (): Promise<Any[]> => (await op(m, { type: 'GET_AGENTS' })).get_agents.agents[0].total_resources;
  const dynamic = async (): Promise<Any[]> => (await total()).filter((r) => r.reservations?.[0]?.type === 'DYNAMIC');

  const reserved = await run('reserve', id, '--role', 'analytics', '--resources', 'cpus:2;mem:1024', '--principal', 'ops');
  ok(t, reserved, 'reserve');
  t.regex(reserved.stdout, new RegExp(`reserved cpus:2;mem:1024 on agent ${id} for role 'analytics'`));
  const dyn = await dynamic();
  t.deepEqual(dyn.map((r) => [r.name, r.scalar.value, r.reservations]).sort(), [
    ['cpus', 2, [{ type: 'DYNAMIC', role: 'analytics', principal: 'ops' }]],
    ['mem', 1024, [{ type: 'DYNAMIC', role: 'analytics', principal: 'ops' }]],
  ]);
  const unreserved = (await total()).filter((r) => !r.reservations && (r.name === 'cpus' || r.name === 'mem'));
  t.deepEqual(unreserved.map((r) => [r.name, r.scalar.value]).sort(), [['cpus', 2], ['mem', 7168]]);

  // roles: the reservation, the weight and the quota of the role.
  ok(t, await run('quota', 'set', 'analytics', '--guarantee', 'cpus:1;mem:512', '--limit', 'cpus:3'), 'quota set');
  ok(t, await run('weights', 'set', 'analytics=2'), 'weights set');
  const roles = await run('roles');
  ok(t, roles, 'roles');
  t.regex(roles.stdout, /│ role +│ weight +│ frameworks +│ allocated +│ reserved +│ quota guarantee +│ quota limit +│ consumed +│/);
  t.regex(row(roles.stdout, 'analytics') ?? '', /│ 2 +│ 0 +│ — +│ cpus 2 · mem 1024 +│ cpus 1 · mem 512 +│ cpus 3 +│/);
  const rolesJson = JSON.parse((await run('roles', '--json')).stdout) as Any[];
  const analytics = rolesJson.find((r) => r.name === 'analytics')!;
  t.is(analytics.weight, 2);
  t.is(analytics.reserved.find((r: Any) => r.name === 'cpus').scalar.value, 2);
  t.is(analytics.quota.guarantees.cpus.value, 1);

  // Refused: too much, an unknown agent, a role that has no reservation, the wrong principal.
  const tooMuch = await run('reserve', id, '--role', 'analytics', '--resources', 'cpus:50');
  t.is(tooMuch.code, 1);
  t.regex(tooMuch.stderr, /master answered 400: reserve_resources\.resources: agent .* has cpus:2;.*unreserved/);
  const unknown = await run('reserve', 'no-such-agent', '--role', 'analytics', '--resources', 'cpus:1');
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /master answered 404: reserve_resources\.agent_id: agent no-such-agent is not registered/);
  const noPrincipal = await run('unreserve', id, '--role', 'analytics', '--resources', 'cpus:2;mem:1024');
  t.is(noPrincipal.code, 1);
  t.regex(noPrincipal.stderr, /master answered 400: unreserve_resources\.resources: .* is not dynamically reserved/);
  t.regex(noPrincipal.stderr, /hint: .*--principal ops/);
  const badSpec = await run('reserve', id, '--role', 'analytics', '--resources', 'cpus(analytics):1');
  t.is(badSpec.code, 1);
  t.regex(badSpec.stderr, /--resources: .*static reservations/);
  t.is((await dynamic()).length, 2, 'refused calls changed nothing');

  // A task of the role holds the reserved cpus: they cannot be unreserved while it runs (409).
  const fw = new RawFramework(m.url);
  t.is(await fw.subscribe({ user: 'test', name: 'analytics', roles: ['analytics'], capabilities: [{ type: 'MULTI_ROLE' }] }), 200);
  t.teardown(() => fw.close());
  const offer = (await fw.next((e) => e.type === 'OFFERS' && e.offers.offers.some((o: Any) => o.resources.some((r: Any) => r.reservations)))).offers.offers[0];
  const task = [{ ...scalarRes('cpus', 2), reservations: [{ type: 'DYNAMIC', role: 'analytics', principal: 'ops' }] }];
  await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 't', task_id: { value: 't1' }, agent_id: offer.agent_id, resources: task, command: { value: 'sleep 1000' } }] } }], filters: { refuse_seconds: 3600 } } });
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING');
  const inUse = await run('unreserve', id, '--role', 'analytics', '--resources', 'cpus:2', '--principal', 'ops');
  t.is(inUse.code, 1);
  t.regex(inUse.stderr, /master answered 409: unreserve_resources\.resources: .* is in use by tasks right now/);
  t.regex(row((await run('roles')).stdout, 'analytics') ?? '', /│ 1 +│ cpus 2 +│ cpus 2 · mem 1024 +│/, 'roles shows the framework and its allocation');
  await agent.finish(fw.frameworkId!, 't1', 'TASK_FINISHED');
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_FINISHED');

  const back = await run('unreserve', id, '--role', 'analytics', '--resources', 'cpus:2;mem:1024', '--principal', 'ops');
  ok(t, back, 'unreserve');
  t.regex(back.stdout, /unreserved cpus:2;mem:1024 on agent/);
  t.deepEqual(await dynamic(), []);
  const all = (await total()).filter((r) => r.name === 'cpus' || r.name === 'mem');
  t.deepEqual(all.map((r) => [r.name, r.scalar.value]).sort(), [['cpus', 4], ['mem', 8192]]);
});

test.serial('the policy commands have useful --help and say when the master cannot be reached', async (t) => {
  t.timeout(300_000); // a CLI process per step: slow on a loaded machine
  for (const cmd of [['roles'], ['weights'], ['weights', 'set'], ['quota'], ['quota', 'set'], ['quota', 'remove'], ['reserve'], ['unreserve']]) {
    const r = await cli([...cmd, '--help']);
    t.is(r.code, 0, cmd.join(' '));
    t.regex(r.stdout, /Usage: spillway/, cmd.join(' '));
    t.regex(r.stdout, /--master <url>/, cmd.join(' '));
    t.regex(r.stdout, /Examples?:\n {2}spillway /, cmd.join(' '));
  }
  const r = await cli(['roles', '--master', 'http://127.0.0.1:1']);
  t.is(r.code, 1);
  t.regex(r.stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:1/);
  const env = { ...process.env, SPILLWAY_MASTER: 'http://127.0.0.1:1' };
  const viaEnv = await cli(['weights', 'set', 'a=2'], env);
  t.is(viaEnv.code, 1);
  t.regex(viaEnv.stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:1/);
});
