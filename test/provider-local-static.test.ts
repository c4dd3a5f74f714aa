// The local and static providers with real processes: agents they start register with a real
// master; launches are idempotent under their token; pool files are validated with line numbers.
import test from 'ava';
import { Redis } from 'ioredis';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { BIN, waitFor } from './helpers/cluster.ts';
import { tempDir } from './helpers/redis.ts';
import { runProcess } from './helpers/run-process.ts';
import { silentLogger } from '../src/common/logger.ts';
import { systemClock } from '../src/common/clock.ts';
import { ConfigFileError, loadPoolsFile, PoolsFileSchema, parseConfig } from '../providers/pool-config.ts';
import { ProviderSet } from '../providers/registry.ts';
import { InsufficientCapacityError, InvalidConfigError, ProviderUnavailableError } from '../providers/errors.ts';

type Agents = { get_agents: { agents: { agent_info: { hostname: string; attributes: { name: string; text?: { value: string } }[] }; active: boolean }[] } };
async function agents(m: InProcessMaster): Promise<Agents['get_agents']['agents']> {
  const res = await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_AGENTS"}' });
  return ((await res.json()) as Agents).get_agents.agents;
}
const attr = (a: Agents['get_agents']['agents'][number], name: string) => a.agent_info.attributes.find((x) => x.name === name)?.text?.value;

const LOCAL_POOLS = `pools:
  - name: local-rented
    provider: local
    ownership: rented
    max: 4
    instanceTypes:
      - { name: small, cpus: 1, mem: 256, price: 0.05 }
`;

function ctx(m: InProcessMaster) {
  return { cluster: 'test', masterUrl: m.url, log: silentLogger, clock: systemClock };
}

test.serial('local provider: launched agents register with the master; the same token never launches twice; terminate stops them', async (t) => {
  const m = await inProcessMaster();
  const dir = tempDir('spillway-local-');
  const poolsFile = join(dir, 'pools.yaml');
  writeFileSync(poolsFile, LOCAL_POOLS);
  const { pools } = loadPoolsFile(poolsFile);
  const set = new ProviderSet(pools, ctx(m), { stateDir: dir });
  const p = set.forPool('local-rented');
  t.teardown(async () => {
    await p.terminate((await p.list('local-rented')).map((i) => i.id)).catch(() => {});
    await m.shutdown();
  });
  const first = await p.launch('local-rented', 2, { token: 'tok-1', instanceType: 'small' });
  t.is(first.length, 2);
  await waitFor(async () => (await agents(m)).filter((a) => a.active).length === 2, 30_000, '2 agents');
  const registered = await agents(m);
  t.deepEqual(registered.map((a) => attr(a, 'pool')), ['local-rented', 'local-rented']);
  t.deepEqual(registered.map((a) => attr(a, 'instance')).sort(), first.map((i) => i.id).sort());

  // Same token — even from a new provider object, as after a crash — returns the same instances.
  const again = await new ProviderSet(pools, ctx(m), { stateDir: dir }).forPool('local-rented').launch('local-rented', 2, { token: 'tok-1', instanceType: 'small' });
  t.deepEqual(again.map((i) => i.id).sort(), first.map((i) => i.id).sort());
  await new Promise((r) => setTimeout(r, 500));
  t.is((await agents(m)).length, 2, 'no extra agent started');

  const listed = await p.list('local-rented');
  t.deepEqual(listed.map((i) => i.state), ['running', 'running']);
  t.true(listed.every((i) => i.provider === 'local' && i.capacityType === 'on-demand' && i.privateAddress === '127.0.0.1'));
  const prices = await p.prices('local-rented');
  t.deepEqual(prices, [{ instanceType: 'small', zone: 'local', capacityType: 'on-demand', hourly: 0.05 }]);

  await p.terminate([first[0].id]);
  await p.terminate([first[0].id, 'local-unknown']); // idempotent
  t.deepEqual((await p.list('local-rented')).map((i) => i.id), [first[1].id]);
  await waitFor(async () => (await agents(m)).filter((a) => a.active).length === 1, 30_000, 'agent stopped');

  await t.throwsAsync(p.launch('local-rented', 0, { token: 'x', instanceType: 'small' }), { instanceOf: InvalidConfigError, message: /count/ });
  await t.throwsAsync(p.launch('local-rented', 1, { token: 'y', instanceType: 'huge' }), { instanceOf: InvalidConfigError, message: /instance type 'huge'/ });
});

