// The local provider's network-namespace mode with real parts: as root, each launched agent runs in
// its own namespace with its own address, registers with a real master (listening on the bridge
// address as well as loopback), runs a task there, survives being cut off and healed, and is gone —
// namespace included — after terminate. Not as root, the mode refuses with a clear error.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BIN, operator, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { isRoot, planTestNetwork, testNetwork } from './helpers/netns.ts';
import { runProcess } from './helpers/run-process.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { silentLogger } from '../src/common/logger.ts';
import { systemClock } from '../src/common/clock.ts';
import { runMaster } from '../src/master/run-master.ts';
import { freePort } from '../src/up/redis-process.ts';
import { ConfigFileError, PoolsFileSchema, parseConfig } from '../providers/pool-config.ts';
import { ProviderSet } from '../providers/registry.ts';
import { InvalidConfigError } from '../providers/errors.ts';
import { cleanupLeftovers, NetnsNetwork, parseSubnet } from '../providers/local/netns.ts';
import { inProcessBootstrapPort, launchBootstrapped } from '../src/bootstrap/bootstrap-launch.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const poolsYaml = (network: string, subnet: string) => `pools:
  - name: ns-pool
    provider: local
    ownership: rented
    max: 4
    instanceTypes:
      - { name: small, cpus: 1, mem: 256 }
    local: { netns: true, network: ${network}, subnet: "${subnet}" }
`;

type AgentView = { agent_info: { id: { value: string }; hostname: string; attributes: { name: string; text?: { value: string } }[] }; active: boolean };
const activeAgents = async (url: string): Promise<AgentView[]> =>
  ((await operator(url, 'GET_AGENTS')).get_agents.agents as AgentView[]).filter((a) => a.active);
const attr = (a: AgentView, name: string) => a.agent_info.attributes.find((x) => x.name === name)?.text?.value;

test.serial('netns mode: each agent gets its own namespace and address, registers, runs a task, is cut off and healed, and terminate removes it', async (t) => {
  if (!isRoot()) {
    // Without root the mode refuses before anything starts.
    const dir = tempDir('spillway-netns-');
    const set = new ProviderSet(parseConfig(PoolsFileSchema, poolsYaml('stx', '10.244.250.0/24'), 'p.yaml').pools,
      { cluster: 'test', masterUrl: 'http://127.0.0.1:9', log: silentLogger, clock: systemClock }, { stateDir: dir });
    await t.throwsAsync(set.forPool('ns-pool').launch('ns-pool', 1, { token: 't', instanceType: 'small' }), { instanceOf: InvalidConfigError, message: /pool ns-pool: local\.netns: network namespaces need root/ });
    return;
  }
  // The master listens on the bridge address before the bridge exists (as `spillway master
  // --listen` would on a fresh host); it binds as soon as the network appears.
  const plan = await planTestNetwork();
  const redis = await testRedis();
  const port = await freePort();
  const master = await runMaster({ redisUrl: redis.url, host: '127.0.0.1', port, listen: [{ host: plan.hostAddress }], config: FAST_MASTER, log: silentLogger });
  t.deepEqual(master.http.urls, [`http://127.0.0.1:${port}`, `http://${plan.hostAddress}:${port}`]);
  const net = await testNetwork(plan);
  const dir = tempDir('spillway-netns-');
  const { pools } = parseConfig(PoolsFileSchema, poolsYaml(plan.name, plan.subnet), 'pools.yaml');
  const p = new ProviderSet(pools, { cluster: 'test', masterUrl: master.url, log: silentLogger, clock: systemClock }, { stateDir: dir }).forPool('ns-pool');
  t.teardown(async () => {
    await p.terminate((await p.list('ns-pool')).map((i) => i.id)).catch(() => {});
    await net.destroy({ graceMs: 0 });
    await master.stop();
    await redis.stop();
  });

  // Agents off loopback must join with a token: the bootstrapped launch path gives each its own.
  const launched = await launchBootstrapped(p, pools[0]!, 2, { token: 'ns-1', instanceType: 'small' }, inProcessBootstrapPort(master.http.bootstrap, master.http.agentAuth.tokens));
  const subnet = parseSubnet(plan.subnet);
  const addresses = launched.map((i) => i.privateAddress!).sort();
  t.is(new Set(addresses).size, 2, 'two different addresses');
  for (const a of addresses) t.true(a.startsWith(plan.subnet.split('.').slice(0, 3).join('.') + '.') && a !== plan.hostAddress, `${a} is in ${subnet.cidr}`);
  t.deepEqual((await net.namespaces()).map((ns) => ns.tag).sort(), launched.map((i) => i.id).sort(), 'one namespace per instance, tagged with its id');

  await waitFor(async () => (await activeAgents(master.url)).length === 2, 60_000, '2 agents from their namespaces');
  const agents = await activeAgents(master.url);
  t.deepEqual(agents.map((a) => a.agent_info.hostname).sort(), addresses, 'each agent registered with its own address');
  for (const a of agents) t.is(launched.find((i) => i.id === attr(a, 'instance'))?.privateAddress, a.agent_info.hostname);
  t.deepEqual((await p.list('ns-pool')).map((i) => i.privateAddress).sort(), addresses, 'list shows the private addresses');

  // A task runs inside a namespace: it sees that namespace's eth0 address, and its output comes
  // back through the agent's files API on that address.
  const r = await runProcess([BIN, 'run', '--master', master.url, '--', 'ip -4 -o addr show dev eth0']);
  t.is(r.code, 0, r.stderr);
  const seen = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1];
  t.true(seen !== undefined && addresses.includes(seen), `the task ran in a namespace (${r.stdout.trim()})`);

  const tokens = ((await (await fetch(`${master.url}/v1/tokens`)).json()) as { tokens: { state: string; instanceId?: string }[] }).tokens;
  t.deepEqual(tokens.map((x) => [x.state, x.instanceId]).sort(), launched.map((i) => ['used', i.id]).sort(), 'each agent joined with its own token, bound to its instance');

  // Cut one agent off: the master loses it; heal the link: it comes back under the same id.
  const victim = (await net.namespaces())[0]!;
  const victimAgent = agents.find((a) => a.agent_info.hostname === victim.address)!;
  await victim.linkDown();
  await waitFor(async () => !(await activeAgents(master.url)).some((a) => a.agent_info.hostname === victim.address), 60_000, 'the cut-off agent to be lost');
  await victim.linkUp();
  await waitFor(async () => (await activeAgents(master.url)).some((a) => a.agent_info.id.value === victimAgent.agent_info.id.value), 60_000, 'the healed agent to come back');

  await p.terminate(launched.map((i) => i.id));
  t.deepEqual(await net.namespaces(), [], 'terminate removed the namespaces');
  t.deepEqual(await p.list('ns-pool'), []);
  await waitFor(async () => (await activeAgents(master.url)).length === 0, 60_000, 'the agents to go');
  await p.terminate(launched.map((i) => i.id)); // idempotent
});

