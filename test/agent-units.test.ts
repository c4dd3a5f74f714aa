// Pure pieces of the agent: exit status decoding, attributes, resource overrides, task env; and
// the ports an agent offers by default, from one in-process agent subscribing to a fake master.
import test from 'ava';
import { flatten, reservedByRole, unreservedPart } from '../src/resources/resource-set.ts';
import { agentResources, parseAttributes } from '../agents/agent-resources.ts';
import { readProcStat, systemPageSize } from '../agents/executor/process-group.ts';
import { taskEnvironment, taskMemMb, taskPorts } from '../agents/executor/task-environment.ts';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../src/common/logger.ts';
import { commandArgv, describeExit, fromShellStatus } from '../agents/executor/exit-status.ts';
import { Launcher, requestLine } from '../agents/executor/launcher.ts';
import { TaskInfoSchema } from '../src/mesos/scheduler-call.ts';
import { agentWithFakeMaster, tempWorkDir } from './helpers/agent-test-utils.ts';

test('shell statuses: 0..128 are exits, 128+N are signal deaths', (t) => {
  t.deepEqual(fromShellStatus(0), { kind: 'exited', status: 0 });
  t.deepEqual(fromShellStatus(3), { kind: 'exited', status: 3 });
  t.deepEqual(fromShellStatus(143), { kind: 'signaled', signal: 'SIGTERM' });
  t.deepEqual(fromShellStatus(-1), { kind: 'unknown' });
  t.is(describeExit(fromShellStatus(137)), 'Command terminated by signal SIGKILL');
  t.is(describeExit(fromShellStatus(3)), 'Command exited with status 3');
});

test('command argv: shell commands go through sh -c, others run value with arguments[1..]', (t) => {
  t.deepEqual(commandArgv({ value: 'echo hi' }), ['/bin/sh', '-c', 'echo hi']);
  t.deepEqual(commandArgv({ value: '/bin/echo', shell: false, arguments: ['echo', 'x'] }), ['/bin/echo', 'x']);
});

test('launcher: sandbox paths, variables and argv reach the task byte for byte, quotes, newlines and $ included', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const hostile = `it's "$HOME" \\ \`id\`\nline two; rm -rf /`;
  const sandbox = join(dir, "sand box/it's");
  await mkdir(sandbox, { recursive: true });
  t.false(requestLine(1, { sandbox, variables: { GREETING: hostile }, argv: ['true'] }).includes('\n'), 'one request is one line');
  const launcher = new Launcher({ PATH: process.env.PATH ?? '/usr/bin:/bin' }, silentLogger);
  t.teardown(() => launcher.close());
  const run = (variables: Record<string, string>, argv: string[]) => new Promise<number>((resolve, reject) => {
    launcher.launch({ sandbox, variables, argv }, { onStarted: () => {}, onExited: resolve, onFailed: (r) => reject(new Error(r)), onLauncherGone: reject });
  });
  t.is(await run({ GREETING: hostile }, ['/bin/sh', '-c', 'printf %s "$GREETING"; exit 3']), 3);
  t.is(await readFile(join(sandbox, 'stdout'), 'utf8'), hostile);
  t.is(await readFile(join(sandbox, '.exit_status'), 'utf8'), '3\n');
  // A name sh cannot assign goes through env(1) to a command that is not a shell (a shell drops it).
  t.is(await run({ 'odd.name': hostile }, ['env']), 0);
  t.true((await readFile(join(sandbox, 'stdout'), 'utf8')).includes(`odd.name=${hostile}\n`));
  t.is(await run({}, ['/bin/sh', '-c', 'printf "[%s]" "$0" "$1"', hostile, '$1']), 0);
  t.is(await readFile(join(sandbox, 'stdout'), 'utf8'), `[${hostile}][$1]`);
});

test('attributes: TEXT and SCALAR, malformed input rejected', (t) => {
  t.deepEqual(parseAttributes('rack:r1; cores:8'), [
    { name: 'rack', type: 'TEXT', text: { value: 'r1' } },
    { name: 'cores', type: 'SCALAR', scalar: { value: 8 } },
  ]);
  t.deepEqual(parseAttributes(undefined), []);
  t.throws(() => parseAttributes('novalue'));
});