test.serial('static provider: powers owned machines on through the hook, waits for their agents, powers them off', async (t) => {
  const m = await inProcessMaster();
  const dir = tempDir('spillway-static-');
  // The "power" hook starts an agent that advertises the machine's address (loopback aliases).
  const powerOn = `nohup ${process.execPath} ${BIN} agent --master ${m.url} --hostname {address} --port 0 --work-dir ${dir}/m-$SPILLWAY_MACHINE --kill-tasks-on-exit --resources "cpus:1;mem:256" >/dev/null 2>&1 & echo $! > ${dir}/pid-$SPILLWAY_MACHINE`;
  const powerOff = `kill $(cat ${dir}/pid-$SPILLWAY_MACHINE) && touch ${dir}/off-$SPILLWAY_MACHINE`;
  const text = `pools:
  - name: rack-a
    provider: static
    ownership: owned
    max: 2
    costPerHour: 0.02
    static:
      powerOn: ${JSON.stringify(powerOn)}
      powerOff: ${JSON.stringify(powerOff)}
      machines:
        - { name: node1, address: 127.0.0.2, cpus: 1, mem: 256, costPerHour: 0.03 }
        - { name: node2, address: 127.0.0.3, cpus: 1, mem: 256 }
`;
  const { pools } = parseConfig(PoolsFileSchema, text, 'rack.yaml');
  const set = new ProviderSet(pools, ctx(m), { stateDir: dir });
  const p = set.forPool('rack-a');
  t.teardown(async () => {
    await p.terminate((await p.list('rack-a')).map((i) => i.id)).catch(() => {});
    await m.shutdown();
  });
  const on = await p.launch('rack-a', 1, { token: 'power-1', instanceType: 'any' });
  t.is(on.length, 1);
  t.is(on[0].capacityType, 'owned');
  t.is(on[0].state, 'running');
  t.true((await agents(m)).some((a) => a.agent_info.hostname === on[0].privateAddress), 'its agent registered before launch returned');
  t.deepEqual((await p.launch('rack-a', 1, { token: 'power-1', instanceType: 'any' })).map((i) => i.id), on.map((i) => i.id), 'same token, same machine');
  await p.launch('rack-a', 1, { token: 'power-2', instanceType: 'any' });
  await t.throwsAsync(p.launch('rack-a', 1, { token: 'power-3', instanceType: 'any' }), { instanceOf: InsufficientCapacityError, message: /0 powered off/ });
  const prices = await p.prices('rack-a');
  t.deepEqual(prices.map((x) => x.hourly), [0.03, 0.02]);
  await p.terminate([on[0].id]);
  t.true(existsSync(join(dir, `off-${on[0].instanceType}`)), 'the power-off hook ran');
  t.is((await p.list('rack-a')).length, 1);
});