test('netns mode needs root: as another user it fails with a clear error', (t) => {
  if (!isRoot()) {
    t.pass('this process is not root: the netns test above checked the error');
    return;
  }
  const script = "import { checkNetnsSupport } from './providers/local/netns.ts'; try { checkNetnsSupport(); console.log('ok'); } catch (e) { console.log(e.message); process.exit(3); }";
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { cwd: ROOT, uid: 65534, gid: 65534, encoding: 'utf8', env: { ...process.env, HOME: '/tmp' } });
  t.is(r.status, 3, r.stderr);
  t.regex(r.stdout, /network namespaces need root: this process runs as uid 65534/);
});

test('netns pool settings are validated with line numbers: subnet, network name, one subnet per network', (t) => {
  const bad = `pools:
  - name: a
    provider: local
    ownership: rented
    max: 1
    instanceTypes: [{ name: s, cpus: 1, mem: 128 }]
    local: { netns: true, subnet: 8.8.8.0/24 }
  - name: b
    provider: local
    ownership: rented
    max: 1
    instanceTypes: [{ name: s, cpus: 1, mem: 128 }]
    local: { netns: true, subnet: 10.244.1.7/24, network: Bad_Name }
`;
  const err = t.throws(() => parseConfig(PoolsFileSchema, bad, 'pools.yaml'), { instanceOf: ConfigFileError })!;
  t.regex(err.message, /pools\.yaml:7: pools\.0\.local\.subnet: subnet '8\.8\.8\.0\/24' is not in a private range/);
  t.regex(err.message, /pools\.yaml:13: pools\.1\.local\.subnet: subnet '10\.244\.1\.7\/24': host bits are set \(did you mean 10\.244\.1\.0\/24\?\)/);
  t.regex(err.message, /pools\.yaml:13: pools\.1\.local\.network: 1–6 lowercase/);
  const clash = bad.replace('8.8.8.0/24', '10.244.1.0/24').replace('10.244.1.7/24, network: Bad_Name', '10.244.2.0/24');
  const err2 = t.throws(() => parseConfig(PoolsFileSchema, clash, 'pools.yaml'), { instanceOf: ConfigFileError })!;
  t.regex(err2.message, /pools\.1\.local\.subnet: network 'spw' is already given subnet 10\.244\.1\.0\/24 by another pool/);
  const ok = parseConfig(PoolsFileSchema, clash.replace('10.244.2.0/24', '10.244.1.0/24'), 'pools.yaml');
  t.deepEqual(ok.pools.map((p) => p.local), [
    { netns: true, subnet: '10.244.1.0/24', network: 'spw' },
    { netns: true, subnet: '10.244.1.0/24', network: 'spw' },
  ]);
  t.throws(() => parseSubnet('10.244.0.0/8'), { message: /from \/16 to \/29/ });
});

test('spillway master --listen: a bad address is refused with the flag named', async (t) => {
  const r = await runProcess([BIN, 'master', '--redis', 'redis://127.0.0.1:1', '--listen', '10.244.0.1:99999']);
  t.is(r.code, 1);
  t.regex(r.stderr, /--listen: '10\.244\.0\.1:99999': port 99999 is above 65535/);
});

test.serial('cleanupLeftovers removes networks whose owner died, and only those', async (t) => {
  if (!isRoot()) {
    t.pass('needs root (covered by the error test above)');
    return;
  }
  const mine = await testNetwork();
  t.teardown(() => mine.destroy({ graceMs: 0 }));
  await mine.addNamespace({ tag: 'mine' });
  const plan = await planTestNetwork();
  // A network "left behind": made by a process that exited right after.
  const script = `import { NetnsNetwork } from './providers/local/netns.ts'; const n = await NetnsNetwork.ensure({ name: '${plan.name}', subnet: '${plan.subnet}' }); await n.addNamespace({ tag: 'left' });`;
  const made = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  t.is(made.status, 0, made.stderr);
  const removed = await cleanupLeftovers('st');
  t.true(removed.includes(`${plan.name}-br`), `removed: ${removed.join(', ')}`);
  t.deepEqual(await NetnsNetwork.existing(plan.name, plan.subnet).namespaces(), []);
  t.deepEqual((await mine.namespaces()).map((n) => n.tag), ['mine'], 'a live owner\'s network stays');
});
