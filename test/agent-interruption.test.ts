// Spot interruption / preemption notices: the agent reads them from the VM's metadata server (the
// EC2 IMDSv2 and GCE metadata fakes in test/fakes) and has the master drain it while there is
// time — real master and agent processes on loopback, a framework speaking raw Mesos v1 HTTP.
import test from 'ava';
import { InterruptionWatcher, GCE_PREEMPTION_NOTICE_MS, type InterruptionNotice } from '../agents/interruption-notice.ts';
import { ManualClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/common/logger.ts';
import { Ec2IdentitySigner, startEc2Metadata, type MetadataServer } from './fakes/ec2-identity.ts';
import type { FakeInstance } from './fakes/ec2-fake.ts';
import { GceIdentitySigner, startGceMetadata } from './fakes/gce-identity.ts';
import { startCluster, waitFor } from './helpers/cluster.ts';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { RawAgent } from './helpers/raw-agent.ts';
import { inProcessMaster } from './helpers/in-process.ts';

const instance: FakeInstance = {
  id: 'i-0123456789abcdef0', reservationId: 'r-1', instanceType: 'm6i.large', zone: 'eu-west-1a', state: 'running',
  launchTime: Date.now(), privateIp: '10.0.0.5', lifecycle: 'spot', tags: new Map(), volumeTags: new Map(), securityGroupIds: [],
};
const ec2Metadata = (): Promise<MetadataServer> => startEc2Metadata(new Ec2IdentitySigner('eu-west-1', '123456789012'), instance);
const gceMetadata = (): Promise<MetadataServer> => startGceMetadata(new GceIdentitySigner(), { id: '1', name: 'vm-1' }, 'proj', 'europe-west1-b');

function watcher(provider: 'aws-ec2' | 'gcp-compute', metadataUrl: string, clock = new ManualClock(Date.now())) {
  const notices: InterruptionNotice[] = [];
  const w = new InterruptionWatcher({ provider, metadataUrl, intervalMs: 3_600_000, clock, logger: silentLogger, onNotice: (n) => notices.push(n) });
  return { w, notices };
}

test('EC2: nothing until a Spot interruption is scheduled, then its action and time, reported once (IMDSv2 token used)', async (t) => {
  const md = await ec2Metadata();
  t.teardown(() => md.close());
  const { w, notices } = watcher('aws-ec2', md.url);
  t.is(await w.poll(), undefined);
  const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 120_000);
  md.interrupt({ action: 'stop', at });
  t.deepEqual(await w.poll(), { provider: 'aws-ec2', action: 'stop', deadlineMs: at.getTime() });
  await w.poll();
  t.deepEqual(notices, [{ provider: 'aws-ec2', action: 'stop', deadlineMs: at.getTime() }]);
});

test('GCE: preempted FALSE, then TRUE with 30 s to go', async (t) => {
  const md = await gceMetadata();
  t.teardown(() => md.close());
  const clock = new ManualClock(1_800_000_000_000);
  const { w, notices } = watcher('gcp-compute', md.url, clock);
  t.is(await w.poll(), undefined);
  md.interrupt();
  t.deepEqual(await w.poll(), { provider: 'gcp-compute', action: 'preempt', deadlineMs: clock.now() + GCE_PREEMPTION_NOTICE_MS });
  t.is(notices.length, 1);
});

test('a metadata server that does not answer makes no notice up', async (t) => {
  const md = await ec2Metadata();
  await md.close();
  const { w, notices } = watcher('aws-ec2', md.url);
  t.is(await w.poll(), undefined);
  t.is(await w.poll(), undefined);
  t.deepEqual(notices, []);
});

const update = (taskId: string, state: string) => (e: Event) => e.type === 'UPDATE' && e.update.status.task_id.value === taskId && e.update.status.state === state;