test.serial('static provider: a machine powered on again waits for its agent to register anew, not for the listing of its agent from before the power-off', async (t) => {
  // Pings far apart: the agent of the powered-off machine stays listed (disconnected, drained).
  const m = await inProcessMaster({ agentPingIntervalSeconds: 60 });
  const dir = tempDir('spillway-repower-');
  // With dead-<name> present the machine "does not boot": its power-on starts nothing.
  const powerOn = `[ -e ${dir}/dead-$SPILLWAY_MACHINE ] || { nohup ${process.execPath} ${BIN} agent --master ${m.url} --hostname {address} --port 0 --work-dir ${dir}/m-$SPILLWAY_MACHINE --kill-tasks-on-exit --resources "cpus:1;mem:256" >/dev/null 2>&1 & echo $! > ${dir}/pid-$SPILLWAY_MACHINE; }`;
  const powerOff = `kill $(cat ${dir}/pid-$SPILLWAY_MACHINE) 2>/dev/null; true`;
  const { pools } = parseConfig(PoolsFileSchema, `pools:
  - name: rack-b
    provider: static
    ownership: owned
    max: 1
    static:
      powerOn: ${JSON.stringify(powerOn)}
      powerOff: ${JSON.stringify(powerOff)}
      machines: [{ name: node1, address: 127.0.0.2, cpus: 1, mem: 256 }]
`, 'rack.yaml');
  // A clock that moves a second per reading: a 3 s wait for the agent gives up after a few polls;
  // the default 600 s polls long enough however slow the agent is to start.
  let now = 0;
  const clock = { now: () => (now += 1000) };
  const provider = (o: { bootTimeoutSeconds?: number; onRelease?: 'drain-only' } = {}) => new ProviderSet(
    pools.map((p) => ({ ...p, ...(o.bootTimeoutSeconds ? { bootTimeoutSeconds: o.bootTimeoutSeconds } : {}), static: { ...p.static!, ...(o.onRelease ? { onRelease: o.onRelease } : {}) } })),
    { ...ctx(m), clock }, { stateDir: dir },
  ).forPool('rack-b');
  const pid = () => Number(readFileSync(join(dir, 'pid-node1'), 'utf8'));
  t.teardown(async () => {
    try { process.kill(pid(), 'SIGKILL'); } catch { /* not running */ }
    await m.shutdown();
  });
  const op = (type: string, body: object) => fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type, ...body }) });
  type Listed = { agent_info: { id: { value: string }; hostname: string }; drain_info?: { state: string }; reregistered_time?: { nanoseconds: number } };
  const listed = async (): Promise<Listed | undefined> => ((await agents(m)) as unknown as Listed[]).find((a) => a.agent_info.hostname === '127.0.0.2');
  /** Drained as the autoscaler drains an owned machine before releasing it (the agent stays known). */
  const drain = async (id: string) => {
    t.is((await op('DRAIN_AGENT', { drain_agent: { agent_id: { value: id } } })).status, 200);
    await waitFor(async () => (await listed())?.drain_info?.state === 'DRAINED', 10_000, 'DRAINED');
  };
  const gone = (n: number) => waitFor(() => { try { process.kill(n, 0); return false; } catch { return true; } }, 10_000, 'the agent process gone');
  const spec = (token: string) => ({ token, instanceType: 'any' });

  await provider().launch('rack-b', 1, spec('on-1'));
  const first = (await listed())!;
  await drain(first.agent_info.id.value);
  const firstPid = pid();
  await provider().terminate(['rack-b/node1']);
  await gone(firstPid);
  t.truthy(await listed(), 'its agent from before the power-off is still listed');

  // Powered on, but the machine does not come up: the old listing is no agent of this power-on.
  writeFileSync(join(dir, 'dead-node1'), '');
  await t.throwsAsync(provider({ bootTimeoutSeconds: 3 }).launch('rack-b', 1, spec('on-2')), { instanceOf: ProviderUnavailableError, message: /no agent registered from 127\.0\.0\.2/ });
  await provider().terminate(['rack-b/node1']);

  // It comes up: the launch returns once its agent has registered again (same id, from its work dir).
  rmSync(join(dir, 'dead-node1'));
  const stale = (await listed())!;
  await provider().launch('rack-b', 1, spec('on-3'));
  const back = (await listed())!;
  t.is(back.agent_info.id.value, first.agent_info.id.value);
  t.true((back.reregistered_time?.nanoseconds ?? 0) > (stale.reregistered_time?.nanoseconds ?? 0), 'registered again before launch returned');

  // Released without a power-off (drain-only), the machine keeps its agent: powering it on again
  // needs no new registration.
  await drain(back.agent_info.id.value);
  await provider({ onRelease: 'drain-only' }).terminate(['rack-b/node1']);
  writeFileSync(join(dir, 'dead-node1'), '');
  const kept = await provider({ bootTimeoutSeconds: 3 }).launch('rack-b', 1, spec('on-4'));
  t.deepEqual(kept.map((i) => i.id), ['rack-b/node1']);
});

