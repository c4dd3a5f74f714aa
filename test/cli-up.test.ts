// `spillway up` (the README's main command) and the listing commands, as a person runs them.
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import net, { connect } from 'node:net';
import { join } from 'node:path';
import { BIN, operator, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { runProcess } from './helpers/run-process.ts';
import { freePort, startRedis } from '../src/up/redis-process.ts';

interface Up { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

function startUp(args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Up {
  const child = spawn(process.execPath, [BIN, 'up', ...args], { env, cwd });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The cells of a cli-table3 table, header row first. */
function tableRows(text: string): string[][] {
  return text.split('\n').filter((l) => l.startsWith('│')).map((l) => l.split('│').slice(1, -1).map((c) => c.trim()));
}

/** The environment of `spillway up` and the clients here: no REDIS_URL, no $SPILLWAY_MASTER. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.REDIS_URL;
  delete env.SPILLWAY_MASTER;
  return env;
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const scalarOf = (resources: Any[], name: string): number | undefined => resources.find((r) => r.name === name)?.scalar?.value;

/**
 * Processes whose command line or working directory mentions `needle` (our children are found by
 * their data dir; redis-server rewrites its command line to `redis-server host:port`, but it works
 * in its --dir).
 */
function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      let cwd = '';
      try { cwd = readlinkSync(`/proc/${pid}/cwd`); } catch { /* not ours to read, or gone */ }
      if (cmd.includes(needle) || cwd.includes(needle)) out.push(`${pid}: ${cmd}${cwd.includes(needle) ? ` [cwd ${cwd}]` : ''}`);
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
    t.true(processesMentioning(dataDir).some((p) => p.includes('redis-server')), 'redis-server is found by its working directory');
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

/** `spillway up --agents 1` on a free port with a temp data dir (removed after the test). */
async function upWithOneAgent(t: ExecutionContext, prefix: string): Promise<{ up: Up; master: string; dataDir: string }> {
  const dataDir = tempDir(prefix);
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const up = startUp(['--agents', '1', '--port', String(port), '--data-dir', dataDir], cleanEnv());
  return { up, master: `http://127.0.0.1:${port}`, dataDir };
}

test.serial('SIGTERM (a service manager stopping it) stops spillway up as cleanly as Ctrl-C: exit 0, no task, agent or Redis left', async (t) => {
  const { up, master, dataDir } = await upWithOneAgent(t, 'spillway-up-term-');
  try {
    await waitFor(() => up.stdout().includes('Spillway is up'), 60_000, 'spillway up');
    const run = spawn(process.execPath, [BIN, 'run', '--master', master, '--', `sleep 300 # ${dataDir}`], { stdio: 'ignore', env: cleanEnv() });
    t.teardown(() => { run.kill('SIGKILL'); });
    await waitFor(() => processesMentioning(`sleep 300 # ${dataDir}`).length > 0, 30_000, 'the task to run');
    t.true(processesMentioning(dataDir).some((p) => p.includes('redis-server')), 'redis-server runs under the data dir');
  } catch (e) {
    up.child.kill('SIGINT');
    await up.exited;
    throw e;
  }
  up.child.kill('SIGTERM');
  t.is(await up.exited, 0);
  t.regex(up.stderr(), /stopped/);
  const left = () => processesMentioning(dataDir).filter((p) => !p.includes(' run --master '));
  await waitFor(() => left().length === 0, 15_000, 'no orphan process');
  t.deepEqual(left(), [], 'the task, the agent and redis-server are gone');
});

test.serial('spillway up without --data-dir keeps Redis (AOF) and agent work dirs in .spillway/ under its working directory; an agent port another program holds is replaced by a free one', async (t) => {
  const cwd = realpathSync(tempDir('spillway-up-cwd-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const dataDir = join(cwd, '.spillway');
  const port = await freePort();
  // Someone else listens where the first agent would (the port after the master's).
  const squatter = net.createServer();
  await new Promise<void>((r, j) => { squatter.once('error', j); squatter.listen(port + 1, '127.0.0.1', () => r()); });
  t.teardown(() => { squatter.close(); });
  const up = startUp(['--agents', '1', '--port', String(port)], cleanEnv(), cwd);
  try {
    await waitFor(() => up.stdout().includes('Spillway is up'), 60_000, 'spillway up');
    t.true(up.stderr().includes(`data in ${join(dataDir, 'redis')}`), up.stderr());
    const redisDir = join(dataDir, 'redis');
    const aof = existsSync(join(redisDir, 'appendonlydir')) ? readdirSync(join(redisDir, 'appendonlydir')) : readdirSync(redisDir);
    t.true(aof.some((f) => f.includes('appendonly')), `AOF files in ${redisDir}: ${aof.join(', ')}`);
    t.true(existsSync(join(dataDir, 'agents', 'agent-0')), 'the agent work dir is under .spillway/agents');
    const ours = processesMentioning(dataDir);
    t.true(ours.some((p) => p.includes('redis-server')) && ours.some((p) => p.includes(' agent ')), ours.join('\n'));
    t.false(ours.some((p) => p.includes(`--port ${port + 1} `)), 'the agent listens elsewhere');
  } finally {
    up.child.kill('SIGINT');
  }
  t.is(await up.exited, 0);
  await waitFor(() => processesMentioning(dataDir).length === 0, 10_000, 'no orphan process');
  t.deepEqual(processesMentioning(dataDir), []);
  t.deepEqual(readdirSync(cwd), ['.spillway'], 'nothing else is written to the working directory');
});

test.serial('spillway frameworks and tasks tables show a running task; run passes --cpus and --mem on; $SPILLWAY_MASTER stands in for --master', async (t) => {
  const { up, master, dataDir } = await upWithOneAgent(t, 'spillway-up-tables-');
  let run: ChildProcess | undefined;
  try {
    await waitFor(() => up.stdout().includes('Spillway is up'), 60_000, 'spillway up');
    // Not the defaults (0.1 cpus, 32 MB): the values must come from the flags.
    run = spawn(process.execPath, [BIN, 'run', '--master', master, '--name', 'tables-run', '--cpus', '0.3', '--mem', '48', '--', `sleep 300 # ${dataDir}`], { stdio: 'ignore', env: cleanEnv() });
    await waitFor(async () => (await operator(master, 'GET_TASKS')).get_tasks.tasks.some((x: Any) => x.state === 'TASK_RUNNING'), 30_000, 'the task to run');

    const listed = cli(['tasks', '--json', '--master', master]);
    t.is(listed.code, 0, listed.stderr);
    const tasks = JSON.parse(listed.stdout) as Any[];
    t.is(tasks.length, 1);
    const task = tasks[0];
    t.is(task.state, 'TASK_RUNNING');
    t.is(scalarOf(task.resources, 'cpus'), 0.3, '--cpus reached the task');
    t.is(scalarOf(task.resources, 'mem'), 48, '--mem reached the task');
    const taskId: string = task.task_id.value;
    const frameworkId: string = task.framework_id.value;
    const agentId: string = task.agent_id.value;

    const taskTable = tableRows(cli(['tasks', '--master', master]).stdout);
    t.deepEqual(taskTable[0], ['task', 'framework', 'agent', 'state', 'resources', 'message']);
    t.is(taskTable.length, 2, 'one row: the running task');
    t.deepEqual(taskTable[1].slice(0, 5), [taskId, frameworkId, agentId, 'TASK_RUNNING', 'cpus 0.3 · mem 48 MB']);

    // Offers of what is left may be held for a moment after the launch: wait until only the task's resources are allocated.
    await waitFor(async () => {
      const f = ((await operator(master, 'GET_FRAMEWORKS')).get_frameworks.frameworks as Any[]).find((x) => x.framework_info.id.value === frameworkId);
      return f !== undefined && scalarOf(f.allocated_resources, 'cpus') === 0.3;
    }, 20_000, 'the framework to hold the task only');
    const fwTable = tableRows(cli(['frameworks', '--master', master]).stdout);
    t.deepEqual(fwTable[0], ['id', 'name', 'role', 'connected', 'allocated', 'registered']);
    t.is(fwTable.length, 2, 'one row: the run framework');
    t.deepEqual(fwTable[1].slice(0, 5), [frameworkId, 'tables-run', '*', 'yes', 'cpus 0.3 · mem 48 MB']);
    t.regex(fwTable[1][5], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    // No --master: the client commands use $SPILLWAY_MASTER.
    const env = { ...cleanEnv(), SPILLWAY_MASTER: master };
    const status = cli(['status', '--json'], env);
    t.is(status.code, 0, status.stderr);
    t.like(JSON.parse(status.stdout), { master, healthy: true, agents: 1, frameworks: 1, running_tasks: 1 });
    const agents = cli(['agents', '--json'], env);
    t.is(agents.code, 0, agents.stderr);
    t.deepEqual((JSON.parse(agents.stdout) as Any[]).map((a) => a.agent_info.id.value), [agentId]);
    const frameworks = cli(['frameworks', '--json'], env);
    t.is(frameworks.code, 0, frameworks.stderr);
    t.deepEqual((JSON.parse(frameworks.stdout) as Any[]).map((f) => f.framework_info.id.value), [frameworkId]);
    const viaEnv = cli(['tasks', '--json'], env);
    t.is(viaEnv.code, 0, viaEnv.stderr);
    t.deepEqual((JSON.parse(viaEnv.stdout) as Any[]).map((x) => x.task_id.value), [taskId]);
  } finally {
    run?.kill('SIGKILL');
    up.child.kill('SIGINT');
  }
  t.is(await up.exited, 0);
  const left = () => processesMentioning(dataDir).filter((p) => !p.includes(' run --master '));
  await waitFor(() => left().length === 0, 15_000, 'no orphan process');
  t.deepEqual(left(), []);
});

test('client commands default to $SPILLWAY_MASTER, else http://127.0.0.1:5050: in --help and in the unreachable-master error', async (t) => {
  const commands = ['status', 'agents', 'frameworks', 'tasks'];
  const defaultShown = /--master <url>[\s\S]*\(default: "([^"]+)"\)/;
  for (const cmd of commands) {
    t.is(defaultShown.exec(cli([cmd, '--help'], cleanEnv()).stdout)?.[1], 'http://127.0.0.1:5050', cmd);
    t.is(defaultShown.exec(cli([cmd, '--help'], { ...cleanEnv(), SPILLWAY_MASTER: 'http://127.0.0.1:1' }).stdout)?.[1], 'http://127.0.0.1:1', cmd);
  }
  // Port 1 is refused at once (fetch does not even try it): no retries to wait for.
  const viaEnv = await runProcess([BIN, 'agents'], { ...cleanEnv(), SPILLWAY_MASTER: 'http://127.0.0.1:1' });
  t.is(viaEnv.code, 1);
  t.regex(viaEnv.stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:1\b/);
  if (await listening(5050)) {
    t.log('something listens on 127.0.0.1:5050: the unreachable-default check is left out');
    return;
  }
  const results = await Promise.all(commands.map((cmd) => runProcess([BIN, cmd], cleanEnv())));
  results.forEach((r, i) => {
    t.is(r.code, 1, commands[i]);
    t.regex(r.stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:5050\b/, commands[i]);
  });
});
