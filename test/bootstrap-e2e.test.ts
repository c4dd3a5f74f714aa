// A fresh VM, simulated: as root, a network namespace with its own address stands in for the VM.
// The master renders the user-data (checked against cloud-init's own schema), the test writes its
// write_files and runs its runcmd inside the namespace (no systemd there), and the bootstrap script
// downloads the bundle over HTTP from the master, checks its sha256, starts the agent, which joins
// with its single-use token and runs a task. The same user-data on a second "VM" is refused (the
// token is spent); a bundle tampered with on the way is refused by the script and nothing starts.
// (Not as root, the same runs on this host over loopback, without namespaces.)
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import { BIN, operator, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { captureLog } from './helpers/raw-agent.ts';
import { isRoot, planTestNetwork, testNetwork, type Netns, type NetnsNetwork } from './helpers/netns.ts';
import { runProcess } from './helpers/run-process.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { freePort } from '../src/up/redis-process.ts';
import { agentBundle } from '../src/bootstrap/agent-bundle.ts';

interface CloudConfig { write_files: { path: string; permissions: string; content: string }[]; runcmd: string[][] }
interface Vm { address: string; prefix: string; pids: number[]; run(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }>; stop(): Promise<void> }

const cloudInit = spawnSync('cloud-init', ['--version'], { stdio: 'ignore' }).status === 0;

function exec(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile(cmd, args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
    resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })));
}

let master: RunningMaster;
let agentMasterUrl: string;
let net: NetnsNetwork | undefined;
let logs: () => Record<string, unknown>[];
const stops: (() => Promise<void>)[] = [];

test.before(async () => {
  const redis = await testRedis();
  const captured = await captureLog();
  logs = captured.lines;
  const plan = isRoot() ? await planTestNetwork() : undefined;
  const port = await freePort();
  master = await runMaster({
    redisUrl: redis.url, host: '127.0.0.1', port, ...(plan ? { listen: [{ host: plan.hostAddress }] } : {}),
    config: FAST_MASTER, log: captured.log,
  });
  stops.push(async () => { await master.stop(); await redis.stop(); });
  if (plan) {
    net = await testNetwork(plan);
    stops.unshift(() => net!.destroy({ graceMs: 0 }));
    agentMasterUrl = `http://${plan.hostAddress}:${port}`;
    await waitFor(async () => (await fetch(`${agentMasterUrl}/health`).catch(() => undefined))?.ok === true, 20_000, 'the master on the bridge address');
  } else {
    agentMasterUrl = master.url;
  }
});

test.after.always(async () => {
  for (const s of stops) await s().catch(() => {});
});

/** A fresh "VM": its own namespace and address (root), else a directory on this host. */
async function freshVm(name: string): Promise<Vm> {
  const prefix = join(tempDir(`spillway-vm-${name}-`), 'opt-spillway');
  if (net) {
    const ns: Netns = await net.addNamespace({ tag: name });
    return { address: ns.address, prefix, pids: [], run: ([c, ...a]) => ns.exec(c!, a, 120_000), stop: () => ns.delete({ graceMs: 2000 }) };
  }
  const vm: Vm = {
    address: '127.0.0.1', prefix, pids: [],
    run: ([c, ...a]) => exec(c!, a),
    stop: async () => { for (const p of vm.pids) try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } },
  };
  return vm;
}

async function userData(body: object): Promise<{ text: string; token: { id: string } }> {
  const res = await fetch(`${master.url}/v1/agent/user-data`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`user-data: ${res.status} ${await res.text()}`);
  const r = (await res.json()) as { userData: string; token: { id: string } };
  return { text: r.userData, token: r.token };
}

/** What cloud-init does with our user-data, minus systemd: write_files, then each runcmd entry. */
async function boot(vm: Vm, text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const cfg = parse(text) as CloudConfig;
  for (const f of cfg.write_files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content);
    chmodSync(f.path, parseInt(f.permissions, 8));
  }
  let last = { code: 0, stdout: '', stderr: '' };
  for (const cmd of cfg.runcmd) {
    last = await vm.run(['env', 'SPILLWAY_BOOTSTRAP_SYSTEMD=no', ...cmd]);
    const started = /agent started in the background \(pid (\d+)/.exec(last.stderr);
    if (started) vm.pids.push(Number(started[1]));
    if (last.code !== 0) return last;
  }
  return last;
}

const activeAgents = async () => ((await operator(master.url, 'GET_AGENTS')).get_agents.agents as {
  active: boolean; agent_info: { hostname: string; attributes: { name: string; text?: { value: string } }[] };
}[]).filter((a) => a.active);