test.serial('static provider state in Redis: a leader on another host knows which machines are on and powers them off', async (t) => {
  const m = await inProcessMaster();
  t.teardown(() => m.shutdown());
  const redis = new Redis(m.redis.url);
  t.teardown(() => redis.disconnect());
  const [hostA, hostB] = [tempDir('spillway-static-a-'), tempDir('spillway-static-b-')];
  const marks = tempDir('spillway-static-marks-');
  const text = `pools:
  - name: rack-r
    provider: static
    ownership: owned
    max: 2
    static:
      powerOn: "touch ${marks}/on-$SPILLWAY_MACHINE"
      powerOff: "touch ${marks}/off-$SPILLWAY_MACHINE"
      machines:
        - { name: r1, address: 10.9.0.1, cpus: 1, mem: 256 }
        - { name: r2, address: 10.9.0.2, cpus: 1, mem: 256 }
`;
  // Host A's earlier version kept its state in a file: it seeds Redis on the first read.
  writeFileSync(join(hostA, 'static-machines.json'), JSON.stringify({ machines: [{ pool: 'rack-r', name: 'r2', on: true, token: 'old', poweredOnAt: 1 }] }));
  const { pools } = parseConfig(PoolsFileSchema, text, 'rack.yaml');
  const shared = { client: redis, keyPrefix: '{spillway:test}:' };
  const a = new ProviderSet(pools, ctx(m), { stateDir: hostA, redis: shared }).forPool('rack-r');
  const b = new ProviderSet(pools, ctx(m), { stateDir: hostB, redis: shared }).forPool('rack-r');
  t.deepEqual((await a.list('rack-r')).map((i) => i.id), ['rack-r/r2'], 'the old file seeds the shared state');
  // Host A leads and powers r1 on (bootTimeoutSeconds 0: no wait for an agent, there is none here).
  const on = await new ProviderSet(pools.map((p) => ({ ...p, bootTimeoutSeconds: 0 })), ctx(m), { stateDir: hostA, redis: shared }).forPool('rack-r').launch('rack-r', 1, { token: 'up-1', instanceType: 'any' });
  t.deepEqual(on.map((i) => i.id), ['rack-r/r1']);
  // Host B takes over: it knows both machines are on, and releases r1 through the power-off hook.
  t.deepEqual((await b.list('rack-r')).map((i) => i.id).sort(), ['rack-r/r1', 'rack-r/r2']);
  await b.terminate(['rack-r/r1']);
  t.true(existsSync(join(marks, 'off-r1')), 'the power-off hook ran on the new leader');
  t.deepEqual((await a.list('rack-r')).map((i) => i.id), ['rack-r/r2']);
  t.false(existsSync(join(hostB, 'static-machines.json')), 'nothing was kept on host B\'s disk');
});

test('pool files that do not validate are refused with file, line, path and reason', (t) => {
  const bad = `pools:
  - name: cloud
    provider: aws-ec2
    ownership: rented
    max: 2
    min: 5
    aws: { amiId: ami-1 }
    instanceTypes:
      - { name: m5.large, cpus: 2, mem: 8192 }
  - name: Bad_Name
    provider: azure
    ownership: rented
    max: 1
`;
  const err = t.throws(() => parseConfig(PoolsFileSchema, bad, 'pools.yaml'), { instanceOf: ConfigFileError })!;
  t.regex(err.message, /pools\.yaml:7: pools\.0\.aws\.region/);
  t.regex(err.message, /pools\.yaml:10: pools\.1\.name/);
  t.regex(err.message, /pools\.yaml:11: pools\.1\.provider: .*"aws-ec2"\|"gcp-compute"/);
  // Once the shape is right, the cross-field rules speak up.
  const rules = t.throws(() => parseConfig(PoolsFileSchema, bad.replace('aws: { amiId: ami-1 }', 'aws: { region: eu-west-1, amiId: ami-1 }').split('  - name: Bad_Name')[0], 'pools.yaml'), { instanceOf: ConfigFileError })!;
  t.regex(rules.message, /pools\.yaml:6: pools\.0\.min: min \(5\) is above max \(2\)/);
  t.regex(rules.message, /pools\.yaml:9: pools\.0\.instanceTypes\.0\.price: instance type m5\.large has no price in the price book/);
  const syntax = t.throws(() => parseConfig(PoolsFileSchema, 'pools: [\n  { name: x\n', 'broken.yaml'), { instanceOf: ConfigFileError })!;
  t.regex(syntax.message, /broken\.yaml:\d+:/);
});

