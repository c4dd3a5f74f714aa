// End to end, owned machines that are off: demand powers one on through the static pool's hook
// (before anything is rented), its agent runs the work, and when the demand has ended the machine
// is drained and powered off again through the other hook. The hooks start and stop a real
// `spillway agent`, as an operator's would through IPMI or Wake-on-LAN; that agent says which pool
// it is in but not which of Spillway's instances it is, as an owned machine's agent config would.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchJob } from '../src/sdk/batch-job.ts';
import { startAutoscaledCluster, staticRackPolicy, waitForDecision } from './helpers/autoscale.ts';
import { waitFor } from './helpers/cluster.ts';
import { tempDir } from './helpers/redis.ts';


/** Fails the test with `what` instead of hanging when `p` does not settle in time. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms); })]).finally(() => clearTimeout(timer));
}

test('an owned machine that is off is powered on for demand before anything is rented, powered off when the demand is gone, and used again for the next demand', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 0 });
  const dir = tempDir('spillway-rack-');
  t.teardown(async () => {
    if (existsSync(join(dir, 'pid-node1'))) try { process.kill(Number(readFileSync(join(dir, 'pid-node1'), 'utf8')), 'SIGKILL'); } catch { /* already off */ }
    await c.stop();
  });
  await c.applyPolicy(staticRackPolicy(c.url, dir));

  const job = new BatchJob({ master: c.url, name: 'on-prem', tasks: Array.from({ length: 2 }, (_, i) => ({ id: `t${i}`, command: 'sleep 2', cpus: 0.5, mem: 64 })) });
  const results = await job.run();
  t.true(results.every((r) => r.state === 'TASK_FINISHED'), JSON.stringify(results));
  const powerOn = await waitForDecision(c, (d) => d.kind === 'evaluation' && d.actions.some((a) => a.type === 'power-on'), 'the power-on decision');
  const step = powerOn.actions.find((a) => a.type === 'power-on')!;
  t.is(step.pool, 'rack');
  t.regex(step.reason, /owned capacity is used before rented/);
  t.false(powerOn.actions.some((a) => a.type === 'launch'), 'nothing rented alongside');
  const agents = await c.agents();
  const rackAgent = agents.find((a) => a.pool === 'rack');
  t.truthy(rackAgent, 'the powered-on machine registered');
  t.true(results.every((r) => r.agentId === rackAgent!.id), 'the work ran on it');
  t.false(agents.some((a) => a.pool === 'burst'), 'nothing was rented');

  const [record] = await c.instances();
  t.is(record.instanceId, 'rack/node1');
  const drain = await waitForDecision(c, (d) => d.kind === 'evaluation' && d.actions.some((a) => a.type === 'drain' && a.agentId === rackAgent!.id), 'its drain once idle', 60_000);
  t.regex(drain.actions.find((a) => a.type === 'drain')!.reason, /below 50 % for \d+ s/);
  await waitForDecision(c, (d) => d.kind === 'release' && d.actions.some((a) => a.instanceId === 'rack/node1'), 'its release', 60_000);
  await waitFor(() => existsSync(join(dir, 'power-node1')), 10_000, 'the power-off hook');
  t.is(readFileSync(join(dir, 'power-node1'), 'utf8'), 'off\n', 'powered off once');
  await waitFor(async () => (await c.instances()).find((i) => i.instanceId === 'rack/node1')?.state === 'released', 10_000, 'the record released');
  await waitFor(async () => !(await c.agents()).some((a) => a.id === rackAgent!.id && a.active), 30_000, 'its agent gone');

  // The next demand: the same machine is powered on again (its agent comes back with the same id
  // from its work dir, drained by the first cycle), runs the work, and is powered off again.
  const firstDrainAt = drain.at;
  const second = new BatchJob({ master: c.url, name: 'on-prem-2', tasks: Array.from({ length: 2 }, (_, i) => ({ id: `u${i}`, command: 'sleep 2', cpus: 0.5, mem: 64 })) });
  const running = second.run();
  await waitFor(async () => ['booting', 'running'].includes((await c.instances()).find((i) => i.instanceId === 'rack/node1')?.state ?? ''), 60_000, 'the record rack/node1 live again');
  const again = await within(running, 60_000, 'the second job on the re-powered machine');
  t.true(again.every((r) => r.state === 'TASK_FINISHED'), JSON.stringify(again));
  t.true(again.every((r) => r.agentId === rackAgent!.id), 'the work ran on the rack agent again');
  // The new lifetime's record knows the autoscaler drained that agent: that hold, and only it, is lifted.
  t.is((await c.instances()).find((i) => i.instanceId === 'rack/node1')?.drainedAgentId, rackAgent!.id);
  await waitForDecision(c, (d) => d.actions.some((a) => a.type === 'registered' && a.agentId === rackAgent!.id && /reactivated \(the autoscaler drained it/.test(a.reason)), 'its reactivation');
  t.false((await c.agents()).some((a) => a.pool === 'burst'), 'still nothing rented');
  await waitForDecision(c, (d) => d.kind === 'evaluation' && d.at > firstDrainAt && d.actions.some((a) => a.type === 'drain' && a.agentId === rackAgent!.id), 'its second drain', 60_000);
  await waitFor(() => readFileSync(join(dir, 'power-node1'), 'utf8') === 'off\noff\n', 60_000, 'the second power-off');
  await waitFor(async () => (await c.instances()).find((i) => i.instanceId === 'rack/node1')?.state === 'released', 10_000, 'the record released again');
});
