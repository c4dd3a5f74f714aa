// Join tokens and agent credentials against a real master on a real Redis: a token is traded once
// for a credential bound to one agent id; reused, expired, revoked and other-pool tokens are
// refused with a clear error and logged; a credential acts only for its own agent and never on the
// scheduler or operator API; `--agent-auth required` refuses agents without one; a real agent joins
// with a token and comes back with its saved credential; `spillway token` creates, lists, revokes.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, operator, waitFor } from './helpers/cluster.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { RawAgent, captureLog } from './helpers/raw-agent.ts';
import { spillway } from './helpers/run-process.ts';
import { runMaster } from '../src/master/run-master.ts';
import type { AgentAuthMode } from '../src/auth/agent-auth.ts';

type Minted = { joinToken: string; token: { id: string; pool: string; state: string; expiresAt: string } };

async function master(t: import('ava').ExecutionContext, mode: AgentAuthMode = 'loopback') {
  const redis = await testRedis();
  const { log, lines } = await captureLog();
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const m = await runMaster({ redisUrl: redis.url, host: '127.0.0.1', port: 0, config: FAST_MASTER, log, clock, agentAuth: { mode } });
  const agents: RawAgent[] = [];
  t.teardown(async () => {
    for (const a of agents) a.close();
    await m.stop();
    await redis.stop();
  });
  const refusals = (pattern: RegExp) => lines().filter((l) => typeof l.msg === 'string' && /^agent refused: /.test(l.msg) && pattern.test(l.msg));
  return {
    m, lines, refusals,
    advance: (ms: number) => { offset += ms; },
    agent: () => { const a = new RawAgent(m.url); agents.push(a); return a; },
    mint: async (pool: string, body: object = {}): Promise<Minted> => {
      const res = await fetch(`${m.url}/v1/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pool, ...body }) });
      if (res.status !== 201) throw new Error(`mint: ${res.status} ${await res.text()}`);
      return (await res.json()) as Minted;
    },
  };
}

const bearer = (s: string) => `Bearer ${s}`;

test('a join token is traded once for a credential bound to the new agent; reuse, expiry, revocation and another pool are refused and logged', async (t) => {
  const h = await master(t);
  const minted = await h.mint('rack-a');
  t.regex(minted.joinToken, /^spwj\.[a-z0-9]+\.[A-Za-z0-9_-]{40,}$/);
  t.is(minted.token.state, 'unused');

  const first = h.agent();
  t.deepEqual(await first.subscribe({ authorization: bearer(minted.joinToken), pool: 'rack-a' }), { status: 200, body: '' });
  t.regex(first.credential, new RegExp(`^spwa\\.${first.agentId}\\.`), 'a credential bound to the new agent id');
  const view = ((await (await fetch(`${h.m.url}/v1/tokens`)).json()) as { tokens: Record<string, unknown>[] }).tokens;
  t.like(view[0], { id: minted.token.id, state: 'used', usedBy: first.agentId });
  t.false(JSON.stringify(view).includes(minted.joinToken.split('.')[2]!), 'listings never show the secret');
  t.is((await first.call({ authorization: bearer(first.credential) })).status, 202, 'its own PING with its credential');

  const reused = await h.agent().subscribe({ authorization: bearer(minted.joinToken), pool: 'rack-a' });
  t.is(reused.status, 401);
  t.regex(reused.body, new RegExp(`join token ${minted.token.id} was already used by agent ${first.agentId} at `));
  t.is(h.refusals(/already used/).length, 1, 'the refusal is logged');

  const otherPool = await h.mint('rack-a');
  const wrongPool = await h.agent().subscribe({ authorization: bearer(otherPool.joinToken), pool: 'rack-b' });
  t.is(wrongPool.status, 403);
  t.regex(wrongPool.body, /join token \S+ is for pool 'rack-a'; this agent says pool 'rack-b'/);
  t.is(h.refusals(/is for pool 'rack-a'/).length, 1);
  t.is((await h.agent().subscribe({ authorization: bearer(otherPool.joinToken), pool: 'rack-a' })).status, 200, 'a refused attempt does not spend the token');

  const expiring = await h.mint('rack-a', { ttlSeconds: 60 });
  h.advance(61_000); // the master's clock, injected
  const expired = await h.agent().subscribe({ authorization: bearer(expiring.joinToken), pool: 'rack-a' });
  t.is(expired.status, 401);
  t.regex(expired.body, new RegExp(`join token ${expiring.token.id} expired at ${expiring.token.expiresAt.replace(/\./g, '\\.')}`));
  t.is(h.refusals(/expired at/).length, 1);

  const revoking = await h.mint('rack-a');
  const del = await fetch(`${h.m.url}/v1/tokens/${revoking.token.id}`, { method: 'DELETE' });
  t.is(del.status, 200);
  const revoked = await h.agent().subscribe({ authorization: bearer(revoking.joinToken), pool: 'rack-a' });
  t.is(revoked.status, 401);
  t.regex(revoked.body, /was revoked at/);

  const forged = await h.agent().subscribe({ authorization: bearer(`spwj.${minted.token.id}.${'A'.repeat(43)}`), pool: 'rack-a' });
  t.deepEqual(forged, { status: 401, body: 'unknown join token' });
  const garbage = await h.agent().subscribe({ authorization: 'Bearer nonsense', pool: 'rack-a' });
  t.is(garbage.status, 401);
  t.regex(garbage.body, /unrecognised Authorization/);
  t.is((await fetch(`${h.m.url}/v1/tokens/t-unknown`, { method: 'DELETE' })).status, 404);
  const metrics = await (await fetch(`${h.m.url}/metrics`)).text();
  t.regex(metrics, /spillway_agent_auth_refused_total\{reason="reused-token"\} 1/);
  t.regex(metrics, /spillway_agent_auth_refused_total\{reason="expired-token"\} 1/);
});

test('an agent credential acts only for its own agent, and never on the scheduler or operator API', async (t) => {
  const h = await master(t);
  const a = h.agent();
  const b = h.agent();
  await a.subscribe({ authorization: bearer((await h.mint('p')).joinToken), pool: 'p' });
  await b.subscribe({ authorization: bearer((await h.mint('p')).joinToken), pool: 'p' });

  const asOther = await b.call({ agentId: a.agentId, authorization: bearer(b.credential) });
  t.is(asOther.status, 403);
  t.is(asOther.body, `the credential of agent ${b.agentId} cannot act for agent ${a.agentId}`);
  const update = await b.call({
    type: 'UPDATE', agentId: a.agentId, authorization: bearer(b.credential),
    extra: { update: { framework_id: { value: 'f' }, status: { task_id: { value: 't' }, state: 'TASK_FINISHED', uuid: 'dXVpZA==' } } },
  });
  t.is(update.status, 403, 'no status updates for another agent\'s tasks');
  const hijack = await h.agent().subscribe({ id: a.agentId, authorization: bearer(b.credential), pool: 'p' });
  t.is(hijack.status, 403, 'nor may it register as that agent');
  const bare = await h.agent().subscribe({ id: a.agentId, pool: 'p' });
  t.is(bare.status, 401, 'an agent that joined with a token cannot be taken over without its credential');
  t.regex(bare.body, /joined with a token: its calls must carry its credential/);
  t.is((await a.call({})).status, 401, 'nor called for without it');
  t.is(h.refusals(/cannot act for agent/).length, 3);

  const scheduler = await fetch(`${h.m.url}/api/v1/scheduler`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: bearer(a.credential) },
    body: JSON.stringify({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'x', name: 'sneaky' } } }),
  });
  t.is(scheduler.status, 403);
  t.is(await scheduler.text(), `the credential of agent ${a.agentId} is valid only on /api/v1/agent, not on /api/v1/scheduler`);
  const op = await fetch(`${h.m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: bearer(a.credential) }, body: '{"type":"GET_AGENTS"}' });
  t.is(op.status, 403);
  const tokenOnOperator = await fetch(`${h.m.url}/v1/tokens`, { headers: { Authorization: bearer((await h.mint('p')).joinToken) } });
  t.is(tokenOnOperator.status, 403, 'a join token cannot mint more tokens');
  t.true(h.lines().some((l) => /used outside the agent API/.test(String(l.msg)) && l.path === '/api/v1/scheduler'), 'logged');
  t.is((await operator(h.m.url, 'GET_FRAMEWORKS')).get_frameworks.frameworks.length, 0, 'nothing subscribed');
});

