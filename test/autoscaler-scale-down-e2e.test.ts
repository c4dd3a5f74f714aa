// End to end, scale-down and spot notices: drains go through the leader's operator API
// (DRAIN_AGENT, waiting for DRAINED), then the instance is released through its provider.
import test, { type ExecutionContext } from 'ava';
import { BatchJob } from '../src/sdk/batch-job.ts';
import { SchedulerClient, taskResources } from '../src/sdk/scheduler-client.ts';
import { startAutoscaledCluster, testPolicy, waitForDecision, type AutoscaledCluster } from './helpers/autoscale.ts';
import { waitFor } from './helpers/cluster.ts';
import { Ec2IdentitySigner, startEc2Metadata } from './fakes/ec2-identity.ts';
import type { FakeInstance } from './fakes/ec2-fake.ts';


/** A long task on a rented agent the autoscaler launched for it: the agent and the job's end. */
async function longTaskOnRentedAgent(c: AutoscaledCluster) {
  await c.applyPolicy(testPolicy({ owned: 0, unneeded: 600 }));
  const job = new BatchJob({ master: c.url, name: 'long', tasks: [{ id: 'long-0', command: 'sleep 600', cpus: 0.5, mem: 64 }] });
  const running = new Promise<void>((resolve) => job.on('update', (s) => { if (s.state === 'TASK_RUNNING') resolve(); }));
  const done = job.run();
  await running;
  const [spot] = (await c.agents()).filter((a) => a.pool === 'burst');
  return { spot, done };
}

/** What an interruption notice must lead to: an urgent drain and a replacement in one evaluation, the instance released. */
async function drainedReplacedReleased(t: ExecutionContext, c: AutoscaledCluster, spot: { id: string; instance?: string }): Promise<void> {
  const ev = await waitForDecision(c, (d) => d.kind === 'evaluation' && d.actions.some((a) => a.type === 'drain' && a.agentId === spot.id), 'the urgent drain');
  t.regex(ev.actions.find((a) => a.type === 'drain')!.reason, /interruption notice/);
  t.true(ev.actions.some((a) => a.type === 'launch'), 'a replacement is planned in the same evaluation');
  await waitFor(async () => (await c.agents()).some((a) => a.pool === 'burst' && a.id !== spot.id && a.active), 60_000, 'the replacement agent');
  await waitForDecision(c, (d) => d.kind === 'release' && d.actions.some((a) => a.instanceId === spot.instance), 'the interrupted instance released');
}

test.serial('when demand ends, rented agents are drained and released after the unneeded time', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 1 });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 1, unneeded: 2 }));
  const job = new BatchJob({ master: c.url, name: 'burst', tasks: Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, command: 'sleep 12', cpus: 0.5, mem: 64 })) });
  const results = await job.run();
  t.true(results.every((r) => r.state === 'TASK_FINISHED'));
  const [inst] = await c.instances();
  t.truthy(inst, 'a rented instance was launched');
  const drain = await waitForDecision(c, (d) => d.kind === 'evaluation' && d.actions.some((a) => a.type === 'drain' && a.instanceId === inst.instanceId), 'a drain decision', 60_000);
  t.regex(drain.actions.find((a) => a.type === 'drain')!.reason, /below 50 % for \d+ s/);
  const release = await waitForDecision(c, (d) => d.kind === 'release' && d.actions.some((a) => a.instanceId === inst.instanceId), 'the release', 60_000);
  t.regex(release.summary, /terminated/);
  await waitFor(async () => (await c.instances()).find((i) => i.instanceId === inst.instanceId)?.state === 'released', 10_000, 'the record released');
  await waitFor(async () => !(await c.agents()).some((a) => a.instance === inst.instanceId), 30_000, 'its agent gone');
  // The owned agent stays: it is not a machine the autoscaler launched.
  t.is((await c.agents()).filter((a) => a.pool === 'owned').length, 1);
});

