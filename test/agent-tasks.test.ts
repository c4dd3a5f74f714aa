// The agent running real task processes against a fake master: lifecycle states, sandbox files,
// environment, kills and the memory limit.
import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readProcStat } from '../agents/executor/process-group.ts';
import type { FakeMaster } from './helpers/agent-fake-master.ts';
import { agentWithFakeMaster, commandTask, eventually, FW, groupExists, killGroup, readCheckpoint } from './helpers/agent-test-utils.ts';

const setup = agentWithFakeMaster;

const terminalOf = (m: FakeMaster, taskId: string) =>
  eventually(() => m.updatesFor(taskId).find((u) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR'].includes(u.status.state)), `terminal update of ${taskId}`);

test('echo hi: STARTING, RUNNING, FINISHED, stdout readable through /files/read', async (t) => {
  const { master, agent, workDir } = await setup(t);
  master.launch(FW, commandTask('hello', 'echo hi'));
  const fin = await terminalOf(master, 'hello');
  t.deepEqual(master.statesOf('hello'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  t.is(fin.status.message, 'Command exited with status 0');
  t.is(fin.status.source, 'SOURCE_EXECUTOR');
  t.is(fin.status.agent_id?.value, agent.agentId());
  t.is(typeof fin.status.timestamp, 'number');
  t.truthy(fin.status.uuid && Buffer.from(fin.status.uuid, 'base64').length === 16);

  const sandbox = join(workDir, 'sandboxes', FW, 'hello');
  t.is(await readFile(join(sandbox, 'stdout'), 'utf8'), 'hi\n');
  const res = await fetch(`${agent.url}/files/read?path=${encodeURIComponent(`sandboxes/${FW}/hello/stdout`)}&offset=0`);
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { data: 'hi\n', offset: 0 });
  const size = await (await fetch(`${agent.url}/files/read?path=sandboxes/${FW}/hello/stdout&offset=-1`)).json();
  t.deepEqual(size, { data: '', offset: 3 });
  const part = await (await fetch(`${agent.url}/files/read?path=sandboxes/${FW}/hello/stdout&offset=1&length=1`)).json();
  t.deepEqual(part, { data: 'i', offset: 1 });
});

test('/files/read refuses escapes and reports missing files; /health answers', async (t) => {
  const { master, agent, workDir } = await setup(t);
  t.is((await fetch(`${agent.url}/health`)).status, 200);
  t.is((await fetch(`${agent.url}/files/read?path=../etc/passwd`)).status, 403);
  t.is((await fetch(`${agent.url}/files/read?path=${encodeURIComponent('sandboxes/../../x')}`)).status, 403);
  t.is((await fetch(`${agent.url}/files/read?path=nope/stdout`)).status, 404);
  // A task can plant a symlink in its sandbox; following it out of the work dir is refused too.
  master.launch(FW, commandTask('linker', 'ln -s /etc/passwd escape'));
  await terminalOf(master, 'linker');
  await eventually(() => readFile(join(workDir, 'sandboxes', FW, 'linker', '.exit_status'), 'utf8').then(() => true, () => false), 'exit status');
  t.is((await fetch(`${agent.url}/files/read?path=sandboxes/${FW}/linker/escape`)).status, 403);
});

test('a non-zero exit is TASK_FAILED with the status in the message', async (t) => {
  const { master } = await setup(t);
  master.launch(FW, commandTask('three', 'exit 3'));
  const fin = await terminalOf(master, 'three');
  t.is(fin.status.state, 'TASK_FAILED');
  t.regex(fin.status.message ?? '', /status 3/);
  t.deepEqual(master.statesOf('three'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
});

test('a command killed by a signal reports the signal name', async (t) => {
  const { master } = await setup(t);
  master.launch(FW, commandTask('selfkill', 'kill -USR1 $$'));
  const fin = await terminalOf(master, 'selfkill');
  t.is(fin.status.state, 'TASK_FAILED');
  t.is(fin.status.message, 'Command terminated by signal SIGUSR1');
});

test('shell=false runs the executable with its arguments', async (t) => {
  const { master, workDir } = await setup(t);
  const task = commandTask('argv', '') as { command: object };
  task.command = { value: '/bin/echo', shell: false, arguments: ['echo', 'a b', 'c'] };
  master.launch(FW, task);
  t.is((await terminalOf(master, 'argv')).status.state, 'TASK_FINISHED');
  t.is(await readFile(join(workDir, 'sandboxes', FW, 'argv', 'stdout'), 'utf8'), 'a b c\n');
});

test('the command sees PORTn, MESOS_* and its own variables', async (t) => {
  const { master, agent, workDir } = await setup(t);
  const cmd = 'echo "$PORT0 $PORT1 $PORT2 $PORT $MESOS_TASK_ID $MESOS_FRAMEWORK_ID $MESOS_AGENT_ID $HOST $GREETING"; echo "$MESOS_SANDBOX"; pwd';
  master.launch(FW, commandTask('envy', cmd, { ports: [[31005, 31006], [31010, 31010]], env: { GREETING: 'hello world' } }));
  t.is((await terminalOf(master, 'envy')).status.state, 'TASK_FINISHED');
  const [vars, sandbox, cwd] = (await readFile(join(workDir, 'sandboxes', FW, 'envy', 'stdout'), 'utf8')).trim().split('\n');
  t.is(vars, `31005 31006 31010 31005 envy ${FW} ${agent.agentId()} 127.0.0.1 hello world`);
  t.is(sandbox, join(workDir, 'sandboxes', FW, 'envy'));
  t.is(cwd, sandbox);
});

test('KILL: SIGTERM ends sleep 60, TASK_KILLED, process group gone', async (t) => {
  const { master, workDir } = await setup(t);
  master.launch(FW, commandTask('sleeper', 'sleep 60'));
  await eventually(() => master.statesOf('sleeper').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(workDir, 'sleeper');
  t.teardown(() => killGroup(pgid));
  t.true(groupExists(pgid!));
  master.kill(FW, 'sleeper');
  const fin = await terminalOf(master, 'sleeper');
  t.is(fin.status.state, 'TASK_KILLED');
  t.deepEqual(master.statesOf('sleeper'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
  await eventually(() => !groupExists(pgid!), 'process group to disappear');
  await eventually(async () => (await readCheckpoint(workDir, 'sleeper')).state === 'TASK_KILLED', 'checkpoint to say TASK_KILLED');
  t.pass();
});

test('KILL: a task ignoring SIGTERM is SIGKILLed after its grace period', async (t) => {
  const { master, workDir } = await setup(t, { killGracePeriodMs: 60_000 });
  // kill_policy (1.5 s) must override the agent default (60 s), or this test would hang.
  master.launch(FW, commandTask('stubborn', "trap '' TERM; touch trap-set; sleep 60", { graceMs: 1500 }));
  await eventually(() => master.statesOf('stubborn').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid, sandbox } = await readCheckpoint(workDir, 'stubborn');
  t.teardown(() => killGroup(pgid));
  // RUNNING means the process started, not that its shell has set the trap yet (slow under load).
  await eventually(() => existsSync(join(sandbox, 'trap-set')), 'the trap to be set');
  const killedAt = Date.now();
  master.kill(FW, 'stubborn');
  await new Promise((r) => setTimeout(r, 500));
  t.true(groupExists(pgid!), 'SIGTERM alone does not end it');
  const fin = await terminalOf(master, 'stubborn');
  t.is(fin.status.state, 'TASK_KILLED');
  t.true(Date.now() - killedAt >= 1400, 'SIGKILL waited for the grace period');
  await eventually(() => !groupExists(pgid!), 'process group to disappear');
});

test('KILL with grace_period_seconds overrides kill_policy', async (t) => {
  const { master, workDir } = await setup(t);
  master.launch(FW, commandTask('stubborn2', "trap '' TERM; sleep 60", { graceMs: 600_000 }));
  await eventually(() => master.statesOf('stubborn2').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(workDir, 'stubborn2');
  t.teardown(() => killGroup(pgid));
  master.kill(FW, 'stubborn2', 0.2);
  t.is((await terminalOf(master, 'stubborn2')).status.state, 'TASK_KILLED');
  t.false(groupExists(pgid!));
});

test('memory hog over its mem resource is killed with REASON_CONTAINER_LIMITATION_MEMORY', async (t) => {
  const { master, workDir } = await setup(t);
  const hog = `'${process.execPath}' -e "const a=[];setInterval(()=>a.push(Buffer.alloc(1e7,1)),20)"`;
  master.launch(FW, commandTask('hog', hog, { mem: 64 }));
  await eventually(() => master.statesOf('hog').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(workDir, 'hog');
  t.teardown(() => killGroup(pgid));
  const fin = await terminalOf(master, 'hog');
  t.is(fin.status.state, 'TASK_FAILED');
  t.is(fin.status.reason, 'REASON_CONTAINER_LIMITATION_MEMORY');
  t.regex(fin.status.message ?? '', /^Memory limit exceeded: requested 64 MB, used \d+ MB$/);
  t.false(groupExists(pgid!));
});

test('a task within its memory limit is left alone', async (t) => {
  const { master } = await setup(t);
  master.launch(FW, commandTask('small', 'sleep 1', { mem: 64 }));
  t.is((await terminalOf(master, 'small')).status.state, 'TASK_FINISHED');
});

test('duplicate LAUNCH is ignored; KILL of unknown task is TASK_LOST; KILL of a finished task says nothing', async (t) => {
  const { master, workDir } = await setup(t);
  master.launch(FW, commandTask('dup', 'sleep 60'));
  await eventually(() => master.statesOf('dup').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(workDir, 'dup');
  t.teardown(() => killGroup(pgid));
  master.launch(FW, commandTask('dup', 'sleep 60'));

  master.kill(FW, 'ghost');
  const lost = await terminalOf(master, 'ghost');
  t.is(lost.status.state, 'TASK_LOST');
  t.is(lost.status.source, 'SOURCE_AGENT');
  t.is(lost.status.message, 'Task unknown to the agent');

  master.launch(FW, commandTask('quick', 'true'));
  await terminalOf(master, 'quick');
  master.kill(FW, 'quick');
  master.kill(FW, 'ghost2');
  await terminalOf(master, 'ghost2');
  // Journal appends keep the order of the KILLs: anything said about 'quick' would precede ghost2's.
  const journal = (await readFile(join(workDir, 'status-journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(journal.filter((l) => l.type === 'update' && l.status.task_id.value === 'quick').map((l) => l.status.state),
    ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  master.kill(FW, 'dup');
  await terminalOf(master, 'dup');
  t.deepEqual(master.statesOf('dup'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED'], 'second LAUNCH started nothing');
});

test('an invalid task is answered with TASK_ERROR', async (t) => {
  const { master } = await setup(t);
  master.launch(FW, { name: 'x', task_id: { value: 'nocmd' }, agent_id: { value: 'a' }, resources: [] });
  master.launch(FW, commandTask('..', 'true'));
  const err = await terminalOf(master, 'nocmd');
  t.is(err.status.state, 'TASK_ERROR');
  t.is(err.status.message, 'Task has no command');
  t.is((await terminalOf(master, '..')).status.state, 'TASK_ERROR');
});

const parentOf = async (pid: number): Promise<number> => Number((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')[1]);

test('the task launcher dying does not lose tasks: running ones still report their end, new ones start', async (t) => {
  const { master, workDir } = await setup(t);
  master.launch(FW, commandTask('before', 'sleep 60'));
  await eventually(() => master.statesOf('before').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(workDir, 'before');
  const launcher = await parentOf(await parentOf(pgid!)); // task ← waiting subshell ← launcher
  process.kill(launcher, 'SIGKILL');
  await eventually(() => { const p = readProcStat(launcher); return !p || p.state === 'Z'; }, 'launcher gone');

  master.launch(FW, commandTask('after', 'echo still here'));
  t.is((await terminalOf(master, 'after')).status.state, 'TASK_FINISHED');
  killGroup(pgid);
  const fin = await terminalOf(master, 'before');
  t.is(fin.status.message, 'Command terminated by signal SIGKILL');
});

test('a task gets SIGPIPE at its default: `yes | head -n1` ends quietly', async (t) => {
  const { master, workDir } = await setup(t);
  master.launch(FW, commandTask('pipe', "yes | head -n1; grep '^SigIgn' /proc/self/status > sigign"));
  const fin = await terminalOf(master, 'pipe');
  t.is(fin.status.state, 'TASK_FINISHED');
  const sandbox = join(workDir, 'sandboxes', FW, 'pipe');
  t.is(await readFile(join(sandbox, 'stdout'), 'utf8'), 'y\n');
  t.is(await readFile(join(sandbox, 'stderr'), 'utf8'), '', 'no "Broken pipe" from yes');
  const ignored = BigInt(`0x${(await readFile(join(sandbox, 'sigign'), 'utf8')).split(/\s+/)[1]}`);
  t.is(ignored & (1n << 12n), 0n, 'SIGPIPE (13) not in SigIgn');
});
