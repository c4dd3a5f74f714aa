// Several master replicas on one Redis, in this process: the standby answers every API call with
// Mesos' 307 + `Location: //<leader host:port><path>`, answers /health and /metrics itself, names
// the leader on /v1/leader and /master/redirect, and takes over (with leader-only work) when the
// leader stops.
import test from 'ava';
import { silentLogger } from '../src/common/logger.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import type { Master } from '../src/master/master.ts';
import type { RedisProcess } from '../src/up/redis-process.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { rawPost } from './helpers/raw-framework.ts';
import { tempDir, testRedis } from './helpers/redis.ts';
import { waitFor } from './helpers/cluster.ts';

let redis: RedisProcess;
test.before(async () => { redis = await testRedis(); });
test.after.always(async () => { await redis?.stop(); });

let clusterSeq = 0;
async function replicas(n: number, withAutoscaler = false): Promise<RunningMaster[]> {
  const cluster = `replicas${clusterSeq++}`;
  const out: RunningMaster[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await runMaster({
      redisUrl: redis.url, host: '127.0.0.1', port: 0, leaderLeaseMs: 60_000, config: { ...FAST_MASTER, cluster }, log: silentLogger,
      autoscaler: withAutoscaler ? { stateDir: tempDir('spillway-providers-') } : false,
    }));
  }
  return out;
}

const hostOf = (m: RunningMaster) => new URL(m.url).host;

async function raw(url: string, method: 'GET' | 'POST', body?: object) {
  const res = await fetch(url, {
    method, redirect: 'manual',
    ...(body ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}),
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

test('a standby redirects every API call to the leader with 307 and Location: //<leader><path>', async (t) => {
  const [leader, standby] = await replicas(2);
  t.teardown(async () => { await standby.stop(); await leader.stop(); });
  t.true(leader.isLeader());
  t.false(standby.isLeader());
  const calls: [string, 'GET' | 'POST', object?][] = [
    ['/api/v1/scheduler', 'POST', { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'n' } } }],
    ['/api/v1', 'POST', { type: 'GET_STATE' }],
    ['/api/v1/agent', 'POST', { type: 'PING' }],
    ['/master/state', 'GET'],
    ['/state', 'GET'],
    ['/v1/policies/current', 'GET'],
    ['/v1/demand?framework=x', 'GET'],
  ];
  for (const [path, method, body] of calls) {
    const r = await raw(`${standby.url}${path}`, method, body);
    t.is(r.status, 307, path);
    t.is(r.location, `//${hostOf(leader)}${path}`, path);
    t.is(r.text, '', path);
  }
  // A Mesos client follows it: same method and body, answered by the leader.
  const followed = await fetch(`${standby.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'GET_HEALTH' }) });
  t.is(followed.status, 200);
  t.deepEqual(await followed.json(), { type: 'GET_HEALTH', get_health: { healthy: true } });
});

test('/health and /metrics are answered by every replica for itself; /v1/leader and /master/redirect name the leader', async (t) => {
  const [leader, standby] = await replicas(2);
  t.teardown(async () => { await standby.stop(); await leader.stop(); });
  for (const m of [leader, standby]) {
    const h = await raw(`${m.url}/health`, 'GET');
    t.is(h.status, 200);
    t.is(h.text, 'OK');
  }
  const lm = await raw(`${leader.url}/metrics`, 'GET');
  const sm = await raw(`${standby.url}/metrics`, 'GET');
  t.regex(lm.text, /^spillway_leader 1$/m);
  t.regex(lm.text, /spillway_tasks_launched_total/, 'the leader adds its master metrics');
  t.regex(sm.text, /^spillway_leader 0$/m);
  t.notRegex(sm.text, /spillway_tasks_launched_total/);
  for (const m of [leader, standby]) {
    const info = JSON.parse((await raw(`${m.url}/v1/leader`, 'GET')).text);
    t.is(info.leader.address, hostOf(leader));
    t.is(info.leader.url, leader.url);
    t.is(info.leader.epoch, leader.replica.election.epoch);
    t.is(info.self.state, m === leader ? 'leader' : 'standby');
    const r = await raw(`${m.url}/master/redirect`, 'GET');
    t.is(r.status, 307, "Mesos' /master/redirect: the leader too redirects to itself");
    t.is(r.location, `//${hostOf(leader)}`);
  }
});

test('the leader stops: the standby takes over at once, with a newer epoch and the same state; leader-only work (the autoscaler too) moves with it', async (t) => {
  const [a, b] = await replicas(2, true);
  t.teardown(async () => { await b.stop(); await a.stop(); });
  const log: string[] = [];
  for (const [name, m] of [['a', a], ['b', b]] as const) {
    m.onLeadership((master: Master) => { log.push(`${name} start ${master.fencingEpoch}`); }, () => { log.push(`${name} stop`); });
  }
  await waitFor(() => log.length > 0, 5000, 'leader-only work to start');
  t.deepEqual(log, [`a start ${a.replica.election.epoch}`]);
  t.truthy(a.autoscaler.autoscaler, 'the leader runs the autoscaler');
  t.is(b.autoscaler.autoscaler, undefined, 'the standby does not');
  const weights = await fetch(`${a.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'UPDATE_WEIGHTS', update_weights: { weight_infos: [{ role: 'eng', weight: 3 }] } }) });
  t.is(weights.status, 200);
  const epochA = a.replica.election.epoch;
  await a.stop();
  await waitFor(() => b.isLeader(), 10_000, 'b to lead');
  t.true(b.replica.election.epoch > epochA);
  t.deepEqual(log, [`a start ${epochA}`, 'a stop', `b start ${b.replica.election.epoch}`]);
  await waitFor(() => b.autoscaler.autoscaler !== undefined, 10_000, 'the autoscaler to move to the new leader');
  t.is(a.autoscaler.autoscaler, undefined);
  const r = await rawPost(b.url, '/api/v1', JSON.stringify({ type: 'GET_WEIGHTS' }), { 'Content-Type': 'application/json' });
  t.deepEqual(JSON.parse(r.body).get_weights.weight_infos, [{ role: 'eng', weight: 3 }]);
});

test('with Redis gone a standby knows no leader: 503 "No leader elected", as Mesos answers', async (t) => {
  const own = await testRedis();
  const a = await runMaster({ redisUrl: own.url, host: '127.0.0.1', port: 0, leaderLeaseMs: 1000, config: FAST_MASTER, log: silentLogger, autoscaler: false });
  t.teardown(async () => { await a.stop(); });
  t.true(a.isLeader());
  await own.stop('SIGKILL');
  await waitFor(async () => (await raw(`${a.url}/api/v1`, 'POST', { type: 'GET_HEALTH' })).status === 503, 10_000, '503');
  const r = await raw(`${a.url}/api/v1`, 'POST', { type: 'GET_HEALTH' });
  t.is(r.text, 'No leader elected');
  t.is((await raw(`${a.url}/health`, 'GET')).status, 200, 'the replica itself is fine');
  t.is((await raw(`${a.url}/master/redirect`, 'GET')).status, 503);
  t.is(JSON.parse((await raw(`${a.url}/v1/leader`, 'GET')).text).leader, null);
});
