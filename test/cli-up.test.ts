// `spillway up` (the README's main command) and the listing commands, as a person runs them.
import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { freePort, startRedis } from '../src/up/redis-process.ts';

interface Up { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

function startUp(args: string[], env: NodeJS.ProcessEnv = process.env): Up {
  const child = spawn(process.execPath, [BIN, 'up', ...args], { env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Processes whose command line mentions `needle` (our children are found by their data dir). */
function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd}`);
    } catch { /* gone */ }
  }
  return out;
}

test.serial('spillway up starts Redis, a master and agents, shows progress, and Ctrl-C stops everything', async (t) => {
  const dataDir = tempDir('spillway-up-');
  const port = await freePort();
  const env = { ...process.env };
  delete env.REDIS_URL;
  const up = startUp(['--agents', '2', '--port', String(port), '--data-dir', dataDir], env);
  try {
    await waitFor(() => up.stdout().includes('Spillway is up'), 60_000, 'spillway up');
    const master = `http://127.0.0.1:${port}`;
    t.regex(up.stderr(), /starting redis-server .* done/);
    t.regex(up.stderr(), /starting 2 local agent\(s\) … done/);
    t.regex(up.stdout(), new RegExp(`spillway run --master ${master}`));

    const agents = cli(['agents', '--json', '--master', master]);
    t.is(agents.code, 0, agents.stderr);
    t.is(JSON.parse(agents.stdout).length, 2);
    const table = cli(['agents', '--master', master]);
    t.regex(table.stdout, /hostname/);
    t.regex(table.stdout, /127\.0\.0\.1/);
    const status = JSON.parse(cli(['status', '--json', '--master', master]).stdout);
    t.is(status.healthy, true);
    t.is(status.agents, 2);
    // The default autoscaling policy: the 2 agents as local-owned, up to 4 local-rented.
    const policy = cli(['policy', 'show', '--json', '--master', master]);
    t.is(policy.code, 0, policy.stderr);
    const pools = JSON.parse(policy.stdout).policy.pools as { name: string; ownership: string; max: number }[];
    t.deepEqual(pools.map((p) => [p.name, p.ownership, p.max]), [['local-owned', 'owned', 2], ['local-rented', 'rented', 4]]);
    t.regex(up.stderr(), /applying the default autoscaling policy \(local-owned: 2 agent\(s\), local-rented: up to 4\) … done/);
    t.deepEqual(JSON.parse(cli(['frameworks', '--json', '--master', master]).stdout), []);
    t.deepEqual(JSON.parse(cli(['tasks', '--json', '--master', master]).stdout), []);
    t.true(existsSync(join(dataDir, 'redis', 'appendonlydir')) || readdirSync(join(dataDir, 'redis')).some((f) => f.includes('appendonly')), 'AOF is on');
    t.true(processesMentioning(dataDir).length >= 3, 'redis and agents run under the data dir');
  } finally {
    up.child.kill('SIGINT');
  }
  t.is(await up.exited, 0);
  t.regex(up.stderr(), /stopped/);
  await waitFor(() => processesMentioning(dataDir).length === 0, 10_000, 'no orphan process');
  t.deepEqual(processesMentioning(dataDir), []);
});

test.serial('spillway up uses REDIS_URL when it is set', async (t) => {
  const redis = await testRedis();
  const dataDir = tempDir('spillway-up-');
  const port = await freePort();
  const up = startUp(['--agents', '0', '--port', String(port), '--data-dir', dataDir], { ...process.env, REDIS_URL: redis.url });
  try {
    await waitFor(() => up.stdout().includes('Spillway is up'), 30_000, 'spillway up');
    t.regex(up.stderr(), /using Redis at redis:\/\/127\.0\.0\.1/);
    t.false(existsSync(join(dataDir, 'redis')), 'no private redis-server was started');
  } finally {
    up.child.kill('SIGTERM');
    await up.exited;
    await redis.stop();
  }
});

test.serial('without redis-server or REDIS_URL, spillway up exits non-zero and says how to fix it', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/nonexistent' };
  delete env.REDIS_URL;
  const up = startUp(['--agents', '0', '--data-dir', tempDir()], env);
  t.not(await up.exited, 0);
  t.regex(up.stderr(), /install redis-server/);
  t.regex(up.stderr(), /REDIS_URL/);
});

test('client commands say clearly when the master cannot be reached', (t) => {
  const r = cli(['agents', '--master', 'http://127.0.0.1:1']);
  t.is(r.code, 1);
  t.regex(r.stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:1/);
});

test('every command has useful --help', (t) => {
  for (const cmd of ['up', 'master', 'agent', 'status', 'agents', 'frameworks', 'tasks', 'run']) {
    const r = cli([cmd, '--help']);
    t.is(r.code, 0, cmd);
    t.regex(r.stdout, /Usage: spillway/, cmd);
  }
  t.regex(cli(['agents', '--help']).stdout, /--json/);
});

test.serial('a closed terminal (SIGHUP) stops spillway up as cleanly as Ctrl-C: no task, agent or Redis left', async (t) => {
  const dataDir = tempDir('spillway-up-hup-');
  const port = await freePort();
  const env = { ...process.env };
  delete env.REDIS_URL;
  // Its own process group, as a terminal's job is: the hangup reaches up and its agents together.
  const child = spawn(process.execPath, [BIN, 'up', '--agents', '1', '--port', String(port), '--data-dir', dataDir], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const master = `http://127.0.0.1:${port}`;
  try {
    await waitFor(() => out.includes('Spillway is up'), 60_000, 'spillway up');
    const run = spawn(process.execPath, [BIN, 'run', '--master', master, '--', `sleep 300 # ${dataDir}`], { stdio: 'ignore' });
    t.teardown(() => { run.kill('SIGKILL'); });
    await waitFor(() => processesMentioning(`sleep 300 # ${dataDir}`).length > 0, 30_000, 'the task to run');
    process.kill(-child.pid!, 'SIGHUP');
  } catch (e) {
    process.kill(-child.pid!, 'SIGKILL');
    throw e;
  }
  t.is(await exited, 0);
  // The `spillway run` client (whose command line holds the marker too) is the test's, not up's.
  const left = () => processesMentioning(dataDir).filter((p) => !p.includes(' run --master '));
  await waitFor(() => left().length === 0, 15_000, 'no orphan process');
  t.deepEqual(left(), [], 'the task, the agent and redis-server are gone');
});

test.serial('a redis-server left by a killed spillway up is stopped before the next one starts on its data dir', async (t) => {
  const dataDir = tempDir('spillway-up-left-');
  const first = await startRedis({ dataDir });
  const leftover = first.child.pid!;
  const second = await startRedis({ dataDir }); // as the next `spillway up` would
  t.teardown(() => second.stop());
  await waitFor(() => first.child.exitCode !== null || first.child.signalCode !== null, 10_000, 'the leftover to stop');
  t.not(second.child.pid, leftover);
  t.true(existsSync(join(dataDir, 'redis.pid')));
  t.is(Number(readFileSync(join(dataDir, 'redis.pid'), 'utf8')), second.child.pid!, 'the pid file names the running one');
});
