// `spillway scaling decisions`, `spillway policy plan` and the /v1/decisions and /v1/plan routes,
// against a master (in this process) with the autoscaler on; the decision log on a real Redis.
import test from 'ava';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { runMaster } from '../src/master/run-master.ts';
import { createLogger } from '../src/common/logger.ts';
import { DecisionLog } from '../src/autoscaler/decision-log.ts';
import { freePort } from '../src/up/redis-process.ts';
import { SchedulerClient, taskResources } from '../src/sdk/scheduler-client.ts';
import { BIN, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { testPolicy } from './helpers/autoscale.ts';

/** Runs the CLI without blocking this process (the master under test lives in it). */
const cli = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
  const child = spawn(process.execPath, [BIN, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.on('exit', (code) => resolve({ code, stdout, stderr }));
});

test.serial('decisions and the dry run, through REST and the CLI; bad parameters are refused', async (t) => {
  const redis = await testRedis();
  t.teardown(() => redis.stop());
  const port = await freePort();
  // The rented pool never launches here (max 0): the dry run and the log still say why.
  const m = await runMaster({ redisUrl: redis.url, host: '127.0.0.1', port, autoscaler: { intervalSeconds: 1, stateDir: tempDir() }, log: createLogger('master', 'warn') });
  t.teardown(() => m.stop());
  const url = m.url;
  const apply = await fetch(`${url}/v1/policies`, { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: testPolicy({ owned: 0, rentedMax: 0 }) });
  t.is(apply.status, 201);
  const client = new SchedulerClient({ master: url, framework: { user: 't', name: 'f', roles: ['*'], capabilities: [{ type: 'MULTI_ROLE' }] } });
  t.teardown(() => client.close());
  await client.subscribe();
  await client.request([{ resources: taskResources(1, 64), count: 3 }]);

  const plan = (await (await fetch(`${url}/v1/plan`)).json()) as { dryRun: boolean; summary: string; notes: string[]; actions: unknown[] };
  t.true(plan.dryRun);
  t.deepEqual(plan.actions, []);
  t.true(plan.notes.some((n) => /can never be placed|unmet/.test(n)), plan.notes.join('\n'));

  await waitFor(async () => ((await (await fetch(`${url}/v1/decisions?limit=1000`)).json()) as { decisions: { inputs?: { demandUnits?: number } }[] })
    .decisions.some((d) => d.inputs?.demandUnits === 3), 20_000, 'an evaluation that saw the demand');
  const all = (await (await fetch(`${url}/v1/decisions?limit=1000`)).json()) as { decisions: { id: string }[]; next: string };
  t.is(all.next, all.decisions.at(-1)!.id);
  const after = (await (await fetch(`${url}/v1/decisions?since=${all.decisions[0].id}`)).json()) as { decisions: { id: string }[] };
  t.false(after.decisions.some((d) => d.id === all.decisions[0].id), 'since is exclusive');

  for (const [q, re] of [['limit=0', /limit: '0' must be a whole number from 1 to 1000/], ['since=yesterday', /since: 'yesterday' is not a decision id/]] as const) {
    const r = await fetch(`${url}/v1/decisions?${q}`);
    t.is(r.status, 400);
    t.regex(await r.text(), re);
  }

  const text = await cli(['scaling', 'decisions', '--master', url, '--limit', '5']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /evaluation/);
  const json = await cli(['scaling', 'decisions', '--master', url, '--json', '--limit', '3']);
  t.is(json.code, 0, json.stderr);
  const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
  t.is(lines.length, 3);
  const dry = await cli(['policy', 'plan', '--master', url]);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /^dry run at /);
  t.regex(dry.stdout, /nothing would change/);
  t.is(JSON.parse((await cli(['policy', 'plan', '--master', url, '--json'])).stdout).dryRun, true);
  const bad = await cli(['scaling', 'decisions', '--master', url, '--limit', 'many']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--limit: 'many' must be a whole number/);
});

test.serial('the decision log is a capped stream read oldest first, after an id', async (t) => {
  const redis = await testRedis();
  t.teardown(() => redis.stop());
  const r = new Redis(redis.url);
  t.teardown(() => r.quit());
  const log = new DecisionLog(r, 'c1');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await log.append({ kind: 'evaluation', at: i, summary: `s${i}`, actions: [], notes: [] }));
  t.deepEqual((await log.read({ limit: 2 })).map((d) => d.summary), ['s3', 's4'], 'newest, oldest first');
  t.deepEqual((await log.read({ since: ids[1], limit: 10 })).map((d) => d.summary), ['s2', 's3', 's4']);
  t.is(log.key, '{spillway:c1}:autoscaler:decisions');
});

test.serial('scaling decisions --since prints every decision after it, past one page', async (t) => {
  const redis = await testRedis();
  t.teardown(() => redis.stop());
  const port = await freePort();
  const m = await runMaster({ redisUrl: redis.url, host: '127.0.0.1', port, autoscaler: { intervalSeconds: 3600, stateDir: tempDir() }, log: createLogger('master', 'warn') });
  t.teardown(() => m.stop());
  const r = new Redis(redis.url);
  t.teardown(() => r.quit());
  const log = new DecisionLog(r, 'default');
  const ids: string[] = [];
  for (let i = 0; i < 1205; i++) ids.push(await log.append({ kind: 'evaluation', at: i, summary: `old-${i}`, actions: [], notes: [] }));
  const out = await cli(['scaling', 'decisions', '--master', m.url, '--json', '--since', ids[0]]);
  t.is(out.code, 0, out.stderr);
  const summaries = out.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { summary: string }).summary).filter((s) => s.startsWith('old-'));
  t.is(summaries.length, 1204, 'all after the first, not one page of 20 (or 1000)');
  t.is(summaries.at(-1), 'old-1204');
});