test('--agent-auth required: an agent without a token is refused; loopback mode lets a loopback agent in', async (t) => {
  const strict = await master(t, 'required');
  const refused = await strict.agent().subscribe({ pool: 'p' });
  t.is(refused.status, 401);
  t.is(refused.body, 'this master requires agents to join with a token (--agent-auth required)');
  t.is((await strict.agent().subscribe({ pool: 'p', authorization: bearer((await strict.mint('p')).joinToken) })).status, 200);
  const open = await master(t, 'loopback');
  const a = open.agent();
  t.is((await a.subscribe({ pool: 'p' })).status, 200, 'loopback development stays open');
  t.is(a.credential, '');
  t.is((await a.call({})).status, 202);
});

test.serial('a real agent joins with a token from its environment, saves its credential, and re-registers with it after a restart', async (t) => {
  const h = await master(t, 'required');
  const minted = await h.mint('p');
  const workDir = tempDir('spillway-join-agent-');
  const start = (env: Record<string, string>) => {
    const child = spawn(process.execPath, [BIN, 'agent', '--master', h.m.url, '--port', '0', '--work-dir', workDir, '--pool', 'p', '--resources', 'cpus:1;mem:256;ports:[33000-33010]'],
      { stdio: 'ignore', env: { ...process.env, SPILLWAY_LOG_LEVEL: 'warn', ...env } });
    t.teardown(() => { child.kill('SIGKILL'); });
    return child;
  };
  const stop = (c: ReturnType<typeof spawn>) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); });
  const active = async () => ((await operator(h.m.url, 'GET_AGENTS')).get_agents.agents as { active: boolean; agent_info: { id: { value: string } } }[]).filter((x) => x.active);
  const first = start({ SPILLWAY_JOIN_TOKEN: minted.joinToken });
  await waitFor(async () => (await active()).length === 1, 30_000, 'the agent to join');
  const [agent] = await active();
  await waitFor(() => existsSync(join(workDir, 'credential.json')), 30_000, 'the credential to be saved');
  const saved = JSON.parse(readFileSync(join(workDir, 'credential.json'), 'utf8')) as { agentId: string; credential: string };
  t.is(saved.agentId, agent!.agent_info.id.value);
  t.is(statSync(join(workDir, 'credential.json')).mode & 0o777, 0o600, 'the credential file is private');
  await stop(first);
  await waitFor(async () => (await active()).length === 0, 30_000, 'the agent to disconnect');
  const again = start({ SPILLWAY_JOIN_TOKEN: minted.joinToken }); // the used token is ignored: the credential is used
  await waitFor(async () => (await active()).length === 1, 30_000, 'the agent to come back');
  t.is((await active())[0]!.agent_info.id.value, saved.agentId, 'same agent id, through its credential');
  t.is(h.refusals(/./).length, 0, 'nothing was refused');
  await stop(again);
});

