// Fault: SIGSTOP the leading master past its lease during a burst of launches, then SIGCONT it.
// The standby takes over while the old leader is frozen; when the old leader wakes up it writes
// nothing (its lease ran out by its own clock and its epoch is stale), steps down in-process and
// serves as a standby (307 to the new leader) — and can lead again later.
import test from 'ava';
import { assertNothingLost, policyRecords } from './helpers/durability-check.ts';
import { startFaultScene } from './helpers/fault-setup.ts';
import { waitFor } from './helpers/cluster.ts';

const LEASE_S = 3;

test('SIGSTOP the leader past its lease, then SIGCONT: it writes nothing, steps down to standby; nothing is lost', async (t) => {
  const { c, fw, before } = await startFaultScene(t, { masters: 2, agents: 2, leaseSeconds: LEASE_S }, { command: (id) => (id.startsWith('keeper') ? 'sleep 600' : 'true'), perAccept: 10 });
  await fw.start(['keeper-0', 'keeper-1']);
  await waitFor(() => fw.lastState('keeper-0') === 'TASK_RUNNING' && fw.lastState('keeper-1') === 'TASK_RUNNING', 60_000, 'keepers to run');

  const old = (await c.leaderIndex())!;
  const epochBefore = (await c.redisState()).epoch;
  let frozen: Promise<void> | undefined;
  fw.onAccepted = (n) => { if (n === 5 && !frozen) frozen = c.signal(c.masters[old], 'SIGSTOP'); };
  const burst = Array.from({ length: 200 }, (_, i) => `burst-${i}`);
  fw.launch(burst);
  await waitFor(() => frozen !== undefined, 120_000, '5 ACCEPTs');
  await frozen;
  const fresh = await c.waitForLeader(old);
  const newEpoch = (await c.redisState()).epoch;
  t.true(newEpoch > epochBefore, 'the new leader bumped the fencing epoch');
  // Keep the old leader frozen well past its lease and its agents' ping window as it saw it: when
  // it wakes, its timers would declare every agent lost — if it could still write.
  await new Promise((r) => setTimeout(r, (LEASE_S + 3) * 1000));
  await c.signal(c.masters[old], 'SIGCONT');

  await waitFor(async () => {
    const info = await fetch(`${c.masterUrls[old]}/v1/leader`).then((r) => r.json() as Promise<{ self: { state: string }; leader: { address: string } | null }>).catch(() => undefined);
    return info?.self.state === 'standby' && info.leader?.address === new URL(c.masterUrls[fresh]).host;
  }, 30_000, 'the woken master to stand by, naming the new leader');
  const r = await fetch(`${c.masterUrls[old]}/api/v1`, { method: 'POST', redirect: 'manual', body: JSON.stringify({ type: 'GET_HEALTH' }), headers: { 'Content-Type': 'application/json' } });
  t.is(r.status, 307);
  t.is(r.headers.get('location'), `//${new URL(c.masterUrls[fresh]).host}/api/v1`);
  t.is(c.masters[old]!.exitCode, null, 'it stays up as a standby');

  await waitFor(async () => {
    if (fw.uncertain.size) await fw.reconcileUncertain();
    return fw.allSettled(burst);
  }, 240_000, 'the burst to end');
  const mid = await c.redisState();
  t.is(mid.epoch, newEpoch, 'nobody took the lease back: the woken master only stood by');
  t.false(Object.values(mid.agents).some((a: { unreachableSince?: number }) => a.unreachableSince !== undefined), 'no agent was marked lost');
  t.is(fw.lastState('keeper-0'), 'TASK_RUNNING');
  t.is(fw.lastState('keeper-1'), 'TASK_RUNNING');

  // The standby is a real one: kill the new leader and the old one leads again.
  await c.signal(c.masters[fresh], 'SIGKILL');
  t.is(await c.waitForLeader(fresh), old);
  for (const id of ['keeper-0', 'keeper-1']) {
    await waitFor(async () => fw.client.kill(id).then(() => true, () => false), 60_000, `KILL ${id}`);
  }
  await waitFor(() => fw.lastState('keeper-0') === 'TASK_KILLED' && fw.lastState('keeper-1') === 'TASK_KILLED', 60_000, 'keepers killed');
  await waitFor(async () => Object.values((await c.redisState()).tasks).every((x: { pending: unknown[] }) => x.pending.length === 0), 60_000, 'all updates acknowledged');

  const state = await c.redisState();
  assertNothingLost(t, fw, state, c.agents.map((a) => a.workDir), burst);
  t.deepEqual(policyRecords(state), before);
});
