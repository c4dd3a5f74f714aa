// Oversubscription on the agent: the slack estimate (resource estimator), UPDATE_OVERSUBSCRIBED
// reporting, and the QoS controller preempting revocable tasks. Real task processes and a fake
// master; usage and load come from injected fakes (except in the /proc sampler test), and rounds are
// driven with `agent.oversubscription.tick()` rather than timers.
import test from 'ava';
import type { AgentHandle } from '../agents/agent.ts';
import type { HostLoad, LoadProbe } from '../agents/oversubscription/load-probe.ts';
import { resolveOversubscription } from '../agents/oversubscription/monitor.ts';
import { QosController, formatCpus, type QosTask } from '../agents/oversubscription/qos-controller.ts';
import { estimateSlack, oversubscribedResources } from '../agents/oversubscription/slack-estimator.ts';
import { ProcUsageSampler, type SampledTask, type TaskUsage, type UsageSampler } from '../agents/oversubscription/usage-sampler.ts';
import { TaskInfoSchema, type TaskInfo } from '../src/mesos/scheduler-call.ts';
import { FakeMaster } from './helpers/agent-fake-master.ts';
import { eventually, FW, groupExists, killGroup, readCheckpoint, startTestAgent, tempWorkDir } from './helpers/agent-test-utils.ts';

/** Usage by task id, set by the test. */
class FakeSampler implements UsageSampler {
  readonly usage = new Map<string, TaskUsage>();
  sample(tasks: readonly SampledTask[]): ReadonlyMap<string, TaskUsage> {
    const out = new Map<string, TaskUsage>();
    for (const t of tasks) {
      const u = this.usage.get(t.taskId);
      if (u) out.set(t.key, u);
    }
    return out;
  }
}

class FakeLoad implements LoadProbe {
  value: HostLoad | undefined = { load1: 0, cpus: 2 };
  read(): HostLoad | undefined {
    return this.value;
  }
}

interface Res { cpus?: number; mem?: number; revocable?: boolean }

function taskJson(id: string, command: string, r: Res): Record<string, unknown> {
  const rev = r.revocable ? { revocable: {} } : {};
  const resources: object[] = [];
  if (r.cpus !== undefined) resources.push({ name: 'cpus', type: 'SCALAR', scalar: { value: r.cpus }, ...rev });
  if (r.mem !== undefined) resources.push({ name: 'mem', type: 'SCALAR', scalar: { value: r.mem }, ...rev });
  return { name: id, task_id: { value: id }, agent_id: { value: 'a' }, resources, command: { value: command, shell: true } };
}

const taskInfo = (id: string, r: Res): TaskInfo => TaskInfoSchema.parse(taskJson(id, 'true', r));

async function setup(t: { teardown: (fn: () => Promise<void> | void) => void }, over: { intervalMs?: number; safetyMargin?: number; real?: boolean } = {}) {
  const { dir, cleanup } = await tempWorkDir();
  const master = await FakeMaster.start();
  const sampler = new FakeSampler();
  const load = new FakeLoad();
  const agent = await startTestAgent(master.url, dir, {
    oversubscription: {
      enabled: true,
      intervalMs: over.intervalMs ?? 3_600_000, // rounds are driven by tick()
      ...(over.safetyMargin !== undefined ? { safetyMargin: over.safetyMargin } : {}),
      ...(over.real ? {} : { sampler, loadProbe: load }),
    },
  });
  t.teardown(async () => {
    await agent.stop({ killTasks: true });
    await master.close();
    await cleanup();
  });
  await eventually(() => master.connected && agent.agentId(), 'subscription');
  return { master, agent, dir, sampler, load };
}

async function launchRunning(master: FakeMaster, dir: string, t: { teardown: (fn: () => void) => void }, id: string, r: Res): Promise<number> {
  master.launch(FW, taskJson(id, 'sleep 60', r));
  await eventually(() => master.statesOf(id).includes('TASK_RUNNING'), `${id} RUNNING`);
  const { pgid } = await readCheckpoint(dir, id);
  t.teardown(() => killGroup(pgid));
  return pgid!;
}

const tick = (agent: AgentHandle) => agent.oversubscription!.tick();
const terminal = (m: FakeMaster, id: string) =>
  eventually(() => m.updatesFor(id).find((u) => ['TASK_KILLED', 'TASK_FAILED', 'TASK_FINISHED'].includes(u.status.state)), `terminal update of ${id}`);