test.serial('spillway token create / list / revoke, with --json; bad input exits 1 and mints nothing', async (t) => {
  const h = await master(t);
  const url = h.m.url;
  const created = await spillway(['token', 'create', '--pool', 'rack-a', '--ttl', '2h', '--master', url]);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /^spwj\.\S+\n$/);
  t.regex(created.stderr, /join token t\S+ for pool rack-a, single use, valid until /);
  const json = await spillway(['token', 'create', '--pool', 'rack-b', '--json', '--master', url]);
  const j = JSON.parse(json.stdout) as Minted;
  t.is(j.token.pool, 'rack-b');
  t.is(Date.parse(j.token.expiresAt) - Date.now() <= 15 * 60_000 + 5_000, true, 'default TTL 15 min');
  const list = await spillway(['token', 'list', '--master', url]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /rack-a.*unused/);
  t.false(list.stdout.includes(created.stdout.trim().split('.')[2]!), 'no secrets in the table');
  const listed = JSON.parse((await spillway(['token', 'list', '--json', '--master', url])).stdout) as { id: string; state: string }[];
  t.is(listed.length, 2);
  const revoke = await spillway(['token', 'revoke', j.token.id, '--master', url]);
  t.is(revoke.code, 0, revoke.stderr);
  t.regex(revoke.stderr, /revoked/);
  t.is((JSON.parse((await spillway(['token', 'list', '--json', '--master', url])).stdout) as { id: string; state: string }[]).find((x) => x.id === j.token.id)?.state, 'revoked');
  for (const [args, msg] of [
    [['--pool', 'Bad_Pool'], /master answered 400: pool: a pool name/],
    [['--pool', 'ok', '--ttl', 'soon'], /--ttl: 'soon' is not a duration/],
    [['--pool', 'ok', '--ttl', '30d'], /master answered 400: ttlSeconds: at most 604800 s/],
  ] as [string[], RegExp][]) {
    const r = await spillway(['token', 'create', ...args, '--master', url]);
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, msg);
  }
  t.is((JSON.parse((await spillway(['token', 'list', '--json', '--master', url])).stdout) as unknown[]).length, 2, 'nothing was minted by the bad calls');
  const unknown = await spillway(['token', 'revoke', 'tnope', '--master', url]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /master answered 404: no join token 'tnope'/);
  const down = await spillway(['token', 'list', '--master', 'http://127.0.0.1:9']);
  t.is(down.code, 1);
  t.regex(down.stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:9/);
});

