// What the master serves for bootstrapping: the agent bundle (a tarball whose sha256 is published
// and reproducible, and which runs on its own), and user-data for a pool — valid against
// cloud-init's schema in both formats, under 16 KB, carrying one fresh join token and no other
// secret; bad requests are refused with the field named and mint nothing.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { tempDir } from './helpers/redis.ts';
import { spillway } from './helpers/run-process.ts';
import { renderUserData, USER_DATA_LIMIT_BYTES } from '../src/bootstrap/user-data.ts';

const cloudInit = spawnSync('cloud-init', ['--version'], { stdio: 'ignore' }).status === 0;

let m: InProcessMaster;
test.before(async () => { m = await inProcessMaster(); });
test.after.always(async () => { await m?.shutdown(); });

const post = (path: string, body: unknown) => fetch(`${m.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
const tokenCount = async () => ((await (await fetch(`${m.url}/v1/tokens`)).json()) as { tokens: unknown[] }).tokens.length;

/**
 * A command run without blocking this process: the master lives here, and a blocked event loop
 * lets its keep-alive sockets time out under the test's feet.
 */
function sh(cmd: string, args: string[], o: { input?: string; cwd?: string } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    // A command that exits without reading its input (e.g. one that fails at once) closes the
    // pipe: that EPIPE is not the test's business, the exit status is.
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}

async function schemaCheck(t: import('ava').ExecutionContext, cloudConfig: string): Promise<void> {
  if (!cloudInit) {
    t.log('cloud-init is not installed here (.ci/run installs it): schema not checked');
    return;
  }
  const file = join(tempDir(), 'user-data');
  writeFileSync(file, cloudConfig);
  const r = await sh('cloud-init', ['schema', '--config-file', file]);
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  t.regex(r.stdout, /Valid cloud-config/);
}

test.serial('GET /v1/agent/bundle: a reproducible tarball with its sha256, holding one file that runs the agent', async (t) => {
  const res = await fetch(`${m.url}/v1/agent/bundle`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'application/gzip');
  const body = Buffer.from(await res.arrayBuffer());
  const sha = createHash('sha256').update(body).digest('hex');
  t.is(res.headers.get('x-spillway-bundle-sha256'), sha);
  t.is(await (await fetch(`${m.url}/v1/agent/bundle.sha256`)).text(), `${sha}  spillway-agent.tar.gz\n`);
  t.deepEqual(Buffer.from(await (await fetch(`${m.url}/v1/agent/bundle`)).arrayBuffer()), body, 'the same bytes every time');
  t.true(body.length < 1024 * 1024, `small (${body.length} bytes)`);
  const dir = tempDir('spillway-bundle-');
  writeFileSync(join(dir, 'b.tgz'), body);
  t.is((await sh('tar', ['-xzf', 'b.tgz'], { cwd: dir })).status, 0);
  t.deepEqual((await sh('tar', ['-tzf', 'b.tgz'], { cwd: dir })).stdout.trim().split('\n').sort(), ['spillway-agent/VERSION', 'spillway-agent/spillway-agent.mjs']);
  // It runs with nothing but Node: not from the checkout, no node_modules around.
  const version = await sh(process.execPath, [join(dir, 'spillway-agent/spillway-agent.mjs'), '--version'], { cwd: dir });
  t.is(version.status, 0, version.stderr);
  t.is(version.stdout.trim(), (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  const help = await sh(process.execPath, [join(dir, 'spillway-agent/spillway-agent.mjs'), 'agent', '--help'], { cwd: dir });
  t.regex(help.stdout, /--join-token-file/);
});

test.serial('user-data for a pool: #cloud-config valid for cloud-init, at most 16 KB, one fresh single-use token and no other secret', async (t) => {
  const before = await tokenCount();
  const res = await post('/v1/agent/user-data', { pool: 'burst', masterUrl: 'http://10.0.0.5:5050', attributes: { tier: 'spot' } });
  t.is(res.status, 200, await res.clone().text());
  const r = (await res.json()) as { userData: string; joinToken: string; token: { id: string; pool: string; state: string } };
  t.like(r.token, { pool: 'burst', state: 'unused' });
  t.is(await tokenCount(), before + 1);
  t.true(Buffer.byteLength(r.userData) <= USER_DATA_LIMIT_BYTES);
  await schemaCheck(t, r.userData);
  const cfg = parse(r.userData) as { write_files: { path: string; permissions: string; content: string }[]; runcmd: string[][] };
  const config = JSON.parse(cfg.write_files.find((f) => f.path === '/opt/spillway/etc/agent.json')!.content) as Record<string, unknown>;
  t.like(config, { masterUrl: 'http://10.0.0.5:5050', pool: 'burst', attributes: { tier: 'spot', pool: 'burst' }, joinToken: r.joinToken, hostname: 'auto' });
  t.is(cfg.write_files.find((f) => f.path === '/opt/spillway/etc/agent.json')!.permissions, '0600', 'the token file is readable by root only');
  const script = cfg.write_files.find((f) => f.path === '/opt/spillway/bootstrap.sh')!.content;
  const bundleSha = (await (await fetch(`${m.url}/v1/agent/bundle.sha256`)).text()).split(' ')[0];
  t.true(script.includes(`SPILLWAY_BUNDLE_SHA256='${bundleSha}'`), 'the script checks the bundle against this sha256');
  t.true(script.includes("SPILLWAY_BUNDLE_URL='http://10.0.0.5:5050/v1/agent/bundle'"));
  t.deepEqual(cfg.runcmd, [['sh', '/opt/spillway/bootstrap.sh']]);
  t.is((await sh('sh', ['-n'], { input: script })).status, 0, 'the script is valid sh');
  // The only secret in it is that join token.
  const withoutToken = r.userData.replaceAll(r.joinToken, '');
  t.false(/spwj\.|spwa\.|PRIVATE KEY|redis:\/\//.test(withoutToken));

  const mime = (await (await post('/v1/agent/user-data', { pool: 'burst', format: 'mime' })).json()) as { userData: string };
  t.regex(mime.userData, /^Content-Type: multipart\/mixed; boundary="([^"]+)"\nMIME-Version: 1\.0\n/);
  // cloud-init reads the parts with Python's email parser; so does this check.
  const parts = await sh('python3', ['-c', 'import email,sys,json; m=email.message_from_string(sys.stdin.read()); print(json.dumps([[p.get_content_type(), p.get_payload()] for p in m.walk() if not p.is_multipart()]))'], { input: mime.userData });
  const [[type, payload]] = JSON.parse(parts.stdout) as [string, string][];
  t.is(type, 'text/cloud-config');
  await schemaCheck(t, payload!);
  t.regex(payload!, new RegExp(`SPILLWAY_BUNDLE_URL='${m.url.replace(/[.]/g, '\\.')}/v1/agent/bundle'`), 'without masterUrl: the URL the request came in on');
});

test.serial('bad user-data requests are refused with the field named and mint no token', async (t) => {
  const before = await tokenCount();
  for (const [body, status, msg] of [
    [{}, 400, /^pool: /],
    [{ pool: 'Bad Pool' }, 400, /^pool: a pool name/],
    [{ pool: 'p', format: 'yaml' }, 400, /^format: /],
    [{ pool: 'p', ttlSeconds: 0 }, 400, /^ttlSeconds: /],
    [{ pool: 'p', prefix: 'relative/dir' }, 400, /prefix: 'relative\/dir' must be an absolute path/],
    [{ pool: 'p', masterUrl: 'https://10.0.0.5:5050' }, 400, /the master serves https but no CA is known to pin/],
    [{ pool: 'p', extra: 1 }, 400, /Unrecognized key/],
  ] as [object, number, RegExp][]) {
    const res = await post('/v1/agent/user-data', body);
    t.is(res.status, status, JSON.stringify(body));
    t.regex(await res.text(), msg);
  }
  t.is(await tokenCount(), before, 'nothing minted');
  t.throws(() => renderUserData({ masterUrl: 'http://x', bundleSha256: 'a'.repeat(64), pool: 'p', joinToken: 'spwj.a.b', attributes: { big: 'x'.repeat(20_000) } }), { message: /above the 16384-byte limit/ });
});

test.serial('spillway agent user-data prints the user-data (or --json) and exits 1 on a bad pool', async (t) => {
  const r = await spillway(['agent', 'user-data', '--pool', 'burst', '--ttl', '30m', '--agent-master', 'http://10.0.0.9:5050', '--prefix', '/srv/spillway', '--master', m.url]);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.startsWith('#cloud-config\n'));
  t.true(r.stdout.includes('/srv/spillway/bootstrap.sh'));
  t.regex(r.stderr, /join token \S+ for pool burst, single use, valid until \S+ \(\d+ bytes of user-data\)/);
  const views = ((await (await fetch(`${m.url}/v1/tokens`)).json()) as { tokens: { id: string; createdAt: string; expiresAt: string }[] }).tokens;
  const last = views[views.length - 1]!;
  t.is(Date.parse(last.expiresAt) - Date.parse(last.createdAt), 30 * 60_000, '--ttl 30m');
  await schemaCheck(t, r.stdout);
  const json = await spillway(['agent', 'user-data', '--pool', 'burst', '--json', '--master', m.url]);
  t.is(json.code, 0, json.stderr);
  t.like(JSON.parse(json.stdout), { token: { pool: 'burst', state: 'unused' } });
  const bad = await spillway(['agent', 'user-data', '--pool', 'NOPE!', '--master', m.url]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /master answered 400: pool: a pool name/);
  const fmt = await spillway(['agent', 'user-data', '--pool', 'burst', '--format', 'xml', '--master', m.url]);
  t.is(fmt.code, 1);
  t.regex(fmt.stderr, /--format: 'xml' is not cloud-config or mime/);
});