test('estimate: allocated − used − margin × allocated over non-revocable tasks, floored and rounded', (t) => {
  const e = estimateSlack([
    { task: taskInfo('a', { cpus: 1, mem: 256 }), usage: { cpus: 0.25, memMb: 100 } },
    { task: taskInfo('b', { cpus: 0.5, mem: 128 }), usage: { cpus: 0.05, memMb: 28.4 } },
    { task: taskInfo('r', { cpus: 2, mem: 512, revocable: true }), usage: { cpus: 0, memMb: 0 } }, // runs on slack: ignored
  ], 0.2);
  // cpus 1.5 − 0.3 − 0.3 = 0.9; mem 384 − 128.4 − 76.8 = 178.8 → 179
  t.deepEqual(e, { cpus: 0.9, mem: 179 });
  // Not measured yet (or CPU rate unknown): counts as fully used.
  t.deepEqual(estimateSlack([{ task: taskInfo('a', { cpus: 1, mem: 100 }), usage: { memMb: 10 } }], 0.1), { cpus: 0, mem: 80 });
  t.deepEqual(estimateSlack([{ task: taskInfo('a', { cpus: 1, mem: 100 }) }], 0.1), { cpus: 0, mem: 0 });
  // A task over its allocation eats others' slack; the total floors at 0.
  t.deepEqual(estimateSlack([
    { task: taskInfo('a', { cpus: 1 }), usage: { cpus: 1.8, memMb: 0 } },
    { task: taskInfo('b', { cpus: 1 }), usage: { cpus: 0, memMb: 0 } },
  ], 0.1), { cpus: 0, mem: 0 });
  t.deepEqual(oversubscribedResources({ cpus: 0.9, mem: 0 }), [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.9 }, revocable: {} }]);
  t.deepEqual(oversubscribedResources({ cpus: 0, mem: 0 }), []);
});

test('options: defaults and refused values', (t) => {
  const r = resolveOversubscription({ enabled: true });
  t.is(r.intervalMs, 5000);
  t.is(r.safetyMargin, 0.1);
  t.is(r.loadThreshold, 0.9);
  t.throws(() => resolveOversubscription({ enabled: true, safetyMargin: 1 }), { message: /safetyMargin/ });
  t.throws(() => resolveOversubscription({ enabled: true, intervalMs: 0 }), { message: /intervalMs/ });
  t.throws(() => resolveOversubscription({ enabled: true, loadThreshold: -1 }), { message: /loadThreshold/ });
  t.is(formatCpus(0.5), '0.5');
  t.is(formatCpus(1), '1.0');
  t.is(formatCpus(0.25), '0.25');
});

test('the agent reports allocated − used − margin as revocable cpus and mem from the sampler', async (t) => {
  const { master, agent, dir, sampler } = await setup(t, { safetyMargin: 0.2 });
  await launchRunning(master, dir, t, 'a', { cpus: 1, mem: 256 });
  await launchRunning(master, dir, t, 'b', { cpus: 0.5, mem: 128 });
  await launchRunning(master, dir, t, 'r', { cpus: 0.3, revocable: true });
  sampler.usage.set('a', { cpus: 0.25, memMb: 100 });
  sampler.usage.set('b', { cpus: 0.05, memMb: 28 });
  sampler.usage.set('r', { cpus: 0.3, memMb: 5 });
  await tick(agent);
  t.deepEqual(agent.oversubscription!.estimate(), { cpus: 0.9, mem: 179 });
  t.is(master.oversubscribed.length, 1);
  const call = master.oversubscribed[0];
  t.is(call.agent_id, agent.agentId()!);
  t.deepEqual(call.resources, [
    { name: 'cpus', type: 'SCALAR', scalar: { value: 0.9 }, revocable: {} },
    { name: 'mem', type: 'SCALAR', scalar: { value: 179 }, revocable: {} },
  ]);
});

test('UPDATE_OVERSUBSCRIBED: sent when the estimate changes, not repeated, retried after a refusal, re-sent after re-subscribing', async (t) => {
  const { master, agent, dir, sampler } = await setup(t);
  t.is(master.oversubscribed.length, 0, 'nothing before the first estimate');
  await launchRunning(master, dir, t, 'svc', { cpus: 1, mem: 256 });
  sampler.usage.set('svc', { cpus: 0.2, memMb: 56 });
  await tick(agent);
  t.deepEqual(master.lastOversubscribed(), { cpus: 0.7, mem: 174 }); // 1 − 0.2 − 0.1; 256 − 56 − 25.6
  await tick(agent);
  await tick(agent);
  t.is(master.oversubscribed.length, 1, 'unchanged estimate is not sent again');

  sampler.usage.set('svc', { cpus: 0.6, memMb: 56 });
  await tick(agent);
  t.is(master.oversubscribed.length, 2);
  t.deepEqual(master.lastOversubscribed(), { cpus: 0.3, mem: 174 });

  master.failNextOversubscribed(1);
  sampler.usage.set('svc', { cpus: 0.5, memMb: 56 });
  await tick(agent);
  t.is(master.oversubscribed.length, 2, 'refused call is not recorded');
  await tick(agent);
  t.is(master.oversubscribed.length, 3, 'the same estimate is sent again after a refusal');
  t.deepEqual(master.lastOversubscribed(), { cpus: 0.4, mem: 174 });
  await tick(agent);
  t.is(master.oversubscribed.length, 3);

  // A new stream: the master hears the current estimate once more, without a round.
  master.dropStream();
  await eventually(() => master.subscribes.length === 2 && master.oversubscribed.length === 4, 're-sent after re-subscribing');
  t.is(master.oversubscribed[3].subscription, 1);
  t.deepEqual(master.lastOversubscribed(), { cpus: 0.4, mem: 174 });
  await tick(agent);
  t.is(master.oversubscribed.length, 4);

  // The task ends: no slack left, which is a change too (an empty list).
  master.kill(FW, 'svc', 0);
  await terminal(master, 'svc');
  await tick(agent);
  t.is(master.oversubscribed.length, 5);
  t.deepEqual(master.oversubscribed[4].resources, []);
});