test.serial('a fresh VM turns itself into an agent from its user-data alone and runs a task', async (t) => {
  const vm = await freshVm('vm1');
  stops.unshift(() => vm.stop());
  const ud = await userData({ pool: 'burst', masterUrl: agentMasterUrl, prefix: vm.prefix, attributes: { tier: 'spot' } });
  t.true(ud.text.startsWith('#cloud-config\n'));
  t.true(Buffer.byteLength(ud.text) <= 16_384, 'within the 16 KB user-data limit');
  if (cloudInit) {
    const file = join(tempDir(), 'user-data.yaml');
    writeFileSync(file, ud.text);
    const schema = await exec('cloud-init', ['schema', '--config-file', file]);
    t.is(schema.code, 0, `cloud-init schema: ${schema.stdout}${schema.stderr}`);
  } else {
    t.log('cloud-init is not installed here (.ci/run installs it): schema not checked');
  }
  const booted = await boot(vm, ud.text);
  t.is(booted.code, 0, booted.stderr);
  t.regex(booted.stderr, /agent bundle [0-9a-f]{64} installed/);
  t.regex(booted.stderr, /no systemd: agent started in the background/);
  t.is(readFileSync(join(vm.prefix, 'spillway-agent.tar.gz')).length, (await agentBundle()).tarball.length);

  await waitFor(async () => (await activeAgents()).some((a) => a.agent_info.hostname === vm.address), 60_000, 'the VM\'s agent to join');
  const agent = (await activeAgents()).find((a) => a.agent_info.hostname === vm.address)!;
  t.like(Object.fromEntries(agent.agent_info.attributes.map((a) => [a.name, a.text?.value])), { pool: 'burst', tier: 'spot' });
  t.true(logs().some((l) => l.msg === 'agent joined with a join token' && l.tokenId === ud.token.id), 'joined with its token');
  await waitFor(() => existsSync(join(vm.prefix, 'work', 'credential.json')), 30_000, 'the VM to keep the credential it was given');

  const r = await runProcess([BIN, 'run', '--master', master.url, '--', 'echo from-the-vm; hostname -I 2>/dev/null || ip -4 -o addr']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /from-the-vm/);
  if (net) t.true(r.stdout.includes(vm.address), `the task ran on the VM (${r.stdout.trim()})`);

  // The same user-data on a second VM: the bootstrap works, the spent token does not.
  const copy = await freshVm('vm2');
  stops.unshift(() => copy.stop());
  const second = await boot(copy, ud.text.replaceAll(vm.prefix, copy.prefix));
  t.is(second.code, 0, second.stderr);
  await waitFor(() => existsSync(join(copy.prefix, 'agent.log')) && /already used by agent/.test(readFileSync(join(copy.prefix, 'agent.log'), 'utf8')), 60_000, 'the copy to be refused');
  t.regex(readFileSync(join(copy.prefix, 'agent.log'), 'utf8'), /"status":401,"reason":"join token \S+ was already used by agent [^"]+","msg":"SUBSCRIBE refused"/);
  t.true(logs().some((l) => /^agent refused: join token .* was already used/.test(String(l.msg))), 'the master logged the refusal');
  t.is((await activeAgents()).length, 1, 'still one agent');
});

test.serial('a bundle tampered with on the way is refused by the bootstrap script: nothing is installed or started', async (t) => {
  // A man in the middle on the master's address flips one byte of the bundle.
  const target = new URL(agentMasterUrl);
  const proxy = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: new URL(master.url).port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.url === '/v1/agent/bundle' && body.length > 100) body[100] = body[100]! ^ 0xff;
        res.writeHead(r.statusCode ?? 502, r.headers);
        res.end(body);
      });
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => proxy.listen(0, target.hostname, () => resolve()));
  t.teardown(() => { proxy.closeAllConnections(); proxy.close(); });
  const vm = await freshVm('vm3');
  t.teardown(() => vm.stop());
  const ud = await userData({ pool: 'burst', masterUrl: `http://${target.hostname}:${(proxy.address() as AddressInfo).port}`, prefix: vm.prefix });
  const booted = await boot(vm, ud.text);
  t.is(booted.code, 1);
  t.regex(booted.stderr, new RegExp(`agent bundle sha256 mismatch: expected ${(await agentBundle()).sha256}, got [0-9a-f]{64}; refusing to install it`));
  t.false(existsSync(join(vm.prefix, 'agent')), 'nothing unpacked');
  t.false(existsSync(join(vm.prefix, 'agent.log')), 'no agent started');
  const tokens = ((await (await fetch(`${master.url}/v1/tokens`)).json()) as { tokens: { id: string; state: string }[] }).tokens;
  t.is(tokens.find((x) => x.id === ud.token.id)?.state, 'unused', 'its token was never presented');
});
