// The TypeScript SDK's batch example and `spillway run` against real master and agent processes.
import test from 'ava';
import { runProcess, spillway, type ProcessResult } from './helpers/run-process.ts';
import { taskCounts } from '../src/cli/commands/cluster.ts';
import { fileURLToPath } from 'node:url';
import { BIN, startCluster, operator, type Cluster } from './helpers/cluster.ts';
import { SchedulerClient } from '../src/sdk/scheduler-client.ts';

const EXAMPLE = fileURLToPath(new URL('../examples/batch.ts', import.meta.url));

const run = (args: string[], env: Record<string, string> = {}): Promise<ProcessResult> => runProcess(args, { ...process.env, ...env });

let c: Cluster;
test.before(async () => { c = await startCluster({ agents: 2 }); });
test.after.always(async () => { await c?.stop(); });

test.serial('examples/batch.ts runs its tasks to completion and exits 0', async (t) => {
  const r = await run(['--import=tsx', EXAMPLE, '6'], { SPILLWAY_MASTER: c.masterUrl });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /6 of 6 tasks finished/);
  t.regex(r.stdout, /square-5: TASK_FINISHED/);
  const fws = (await operator(c.masterUrl, 'GET_FRAMEWORKS')).get_frameworks.frameworks;
  t.is(fws.length, 0, 'the example tore itself down');
});

test.serial('spillway run streams every task\'s output and exits 0 when all finish', async (t) => {
  const r = await run([BIN, 'run', '--master', c.masterUrl, '--count', '3', '--', 'echo out-$MESOS_TASK_ID; echo err-line >&2']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').sort();
  t.is(lines.length, 3, 'each line exactly once');
  for (const l of lines) t.regex(l, /^\[\d\] out-spillway-run-/);
  t.is(r.stderr.split('\n').filter((l) => l.endsWith('err-line')).length, 3);
  t.regex(r.stderr, /3\/3 task\(s\) finished/);
});

test.serial('spillway run exits non-zero and says why when a task fails', async (t) => {
  const r = await run([BIN, 'run', '--master', c.masterUrl, '--', 'exit 7']);
  t.is(r.code, 1);
  t.regex(r.stderr, /TASK_FAILED: Command exited with status 7/);
});

test.serial('spillway run rejects bad flags before touching the cluster', async (t) => {
  const r = await run([BIN, 'run', '--master', c.masterUrl, '--count', '0', '--', 'true']);
  t.is(r.code, 1);
  t.regex(r.stderr, /--count must be a whole number/);
});

test.serial('spillway run prints a task\'s whole output, however long, before it exits', async (t) => {
  const r = await run([BIN, 'run', '--master', c.masterUrl, '--', 'seq 1 400000']); // ~2.6 MB: more than one read
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines.length, 400000);
  t.is(lines.at(-1), '400000');
});

test.serial('spillway run gives up on a master it cannot reach, saying so', async (t) => {
  const r = await run([BIN, 'run', '--master', 'http://127.0.0.1:9', '--connect-timeout', '2', '--', 'true']);
  t.is(r.code, 1);
  t.regex(r.stderr, /no master at http:\/\/127\.0\.0\.1:9 took the SUBSCRIBE within 2 s \(.+\); is the master running\?/);
});

test.serial('spillway status counts running tasks by state while they run, and as completed after', async (t) => {
  const job = run([BIN, 'run', '--master', c.masterUrl, '--count', '2', '--', 'sleep 8']);
  const status = async (): Promise<Record<string, any>> => JSON.parse((await spillway(['status', '--json', '--master', c.masterUrl])).stdout); // eslint-disable-line @typescript-eslint/no-explicit-any
  let seen = await status();
  const before = seen.completed_tasks as number;
  for (let i = 0; i < 100 && seen.running_tasks < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await status();
  }
  t.is(seen.running_tasks, 2);
  t.is(seen.active_tasks, 2);
  t.deepEqual(seen.tasks_by_state, { TASK_RUNNING: 2 });
  const table = await spillway(['status', '--master', c.masterUrl]);
  t.regex(table.stdout, /tasks_by_state\s*│\s*TASK_RUNNING 2\s*│/);
  t.is((await job).code, 0);
  const after = await status();
  t.is(after.running_tasks, 0);
  t.deepEqual(after.tasks_by_state, {});
  t.is(after.completed_tasks, before + 2);
});

test.serial('SDK: a scheduler replaced by a failover stops, as Mesos\' driver aborts, and a removed framework\'s SUBSCRIBE is refused', async (t) => {
  const framework = { user: 'test', name: 'sdk-failover', failover_timeout: 60 };
  const first = new SchedulerClient({ master: c.masterUrl, framework, maxBackoffMs: 200 });
  const firstEvents: string[] = [];
  first.on('error', (m) => firstEvents.push(`error: ${m}`));
  first.on('retrying', () => firstEvents.push('retrying'));
  first.on('subscribed', () => firstEvents.push('subscribed'));
  first.on('disconnected', (e) => firstEvents.push(`disconnected: ${e?.message}`));
  await first.subscribe();
  const id = first.frameworkId!;
  const second = new SchedulerClient({ master: c.masterUrl, framework: { ...framework, id: { value: id } } });
  second.on('error', () => { /* asserted through first */ });
  await second.subscribe();
  await new Promise((r) => setTimeout(r, 1500)); // several of first's retry backoffs, had it retried
  t.deepEqual(firstEvents, ['subscribed', 'error: Framework failed over', 'disconnected: Framework failed over'], 'the replaced scheduler did not take the framework back');
  await second.revive(); // still the subscribed one
  await second.teardown();

  const late = new SchedulerClient({ master: c.masterUrl, framework: { ...framework, id: { value: id } } });
  const errors: string[] = [];
  late.on('error', (m) => errors.push(m));
  await t.throwsAsync(late.subscribe(), { message: 'SUBSCRIBE refused: Framework has been removed' });
  t.deepEqual(errors, ['Framework has been removed']);
  const unheard = new SchedulerClient({ master: c.masterUrl, framework: { ...framework, id: { value: id } } }); // no 'error' listener
  await t.throwsAsync(unheard.subscribe(), { message: 'SUBSCRIBE refused: Framework has been removed' });
});

test('status summary: staging, starting and killing tasks are active but not running', (t) => {
  const tasks = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_RUNNING'].map((state) => ({ state }));
  t.deepEqual(taskCounts({ tasks, unreachable_tasks: [{ state: 'TASK_UNREACHABLE' }], completed_tasks: [] }), {
    running_tasks: 2, active_tasks: 5, unreachable_tasks: 1, completed_tasks: 0,
    tasks_by_state: { TASK_KILLING: 1, TASK_RUNNING: 2, TASK_STAGING: 1, TASK_STARTING: 1 },
  });
});