test('a real sleep measured through /proc uses no cpu: slack is its allocation minus the margin', async (t) => {
  const { master, agent, dir } = await setup(t, { intervalMs: 100, real: true });
  const pgid = await launchRunning(master, dir, t, 'idle', { cpus: 1, mem: 128 });
  // The first samples may catch the shell starting; an idle sleep then uses no CPU ticks at all.
  await eventually(() => master.lastOversubscribed()?.cpus === 0.9, 'slack of 0.9 cpus');
  const mem = agent.oversubscription!.estimate()!.mem;
  // 128 − 12.8 (margin) − a few MB of resident shell and sleep.
  t.true(mem >= 100 && mem <= 115, `mem slack ${mem}`);

  const sampler = new ProcUsageSampler();
  const task = { key: 'k', frameworkId: FW, taskId: 'idle', pgid };
  const first = sampler.sample([task]).get('k')!;
  t.is(first.cpus, undefined, 'no rate from one sample');
  t.true(first.memMb > 0 && first.memMb < 64);
  const second = sampler.sample([task]).get('k')!;
  t.is(typeof second.cpus, 'number');
  t.false(sampler.sample([{ ...task, key: 'gone', pgid: 2 ** 22 + 17 }]).has('gone'), 'a group with no process is not measured');
});

test('load above the threshold preempts the revocable task and leaves the non-revocable one running', async (t) => {
  const { master, agent, dir, sampler, load } = await setup(t);
  const svcPgid = await launchRunning(master, dir, t, 'svc', { cpus: 1, mem: 128 });
  const bePgid = await launchRunning(master, dir, t, 'besteffort', { cpus: 0.5, mem: 32, revocable: true });
  sampler.usage.set('svc', { cpus: 0.1, memMb: 10 });
  sampler.usage.set('besteffort', { cpus: 0.5, memMb: 5 });

  load.value = { load1: 1.7, cpus: 2 }; // 0.85 per cpu: below 0.9
  await tick(agent);
  load.value = { load1: 2.84, cpus: 2 }; // 1.42 per cpu
  await tick(agent);
  const killed = await terminal(master, 'besteffort');
  t.is(killed.status.state, 'TASK_KILLED');
  t.is(killed.status.source, 'SOURCE_AGENT');
  t.is(killed.status.reason, 'REASON_EXECUTOR_PREEMPTED');
  t.is(killed.status.message, 'Revocable task preempted: host load 1.42 per cpu is above 0.90');
  await eventually(() => !groupExists(bePgid), 'revocable task gone');

  await tick(agent); // still loaded, but there is nothing revocable left to kill
  t.deepEqual(master.statesOf('svc'), ['TASK_STARTING', 'TASK_RUNNING']);
  t.true(groupExists(svcPgid));
});

