// A framework written for Mesos by someone else runs on Spillway unchanged: a scheduler built on
// the `mesos-framework` npm package (its own HTTP and RecordIO code, JSON from protobufjs classes
// that sends every unset field as null) against real master and agent processes. It subscribes,
// launches its tasks, sees them finish, acknowledges and tears down (the tasks' output is in their
// sandboxes); and it reconciles running tasks and kills them.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, operator, type Cluster } from './helpers/cluster.ts';
import { tempDir } from './helpers/redis.ts';
import { runProcess } from './helpers/run-process.ts';

const SCHEDULER = fileURLToPath(new URL('./fixtures/mesos-framework-scheduler.cjs', import.meta.url));

let c: Cluster;
test.before(async () => { c = await startCluster({ agents: 2 }); });
test.after.always(async () => { await c?.stop(); });

test.serial('a scheduler built on the mesos-framework npm package runs its tasks to TASK_FINISHED and tears down', async (t) => {
  const port = new URL(c.masterUrl).port;
  // The library logs to ./logs under its working directory.
  const cwd = tempDir('spillway-third-party-');
  const r = await runProcess([SCHEDULER, port, '4'], process.env, 90_000, cwd);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /all 4 tasks finished/);
  const ids = [...r.stdout.matchAll(/^update (\S+) TASK_FINISHED Command exited with status 0$/gm)].map((m) => m[1]);
  t.is(new Set(ids).size, 4);
  for (const id of ids) t.regex(r.stdout, new RegExp(`^update ${id.replace(/\./g, '\\.')} TASK_RUNNING$`, 'm'));

  // TEARDOWN removed it; its tasks are completed on the master and their output is in the sandboxes.
  const fws = (await operator(c.masterUrl, 'GET_FRAMEWORKS')).get_frameworks;
  t.deepEqual(fws.frameworks, []);
  t.true(fws.completed_frameworks.some((f: { framework_info: { name: string } }) => f.framework_info.name === 'third-party-finish'));
  const outputs = c.agents.flatMap((a) => {
    const root = join(a.workDir, 'sandboxes');
    return readdirSync(root).flatMap((fw) => readdirSync(join(root, fw)).map((task) => readFileSync(join(root, fw, task, 'stdout'), 'utf8')));
  });
  for (const id of ids) t.true(outputs.some((o) => new RegExp(`^hello from ${id.replace(/\./g, '\\.')} on port 3\\d{4}$`, 'm').test(o)), id);
});

test.serial('the same scheduler reconciles its running tasks (implicit RECONCILE) and KILLs them', async (t) => {
  const port = new URL(c.masterUrl).port;
  const r = await runProcess([SCHEDULER, port, '3', 'kill'], process.env, 90_000, tempDir('spillway-third-party-'));
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /all 3 tasks killed/);
  t.is([...r.stdout.matchAll(/^update \S+ TASK_RUNNING \(reconciliation\)/gm)].length, 3, 'one reconciliation answer per running task');
  t.is(new Set([...r.stdout.matchAll(/^update (\S+) TASK_KILLED/gm)].map((m) => m[1])).size, 3);
  t.deepEqual((await operator(c.masterUrl, 'GET_TASKS')).get_tasks.tasks, [], 'nothing left running');
});
