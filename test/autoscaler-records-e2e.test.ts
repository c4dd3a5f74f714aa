// The autoscaler's records of its launches and instances, end to end through the real loop and
// workers (real Redis, a master with the autoscaler, a provider fake): a launch that fails partway
// keeps the instances it started, a launch job id left behind by a crash is not reused, a
// rented instance the provider reports stopped is terminated, and an instance the autoscaler has no
// record of is never terminated.
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { InsufficientCapacityError } from '../providers/errors.ts';
import { AutoscalerRecords, type LaunchRecord } from '../src/autoscaler/records.ts';
import { SchedulerClient, taskResources } from '../src/sdk/scheduler-client.ts';
import { NeverBootsProvider, startAutoscaledCluster, testPolicy, waitForDecision, type AutoscaledCluster } from './helpers/autoscale.ts';
import { waitFor } from './helpers/cluster.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';

async function demand(t: ExecutionContext, c: AutoscaledCluster, units: number): Promise<void> {
  const client = new SchedulerClient({ master: c.url, framework: { user: 'test', name: 'big', roles: ['*'], capabilities: [{ type: 'MULTI_ROLE' }] } });
  t.teardown(() => client.close());
  await client.subscribe();
  await client.request([{ resources: taskResources(1, 64), count: units }]);
}

function records(t: ExecutionContext, c: AutoscaledCluster): AutoscalerRecords {
  const redis = new Redis(c.redis.url);
  t.teardown(() => redis.quit());
  return new AutoscalerRecords(redis, 'default');
}

test.serial('a launch of 2 whose second instance meets a capacity error keeps the first: recorded booting, and the failure says 1 of 2 started', async (t) => {
  // Instance i of a launch runs under token `<job id>.<i>`: the first starts, the second is refused.
  const cloud = new NeverBootsProvider((token) => (token.endsWith('.0') ? undefined
    : new InsufficientCapacityError('InsufficientInstanceCapacity: no small capacity in the zone', 'local', 'InsufficientInstanceCapacity')));
  const c = await startAutoscaledCluster({ ownedAgents: 0, autoscaler: { providerFactory: () => ({ forPool: () => cloud }) } });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 0 }));
  await demand(t, c, 2);

  const failed = await waitForDecision(c, (d) => d.kind === 'launch-failed', 'the launch failure');
  t.regex(failed.summary, /launch of 2 × small in pool burst failed: 1 of 2 instance\(s\) started, then: InsufficientInstanceCapacity/);
  const [started] = [...cloud.launched.keys()];
  t.truthy(started, 'the provider started one instance');
  t.true(failed.notes.some((n) => n.includes(started) && /recorded as booting/.test(n)), failed.notes.join('\n'));
  const rec = (await c.instances()).find((i) => i.instanceId === started);
  t.like(rec, { pool: 'burst', state: 'booting', ownership: 'rented' }, 'the started instance is the autoscaler\'s to release');
  const launch = (await records(t, c).launches()).find((l) => l.jobId === rec?.jobId);
  t.like(launch, { state: 'failed', count: 2, instanceIds: [started] });
  t.deepEqual(cloud.terminated, [], 'nothing given back yet: it may still join');
});

test.serial('a launch recorded without its generation bump (a crash between the two) does not block later launches of the pool/type', async (t) => {
  const cloud = new NeverBootsProvider();
  const c = await startAutoscaledCluster({ ownedAgents: 0, autoscaler: { providerFactory: () => ({ forPool: () => cloud }) } });
  t.teardown(() => c.stop());
  // What an older version left when it died after writing the launch record of generation 0 and
  // before raising the pool's generation: the record, and no generation.
  const r = records(t, c);
  const stale: LaunchRecord = {
    jobId: 'launch_burst_small_g0', pool: 'burst', instanceType: 'small', kind: 'launch', count: 1, capacityType: 'on-demand', ownership: 'rented',
    unitPrice: 0.1, state: 'launched', reason: 'an earlier launch', createdAt: Date.now() - 60_000, updatedAt: Date.now() - 60_000, instanceIds: [],
  };
  await r.redis.hset(r.key('launches'), stale.jobId, JSON.stringify(stale));
  t.deepEqual(await r.generations(), {});

  await c.applyPolicy(testPolicy({ owned: 0 }));
  await demand(t, c, 1);
  const d = await waitForDecision(c, (x) => x.kind === 'launch', 'a launch');
  t.is(d.actions[0].jobId, 'launch_burst_small_g1', 'the next generation, not the recorded one');
  await waitFor(() => cloud.tokens.includes('launch_burst_small_g1.0'), 10_000, 'the provider to be asked');
  t.deepEqual(await r.generations(), { burst: 2 }, 'the generation is past every recorded launch');
});