test.serial('a spot notice from the agent drains it at once and a replacement is launched', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 0 });
  t.teardown(() => c.stop());
  const { spot, done } = await longTaskOnRentedAgent(c);
  const res = await fetch(`${c.url}/v1/interruptions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent_id: spot.id, deadline_seconds: 30, reason: 'spot instance termination notice', source: 'agent' }) });
  t.is(res.status, 202, await res.clone().text());
  t.like(await res.json(), { agent_id: spot.id, instance_id: spot.instance, pool: 'burst' });
  await drainedReplacedReleased(t, c, spot);
  const results = await done;
  t.not(results[0].state, 'TASK_RUNNING');
  // Bad notices are refused and change nothing.
  const bad = await fetch(`${c.url}/v1/interruptions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent_id: 'nope' }) });
  t.is(bad.status, 404);
  t.regex(await bad.text(), /agent_id: agent nope is not registered/);
  const both = await fetch(`${c.url}/v1/interruptions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent_id: 'a', instance_id: 'b' }) });
  t.is(both.status, 400);
});

test.serial('a rented agent that reads a Spot interruption from its metadata server is handed to the autoscaler: drained at once, replaced, released', async (t) => {
  const vm = { id: 'i-0aaaaaaaaaaaaaaaa', reservationId: 'r-1', instanceType: 'm6i.large', zone: 'eu-west-1a', state: 'running', launchTime: Date.now(), privateIp: '10.0.0.9', lifecycle: 'spot', tags: new Map(), volumeTags: new Map(), securityGroupIds: [] } satisfies FakeInstance;
  const md = await startEc2Metadata(new Ec2IdentitySigner('eu-west-1', '123456789012'), vm);
  const c = await startAutoscaledCluster({
    ownedAgents: 0,
    autoscaler: { localAgentArgs: ['--interruption-notices', 'aws-ec2', '--metadata-url', md.url, '--interruption-poll-interval', '200ms'] },
  });
  t.teardown(async () => { await c.stop(); await md.close(); });
  const { spot, done } = await longTaskOnRentedAgent(c);
  await new Promise((r) => setTimeout(r, 500)); // its watcher has opened its IMDS session
  md.interrupt({ at: new Date(Date.now() + 60_000) });
  const noticed = await waitForDecision(c, (d) => d.kind === 'interruption' && d.summary.includes(spot.instance!), 'the notice recorded');
  t.regex(noticed.summary, /aws-ec2 terminate notice read by the agent/);
  await drainedReplacedReleased(t, c, spot);
  const results = await done;
  t.not(results[0].state, 'TASK_RUNNING');
});

test.serial('an instance that vanishes from the provider (spot reclaim) gets its agent marked gone, and the demand is planned again', async (t) => {
  const c = await startAutoscaledCluster({ ownedAgents: 0 });
  t.teardown(() => c.stop());
  await c.applyPolicy(testPolicy({ owned: 0, unneeded: 600 }));
  const client = new SchedulerClient({ master: c.url, framework: { user: 'test', name: 'big', roles: ['*'], capabilities: [{ type: 'MULTI_ROLE' }] } });
  t.teardown(() => client.close());
  await client.subscribe();
  await client.request([{ resources: taskResources(1, 64), count: 1 }]);
  await waitFor(async () => (await c.instances()).some((i) => i.state === 'running'), 60_000, 'a running rented instance');
  const [inst] = await c.instances();
  // The provider takes it back behind Spillway's back.
  const cur = await c.master!.autoscaler.autoscaler!.providers.current();
  await cur!.providers.forPool('burst').terminate([inst.instanceId]);
  const d = await waitForDecision(c, (x) => x.kind === 'vanished' && x.actions.some((a) => a.instanceId === inst.instanceId), 'the vanished finding');
  t.regex(d.summary, /is gone from the provider .*its agent .* is marked gone/);
  await waitFor(async () => !(await c.agents()).some((a) => a.instance === inst.instanceId), 10_000, 'the agent gone from GET_AGENTS');
  t.is((await c.instances()).find((i) => i.instanceId === inst.instanceId)!.state, 'vanished');
  // The framework still asks for one unit: a new instance is launched for it.
  await waitFor(async () => (await c.instances()).some((i) => i.instanceId !== inst.instanceId), 30_000, 'a new launch for the demand');
});