test('slack shrinking below what revocable tasks hold preempts the newest revocable task first', async (t) => {
  const { master, agent, dir, sampler } = await setup(t);
  const svcPgid = await launchRunning(master, dir, t, 'svc', { cpus: 1, mem: 256 });
  const oldPgid = await launchRunning(master, dir, t, 'rev-old', { cpus: 0.3, mem: 32, revocable: true });
  const newPgid = await launchRunning(master, dir, t, 'rev-new', { cpus: 0.3, mem: 32, revocable: true });
  sampler.usage.set('svc', { cpus: 0.1, memMb: 50 });
  await tick(agent);
  t.deepEqual(master.lastOversubscribed(), { cpus: 0.8, mem: 180 }); // holds 0.6 cpus, 64 MB: fits

  sampler.usage.set('svc', { cpus: 0.5, memMb: 50 }); // slack 0.4 cpus < 0.6 held
  await tick(agent);
  t.deepEqual(master.lastOversubscribed(), { cpus: 0.4, mem: 180 });
  const killed = await terminal(master, 'rev-new');
  t.is(killed.status.state, 'TASK_KILLED');
  t.is(killed.status.source, 'SOURCE_AGENT');
  t.is(killed.status.reason, 'REASON_EXECUTOR_PREEMPTED');
  t.is(killed.status.message, 'Revocable task preempted: slack shrank to cpus 0.4, revocable tasks hold cpus 0.6');
  await eventually(() => !groupExists(newPgid), 'newest revocable task gone');

  await tick(agent); // 0.3 held ≤ 0.4: the older one stays
  t.deepEqual(master.statesOf('rev-old'), ['TASK_STARTING', 'TASK_RUNNING']);
  t.deepEqual(master.statesOf('svc'), ['TASK_STARTING', 'TASK_RUNNING']);
  t.true(groupExists(oldPgid) && groupExists(svcPgid));
});

// The controller on its own, with synthetic tasks.
const qosTask = (id: string, seq: number, r: Res, usage?: TaskUsage, killing = false): QosTask =>
  ({ frameworkId: FW, taskId: id, task: taskInfo(id, r), seq, startTicks: 1000 + seq, killing, ...(usage ? { usage } : {}) });

test('QoS: load — kills only as many revocable tasks as the excess needs, and discounts recent kills from the lagging average', (t) => {
  let now = 0;
  const qos = new QosController({ loadThreshold: 0.9, now: () => now });
  const tasks = [
    qosTask('svc', 0, { cpus: 1 }, { cpus: 1, memMb: 10 }),
    qosTask('old', 1, { cpus: 1, revocable: true }, { cpus: 0.5, memMb: 10 }),
    qosTask('new', 2, { cpus: 1, revocable: true }, { cpus: 1.5, memMb: 10 }),
  ];
  const load = { load1: 2.84, cpus: 2 };
  // Killing 'new' (1.5 cores) brings 2.84 to 1.34, 0.67 per cpu: 'old' stays.
  t.deepEqual(qos.corrections({ tasks, load }).map((c) => c.taskId), ['new']);
  // Next interval the load average has not caught up yet: 'new' is still discounted.
  now += 5000;
  t.deepEqual(qos.corrections({ tasks: tasks.filter((x) => x.taskId !== 'new'), load }), []);
  // Minutes later a load still that high is real: 'old' goes too.
  now += 10 * 60_000;
  t.deepEqual(qos.corrections({ tasks: tasks.filter((x) => x.taskId !== 'new'), load }).map((c) => c.taskId), ['old']);
  // Below the threshold, or no load reading: nothing.
  t.deepEqual(new QosController().corrections({ tasks, load: { load1: 1.8, cpus: 2 } }), []);
  t.deepEqual(new QosController().corrections({ tasks }), []);
});

test('QoS: memory over allocation and slack shortfalls pick tasks that help, newest first; tasks being killed are skipped', (t) => {
  const qos = new QosController();
  const mem = qos.corrections({
    tasks: [
      qosTask('svc', 0, { cpus: 1, mem: 100 }, { cpus: 0.1, memMb: 150 }),
      qosTask('a', 1, { cpus: 0.1, mem: 64, revocable: true }, { cpus: 0, memMb: 40 }),
      qosTask('b', 2, { cpus: 0.1, mem: 64, revocable: true }, { cpus: 0, memMb: 20 }),
    ],
  });
  t.deepEqual(mem.map((c) => c.taskId), ['b', 'a']); // 20 MB freed is not yet the 50 MB excess
  t.is(mem[0].message, 'Revocable task preempted: non-revocable tasks use 150 MB of memory, above their allocation of 100 MB');

  const slack = new QosController().corrections({
    estimate: { cpus: 1, mem: 10 },
    tasks: [
      qosTask('svc', 0, { cpus: 2, mem: 100 }),
      qosTask('mem-holder', 1, { mem: 32, revocable: true }),
      qosTask('cpu-only', 2, { cpus: 0.2, revocable: true }),
      qosTask('dying', 3, { mem: 64, revocable: true }, undefined, true),
    ],
  });
  t.deepEqual(slack, [{ frameworkId: FW, taskId: 'mem-holder', message: 'Revocable task preempted: slack shrank to mem 10 MB, revocable tasks hold mem 32 MB' }]);
  // Non-revocable tasks are never candidates, whatever the reason.
  t.deepEqual(new QosController().corrections({ tasks: [qosTask('svc', 0, { cpus: 1 }, { cpus: 1, memMb: 1 })], load: { load1: 100, cpus: 1 }, estimate: { cpus: 0, mem: 0 } }), []);
});