test('resources: the flag replaces detected values name by name; bad flags throw', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const r = flatten(await agentResources(dir, 'mem:100;ports:[5000-5001]', '[31000-32000]'));
  t.is(r.scalars.mem, 100);
  t.true(r.scalars.cpus >= 1);
  t.true(r.scalars.disk > 0);
  t.deepEqual(r.ports, [[5000, 5001]]);
  t.deepEqual(flatten(await agentResources(dir, undefined, '[31000-31002]')).ports, [[31000, 31002]]);
  await t.throwsAsync(agentResources(dir, 'cpus:lots', '[31000-32000]'));
});

test('resources: static reservations in the flag, Mesos style; named resources are not detected', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const set = await agentResources(dir, 'cpus(analytics):8;mem(analytics):4096;cpus:4', '[31000-32000]');
  t.is(unreservedPart(set).scalars.cpus, 4);
  t.false('mem' in unreservedPart(set).scalars, 'mem was named in the flag, so none is detected unreserved');
  const reserved = reservedByRole(set).get('analytics')!;
  t.deepEqual(reserved.scalars, { cpus: 8, mem: 4096 });
  t.is(set.find((b) => b.reservation)?.reservation?.type, 'STATIC');
  await t.throwsAsync(agentResources(dir, 'cpus(bad role):1', '[31000-32000]'), { message: /role/ });
});

test('resources: a flag without ports (or no flag) keeps the default ports; a flag with ports replaces them', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const r = flatten(await agentResources(dir, 'cpus:2;mem:512;disk:100', '[31000-32000]'));
  t.deepEqual(r.ports, [[31000, 32000]]);
  t.deepEqual({ cpus: r.scalars.cpus, mem: r.scalars.mem, disk: r.scalars.disk }, { cpus: 2, mem: 512, disk: 100 });
  t.deepEqual(flatten(await agentResources(dir, undefined, '[31000-32000]')).ports, [[31000, 32000]]);
  t.deepEqual(flatten(await agentResources(dir, 'ports:[7000-7001]', '[31000-32000]')).ports, [[7000, 7001]]);
});

test('the agent offers ports 31000-32000 by default: with --resources naming no ports, and with no --resources at all', async (t) => {
  // startAgent owns the default (agents/agent.ts); what reaches the master is the SUBSCRIBE's agent_info.
  const portsOf = (resources: unknown[]) => (resources as { name: string; type?: string; ranges?: { range: { begin: number; end: number }[] } }[])
    .filter((x) => x.name === 'ports').map((x) => ({ type: x.type, range: x.ranges?.range }));
  for (const resources of ['cpus:2;mem:1024;disk:1024', undefined]) {
    const { master } = await agentWithFakeMaster(t, { resources });
    t.is(master.subscribes.length, 1, String(resources));
    t.deepEqual(portsOf(master.subscribes[0].agent_info.resources), [{ type: 'RANGES', range: [{ begin: 31000, end: 32000 }] }], String(resources));
  }
  const { master } = await agentWithFakeMaster(t, { resources: 'cpus:1;ports:[4000-4009]' });
  t.deepEqual(portsOf(master.subscribes[0].agent_info.resources), [{ type: 'RANGES', range: [{ begin: 4000, end: 4009 }] }], 'named ports replace the default');
});

test('task environment: ports in given order, task variables win, secret-looking agent variables dropped', (t) => {
  const task = TaskInfoSchema.parse({
    name: 'x', task_id: { value: 'x' }, agent_id: { value: 'a' },
    resources: [
      { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 9000, end: 9001 }, { begin: 8000, end: 8000 }] } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 32 } },
    ],
    command: { value: 'true', environment: { variables: [{ name: 'HOST', value: 'override' }] } },
  });
  t.deepEqual(taskPorts(task), [9000, 9001, 8000]);
  t.is(taskMemMb(task), 32);
  process.env.SPILLWAY_TEST_API_TOKEN = 'hush';
  t.teardown(() => { delete process.env.SPILLWAY_TEST_API_TOKEN; });
  const env = taskEnvironment({ task, frameworkId: 'f', agentId: 'a', sandbox: '/s', host: 'h' });
  t.is(env.PORT0, '9000');
  t.is(env.PORT2, '8000');
  t.is(env.PORT, '9000');
  t.is(env.HOST, 'override');
  t.is(env.MESOS_SANDBOX, '/s');
  t.false('SPILLWAY_TEST_API_TOKEN' in env);
  t.is(env.PATH, process.env.PATH ?? '');
});

test('/proc parsing finds this process and a sane page size', (t) => {
  const self = readProcStat(process.pid);
  t.truthy(self);
  t.true(self!.rssPages > 0);
  t.true(self!.startTime > 0);
  t.true(systemPageSize() >= 4096);
});
