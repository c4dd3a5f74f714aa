// The master over HTTPS (a throwaway CA made with openssl): agents trust only the pinned CA —
// a real agent with --ca-file/--ca-pin joins with its token, one pinned to another CA refuses to
// talk, a swapped CA file is refused at start; user-data from a TLS master carries the CA and its
// pin, and its bootstrap script downloads the bundle over HTTPS against that CA and starts an
// agent that joins. Bad TLS flags stop `spillway master` with the file named.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { BIN, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { issueServerCert, makeCa, type TestCa } from './helpers/test-pki.ts';
import { runProcess, spillway } from './helpers/run-process.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { loadTls, pemPin } from '../src/http/tls.ts';
import type { RedisProcess } from '../src/up/redis-process.ts';
import { silentLogger } from '../src/common/logger.ts';

let ca: TestCa;
let otherCa: TestCa;
let master: RunningMaster;
let redis: RedisProcess;
let server: { certFile: string; keyFile: string };
const children: ReturnType<typeof spawn>[] = [];
const pids: number[] = [];

test.before(async () => {
  ca = makeCa();
  otherCa = makeCa('Someone Else CA');
  server = issueServerCert(ca, 'master', { ips: ['127.0.0.1'] });
  redis = await testRedis();
  master = await runMaster({
    redisUrl: redis.url, host: '127.0.0.1', port: 0, config: FAST_MASTER, log: silentLogger,
    tls: loadTls({ certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile }), agentAuth: { mode: 'required' },
  });
});

test.after.always(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  await master?.stop();
  await redis?.stop();
});

