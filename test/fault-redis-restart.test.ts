// Fault: kill -9 redis-server (AOF, appendfsync always) in the middle of a burst of launches and
// start it again on the same data. The masters wait, reconnect and reload their state from Redis
// (a new term, a new fencing epoch); agents and the framework carry on; nothing acknowledged
// before the crash is lost and nothing is applied twice.
import test from 'ava';
import { assertNothingLost, policyRecords } from './helpers/durability-check.ts';
import { startFaultScene } from './helpers/fault-setup.ts';
import { waitFor } from './helpers/cluster.ts';

test('kill -9 Redis mid-burst and restart it: the masters ride it out, reload, and nothing is lost or duplicated', async (t) => {
  const { c, fw, before } = await startFaultScene(t, { masters: 2, agents: 2 }, { command: (id) => (id.startsWith('keeper') ? 'sleep 600' : 'true'), perAccept: 10 });
  await fw.start(['keeper-0']);
  await waitFor(() => fw.lastState('keeper-0') === 'TASK_RUNNING', 60_000, 'the keeper to run');
  const epochBefore = (await c.redisState()).epoch;
  c.dropChecker();

  let crashed: Promise<void> | undefined;
  fw.onAccepted = (n) => { if (n === 8 && !crashed) crashed = c.redis.stop('SIGKILL'); };
  const burst = Array.from({ length: 300 }, (_, i) => `burst-${i}`);
  fw.launch(burst);
  await waitFor(() => crashed !== undefined, 120_000, '8 ACCEPTs');
  await crashed;
  // While Redis is down no replica leads; every API answers 503 "No leader elected".
  await waitFor(async () => {
    const codes = await Promise.all(c.masterUrls.map((u) => fetch(`${u}/api/v1`, { method: 'POST', body: '{"type":"GET_HEALTH"}', headers: { 'Content-Type': 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0)));
    return codes.every((s) => s === 503);
  }, 30_000, 'every replica to stop leading');
  await new Promise((r) => setTimeout(r, 2000));
  await c.startRedis();
  await c.waitForLeader();
  t.true((await c.redisState()).epoch > epochBefore, 'the reload is a new term, with a new epoch');

  await waitFor(async () => {
    if (fw.uncertain.size) await fw.reconcileUncertain();
    return fw.allSettled(burst);
  }, 240_000, 'the burst to end');
  t.is(fw.lastState('keeper-0'), 'TASK_RUNNING', 'a task started before the crash still runs');
  await waitFor(async () => fw.client.kill('keeper-0').then(() => true, () => false), 60_000, 'KILL keeper-0');
  await waitFor(() => fw.lastState('keeper-0') === 'TASK_KILLED', 60_000, 'keeper killed');
  await waitFor(async () => Object.values((await c.redisState()).tasks).every((x: { pending: unknown[] }) => x.pending.length === 0), 60_000, 'all updates acknowledged');

  const state = await c.redisState();
  assertNothingLost(t, fw, state, c.agents.map((a) => a.workDir), burst);
  t.deepEqual(policyRecords(state), before);
});