test.serial('a rented instance the provider reports stopped is terminated and its record released', async (t) => {
  const cloud = new NeverBootsProvider();
  const c = await startAutoscaledCluster({ ownedAgents: 0, autoscaler: { providerFactory: () => ({ forPool: () => cloud }) } });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 0 }));
  await demand(t, c, 1);
  await waitFor(async () => (await c.instances()).some((i) => i.state === 'booting'), 10_000, 'a booting instance');
  const [id] = [...cloud.launched.keys()];
  cloud.launched.set(id, { ...cloud.launched.get(id)!, state: 'stopped' }); // EC2 stopped, GCE TERMINATED
  const found = await waitForDecision(c, (d) => d.kind === 'vanished' && d.actions.some((a) => a.instanceId === id), 'the stopped instance found');
  t.regex(found.summary, /is stopped at the provider with no connected agent: terminated/);
  t.true(cloud.terminated.includes(id), 'terminated at the provider');
  t.like((await c.instances()).find((i) => i.instanceId === id), { state: 'released' });
});

test.serial('a spot notice for an agent whose instance the autoscaler never launched drains it but terminates nothing', async (t) => {
  const cloud = new NeverBootsProvider();
  const c = await startAutoscaledCluster({ ownedAgents: 0, autoscaler: { providerFactory: () => ({ forPool: () => cloud }) } });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 0 }));
  // A machine someone started by hand in the rented pool: it names an instance no record has.
  const byHand = new SimulatedAgent({
    master: c.url, hostname: 'by-hand', resources: resources({ cpus: 1, mem: 512, disk: 1000 }, [[36000, 36009]]),
    attributes: [{ name: 'pool', type: 'TEXT', text: { value: 'burst' } }, { name: 'instance', type: 'TEXT', text: { value: 'i-byhand' } }],
  });
  await byHand.start();
  t.teardown(() => byHand.stop());
  const res = await fetch(`${c.url}/v1/interruptions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent_id: byHand.agentId, deadline_seconds: 30, reason: 'spot instance termination notice' }) });
  t.is(res.status, 202, await res.clone().text());
  await waitForDecision(c, (d) => d.kind === 'drain' && d.summary.includes(byHand.agentId!), 'the agent drained (rented: marked gone)');
  await new Promise((r) => setTimeout(r, 2000)); // the release job, had it been queued, ran meanwhile
  t.deepEqual(cloud.terminated, [], 'nothing terminated through the provider');
  t.false((await c.decisions()).some((d) => d.kind === 'release'), 'no release recorded');
});

test.serial('an unknown instance the reconciler adopts is recorded at its type\'s price, so it counts against the budget', async (t) => {
  const cloud = new NeverBootsProvider();
  // Tagged for this cluster and pool, known to nobody, older than the boot timeout: a leaked instance.
  cloud.launched.set('i-leaked', { id: 'i-leaked', pool: 'burst', provider: 'local', instanceType: 'small', capacityType: 'on-demand', zone: 'local', state: 'running', launchedAt: Date.now() - 3_600_000 });
  const c = await startAutoscaledCluster({ ownedAgents: 0, autoscaler: { providerFactory: () => ({ forPool: () => cloud }) } });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 0, price: 0.25, extra: 'reconciler: { unknownInstances: adopt }' }));
  await waitFor(async () => (await c.instances()).some((i) => i.instanceId === 'i-leaked'), 30_000, 'the adoption');
  const rec = (await c.instances()).find((i) => i.instanceId === 'i-leaked')!;
  t.like(rec, { pool: 'burst', state: 'booting', unitPrice: 0.25 });
  t.deepEqual(cloud.terminated, [], 'adopted, not terminated');
});