test.serial('an interrupted Spot agent is drained: its task is killed before the deadline, it is offered no more, the notice is counted', async (t) => {
  const md = await ec2Metadata();
  const c = await startCluster({
    agents: 2,
    agentArgs: (i) => (i === 0 ? ['--interruption-notices', 'aws-ec2', '--metadata-url', md.url, '--interruption-poll-interval', '200ms'] : []),
  });
  const fw = new RawFramework(c.masterUrl);
  t.teardown(async () => { fw.close(); await c.stop(); await md.close(); });
  t.is(await fw.subscribe({ user: 'test', name: 'spot-test', failover_timeout: 60 }), 200);
  const agents = async (): Promise<Event[]> => (await (await fetch(`${c.masterUrl}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_AGENTS"}' })).json()).get_agents.agents;
  const spotId = (await agents()).find((a) => a.agent_info.port === c.agents[0].port)!.agent_info.id.value;
  const offer = (await fw.next((e) => e.type === 'OFFERS' && e.offers.offers.some((o: Event) => o.agent_id.value === spotId)))
    .offers.offers.find((o: Event) => o.agent_id.value === spotId);
  const accepted = await fw.call({
    type: 'ACCEPT',
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 'batch', task_id: { value: 'batch' }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 0.1), scalarRes('mem', 32)], command: { value: 'sleep 600' } }] } }],
      filters: { refuse_seconds: 0 },
    },
  });
  t.is(accepted.status, 202);
  await fw.next(update('batch', 'TASK_RUNNING'));

  // EC2 schedules the interruption 20 s from now; the task must be gone well before that.
  const deadline = Date.now() + 20_000;
  md.interrupt({ action: 'terminate', at: new Date(deadline) });
  const killed = await fw.next(update('batch', 'TASK_KILLED'), 15_000);
  t.true(Date.now() < deadline, 'killed before the VM goes');
  t.is(killed.update.status.agent_id.value, spotId);
  await waitFor(async () => ['DRAINING', 'DRAINED'].includes((await agents()).find((a) => a.agent_info.id.value === spotId)?.drain_info?.state), 10_000, 'the agent draining');
  // No offer for it from here on; the other agent is offered again once its offer is declined.
  const rescinded = new Set(fw.events.filter((e) => e.type === 'RESCIND').map((e) => e.rescind.offer_id.value));
  const outstanding = fw.events.filter((e) => e.type === 'OFFERS').flatMap((e) => e.offers.offers.map((o: Event) => o.id)).filter((id: Event) => id.value !== offer.id.value && !rescinded.has(id.value));
  const from = fw.events.length;
  t.is((await fw.call({ type: 'DECLINE', decline: { offer_ids: outstanding, filters: { refuse_seconds: 0 } } })).status, 202);
  await fw.next((e) => e.type === 'OFFERS', 10_000, from);
  await new Promise((r) => setTimeout(r, 500));
  const offered = fw.events.slice(from).filter((e) => e.type === 'OFFERS').flatMap((e) => e.offers.offers.map((o: Event) => o.agent_id.value));
  t.true(offered.length > 0);
  t.false(offered.includes(spotId));
  const metrics = await (await fetch(`${c.masterUrl}/metrics`)).text();
  t.regex(metrics, /spillway_agent_interruption_notices_total\{provider="aws-ec2",action="terminate"\} 1/);
});

test('a malformed INTERRUPTION_NOTICE is a 400 naming the field, and the agent is not drained', async (t) => {
  const m = await inProcessMaster();
  t.teardown(() => m.shutdown());
  const agent = new RawAgent(m.url);
  t.teardown(() => agent.close());
  t.is((await agent.subscribe()).status, 200);
  const notice = (n: object) => agent.call({ type: 'INTERRUPTION_NOTICE', extra: { interruption_notice: n } });
  const ns = (ms: number) => ({ nanoseconds: ms * 1e6 });
  const cases: [object | undefined, RegExp][] = [
    [undefined, /Expecting 'interruption_notice' to be present/],
    [{ provider: 'azure', action: 'terminate', deadline: ns(Date.now() + 60_000) }, /interruption_notice\.provider/],
    [{ provider: 'aws-ec2', action: 'explode', deadline: ns(Date.now() + 60_000) }, /interruption_notice\.action/],
    [{ provider: 'aws-ec2', action: 'terminate', deadline: { nanoseconds: -1 } }, /interruption_notice\.deadline/],
    [{ provider: 'aws-ec2', action: 'terminate', deadline: { nanoseconds: 0 } }, /interruption_notice\.deadline: .* expecting at most 10 min ago and 60 min ahead/],
    [{ provider: 'aws-ec2', action: 'terminate', deadline: ns(Date.now() + 86_400_000) }, /60 min ahead/],
  ];
  for (const [body, reason] of cases) {
    const r = body === undefined ? await agent.call({ type: 'INTERRUPTION_NOTICE' }) : await notice(body);
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(r.body, reason);
  }
  const res = await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_AGENTS"}' });
  const [a] = (await res.json()).get_agents.agents;
  t.is(a.drain_info, undefined);
  t.true(a.active);
  // A good one drains it; the same notice again changes nothing.
  const good = { provider: 'gcp-compute', action: 'preempt', deadline: ns(Date.now() + 30_000) };
  t.is((await notice(good)).status, 202);
  t.is((await notice(good)).status, 202);
  const after = (await (await fetch(`${m.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_AGENTS"}' })).json()).get_agents.agents[0];
  t.truthy(after.drain_info);
  t.regex(await (await fetch(`${m.url}/metrics`)).text(), /spillway_agent_interruption_notices_total\{provider="gcp-compute",action="preempt"\} 1/);
});