test.serial('spillway instances: launch, list (table and --json) and terminate from the command line', async (t) => {
  const m = await inProcessMaster();
  const dir = tempDir('spillway-cli-inst-');
  const poolsFile = join(dir, 'pools.yaml');
  writeFileSync(poolsFile, LOCAL_POOLS);
  // Asynchronous: a synchronous child would block this process, and with it the in-process
  // master's lease renewals.
  const cli = (...args: string[]) => runProcess([BIN, 'instances', ...args, '--pools', poolsFile, '--state-dir', dir, '--master', m.url]);
  t.teardown(async () => {
    const left = JSON.parse((await cli('--json')).stdout || '[]') as { id: string }[];
    if (left.length) await cli('terminate', ...left.map((i) => i.id));
    await m.shutdown();
  });
  // Launching asks the master (in this process) for join tokens: run it asynchronously.
  const launched = await runProcess([BIN, 'instances', 'launch', '--pool', 'local-rented', '--count', '1', '--token', 'cli-token', '--json', '--pools', poolsFile, '--state-dir', dir, '--master', m.url]);
  t.is(launched.code, 0, launched.stderr);
  const [inst] = JSON.parse(launched.stdout) as { id: string; pool: string }[];
  t.is(inst.pool, 'local-rented');
  t.regex(launched.stderr, /launching 1 × small in pool local-rented/);
  const table = await cli('--pool', 'local-rented');
  t.regex(table.stdout, new RegExp(inst.id));
  await waitFor(async () => (await agents(m)).length === 1, 30_000, 'agent');
  const listed = await runProcess([BIN, 'token', 'list', '--json', '--master', m.url]);
  const tokens = JSON.parse(listed.stdout) as { state: string; instanceId?: string; launch?: { token: string } }[];
  t.like(tokens, [{ state: 'used', instanceId: inst.id, launch: { token: 'cli-token' } }], 'the agent joined with the launch\'s own token');
  const term = await cli('terminate', inst.id);
  t.is(term.code, 0, term.stderr);
  t.deepEqual(JSON.parse((await cli('--json')).stdout), []);
  const badCount = await cli('launch', '--pool', 'local-rented', '--count', '0');
  t.is(badCount.code, 1);
  t.regex(badCount.stderr, /--count/);
  const unknownPool = await cli('launch', '--pool', 'nope', '--count', '1');
  t.is(unknownPool.code, 1);
  t.regex(unknownPool.stderr, /unknown pool 'nope'/);
  // Without --pools, the pools of the policy applied on the master are used.
  const applied = await fetch(`${m.url}/v1/policies`, { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: `${LOCAL_POOLS}budget:\n  perHour: 1\n` });
  t.is(applied.status, 201, await applied.clone().text());
  const fromPolicy = await runProcess([BIN, 'instances', '--json', '--state-dir', dir, '--master', m.url]);
  t.is(fromPolicy.code, 0, fromPolicy.stderr);
  t.deepEqual(JSON.parse(fromPolicy.stdout), []);
  const noFile = spawnSync(process.execPath, [BIN, 'instances', '--pools', join(dir, 'missing.yaml')], { encoding: 'utf8' });
  t.is(noFile.status, 1);
  t.regex(noFile.stderr, /missing\.yaml: .*cannot read/);
  t.true(readFileSync(join(dir, 'local-instances.json'), 'utf8').includes('cli-token'));
});