function get(path: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(`${master.url}${path}`, { ca: caPem }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function postJson(path: string, body: object): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${master.url}${path}`, { method: 'POST', ca: ca.pem, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const mint = async (pool: string): Promise<string> => (JSON.parse((await postJson('/v1/tokens', { pool })).body) as { joinToken: string }).joinToken;

const activeAgents = async () => {
  const r = await new Promise<string>((resolve, reject) => {
    const req = https.request(`${master.url}/api/v1`, { method: 'POST', ca: ca.pem, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end('{"type":"GET_AGENTS"}');
  });
  return (JSON.parse(r) as { get_agents: { agents: { active: boolean; agent_info: { attributes: { name: string; text?: { value: string } }[] } }[] } }).get_agents.agents.filter((a) => a.active);
};

function startAgent(args: string[], env: Record<string, string> = {}): { out: () => string; exited: Promise<number | null> } {
  let out = '';
  const child = spawn(process.execPath, [BIN, 'agent', '--master', master.url, '--port', '0', '--work-dir', tempDir('spillway-tls-agent-'), '--resources', 'cpus:1;mem:128;ports:[34000-34010]', ...args],
    { env: { ...process.env, SPILLWAY_LOG_LEVEL: 'info', ...env } });
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  children.push(child);
  return { out: () => out, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

test.serial('the master serves HTTPS with its certificate; clients that trust its CA get in, plain HTTP does not', async (t) => {
  t.true(master.url.startsWith('https://127.0.0.1:'));
  t.deepEqual(await get('/health', ca.pem), { status: 200, body: 'OK' });
  await t.throwsAsync(get('/health', otherCa.pem), { message: /self.signed|unable to verify|certificate/i });
  const plain = await fetch(master.url.replace('https:', 'http:') + '/health').then((r) => r.status, (e: Error) => e.message);
  t.not(plain, 200);
});

test.serial('an agent pinned to the master\'s CA joins over HTTPS; one pinned to another CA cannot talk to it; a swapped CA file is refused', async (t) => {
  const good = startAgent(['--pool', 'tls', '--ca-file', ca.certFile, '--ca-pin', pemPin(ca.pem)], { SPILLWAY_JOIN_TOKEN: await mint('tls') });
  await waitFor(async () => (await activeAgents()).length === 1, 60_000, 'the pinned agent to join');

  const wrong = startAgent(['--pool', 'tls', '--ca-file', otherCa.certFile], { SPILLWAY_JOIN_TOKEN: await mint('tls') });
  await waitFor(() => /cannot verify the master's TLS certificate/.test(wrong.out()), 60_000, 'the wrongly pinned agent to give its reason');
  t.is((await activeAgents()).length, 1, 'it never registered');

  const swapped = startAgent(['--pool', 'tls', '--ca-file', otherCa.certFile, '--ca-pin', pemPin(ca.pem)]);
  t.is(await swapped.exited, 1);
  t.regex(swapped.out(), new RegExp(`--ca-pin: ${otherCa.certFile.replace(/[.]/g, '\\.')} is sha256:[0-9a-f]{64}, not the pinned ${pemPin(ca.pem)}; refusing to trust it`));
  t.regex(good.out(), /subscribed to master/);
});

test.serial('user-data from a TLS master pins its CA; the bootstrap downloads the bundle over HTTPS and the agent joins', async (t) => {
  const prefix = join(tempDir('spillway-tls-vm-'), 'opt');
  const res = await postJson('/v1/agent/user-data', { pool: 'tls-vm', prefix });
  t.is(res.status, 200, res.body);
  const { userData } = JSON.parse(res.body) as { userData: string };
  const cfg = parse(userData) as { write_files: { path: string; permissions: string; content: string }[]; runcmd: string[][] };
  t.is(cfg.write_files.find((f) => f.path === `${prefix}/etc/ca.pem`)?.content.trim(), ca.pem.trim(), 'the CA travels in the user-data');
  t.like(JSON.parse(cfg.write_files.find((f) => f.path === `${prefix}/etc/agent.json`)!.content), { caFile: `${prefix}/etc/ca.pem`, caPin: pemPin(ca.pem), masterUrl: master.url });
  for (const f of cfg.write_files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content);
    chmodSync(f.path, parseInt(f.permissions, 8));
  }
  const before = (await activeAgents()).length;
  const booted = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('env', ['SPILLWAY_BOOTSTRAP_SYSTEMD=no', ...cfg.runcmd[0]!], { encoding: 'utf8', timeout: 120_000 }, (err, _out, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }));
  });
  t.is(booted.code, 0, booted.stderr);
  const pid = /\(pid (\d+)/.exec(booted.stderr)?.[1];
  if (pid) pids.push(Number(pid));
  await waitFor(async () => (await activeAgents()).length === before + 1, 60_000, 'the bootstrapped agent to join over HTTPS');
  t.true((await activeAgents()).some((a) => a.agent_info.attributes.some((x) => x.name === 'pool' && x.text?.value === 'tls-vm')));
});

test('spillway master refuses bad TLS flags with the file named', async (t) => {
  const args = (...extra: string[]) => ['master', '--redis', 'redis://127.0.0.1:1', '--port', '0', ...extra];
  const onlyCert = await spillway(args('--tls-cert', server.certFile));
  t.is(onlyCert.code, 1);
  t.regex(onlyCert.stderr, /--tls-cert needs --tls-key/);
  const wrongKey = await spillway(args('--tls-cert', server.certFile, '--tls-key', join(otherCa.dir, 'ca.key')));
  t.is(wrongKey.code, 1);
  t.regex(wrongKey.stderr, /--tls-key: .*ca\.key does not belong to the certificate in .*master\.pem/);
  const missing = await spillway(args('--tls-cert', '/nonexistent.pem', '--tls-key', server.keyFile));
  t.is(missing.code, 1);
  t.regex(missing.stderr, /--tls-cert: cannot read \/nonexistent\.pem/);
  const wrongCa = await spillway(args('--tls-cert', server.certFile, '--tls-key', server.keyFile, '--tls-ca', otherCa.certFile));
  t.is(wrongCa.code, 1);
  t.regex(wrongCa.stderr, /--tls-ca: .* did not issue the certificate/);
  const mode = await runProcess([BIN, ...args('--agent-auth', 'sometimes')]);
  t.is(mode.code, 1);
  t.regex(mode.stderr, /--agent-auth: 'sometimes' is not one of required, loopback, optional/);
});
