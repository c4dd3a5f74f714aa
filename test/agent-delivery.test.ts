// Status update delivery and the master connection: retries until 202, ordering, the journal,
// redirects to the leader, re-subscription after a broken stream or an ERROR event.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../src/common/logger.ts';
import { newStatusUuid } from '../src/mesos/task-status.ts';
import { StatusJournal, type JournaledUpdate } from '../agents/status-journal.ts';
import { FakeMaster } from './helpers/agent-fake-master.ts';
import { commandTask, eventually, FW, killGroup, readCheckpoint, startTestAgent, tempWorkDir } from './helpers/agent-test-utils.ts';

async function fixture(t: { teardown: (fn: () => Promise<void> | void) => void }) {
  const { dir, cleanup } = await tempWorkDir();
  const master = await FakeMaster.start();
  t.teardown(async () => {
    await master.close();
    await cleanup();
  });
  return { dir, master };
}

test('UPDATE refused with 500 is retried until accepted, delivered once and in order', async (t) => {
  const { dir, master } = await fixture(t);
  const agent = await startTestAgent(master.url, dir);
  t.teardown(() => agent.stop({ killTasks: true }));
  await eventually(() => master.connected, 'subscription');
  master.failNextUpdates(3);
  master.launch(FW, commandTask('retry', 'echo hi'));
  await eventually(() => master.statesOf('retry').length === 3, 'three accepted updates');
  t.deepEqual(master.statesOf('retry'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  t.true(master.updateAttempts.length >= 6, 'the refused attempts reached the master');
  // Nothing is sent before its predecessor is accepted: attempts are in state order too.
  const order = ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'];
  const attemptStates = master.updateAttempts.map((u) => order.indexOf(u.status.state));
  t.deepEqual(attemptStates, [...attemptStates].sort());

  const lines = (await readFile(join(dir, 'status-journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  await eventually(async () => (await readFile(join(dir, 'status-journal.jsonl'), 'utf8')).split('"ack"').length - 1 === 3, 'three ack lines');
  t.is(lines.filter((l) => l.type === 'update').length, 3);
});

test('journal: compaction keeps only unacknowledged updates, and reopening re-sends them', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  let accept = true;
  const sent: string[] = [];
  const send = async (batch: readonly JournaledUpdate[]): Promise<boolean> => {
    if (!accept) return false;
    sent.push(...batch.map((u) => u.status.uuid!));
    return true;
  };
  const status = (task: string) => ({ task_id: { value: task }, state: 'TASK_RUNNING' as const, uuid: newStatusUuid() });
  const journal = await StatusJournal.open(dir, send, { logger: silentLogger, maxBackoffMs: 50, compactAfterAcks: 5 });
  for (let i = 0; i < 12; i++) await journal.record({ framework_id: FW, status: status(`t${i}`) });
  await eventually(() => sent.length === 12 && journal.unacknowledged().length === 0, 'all sent');
  accept = false;
  const stuck = status('stuck');
  await journal.record({ framework_id: FW, status: stuck });
  await journal.close();

  const lines = (await readFile(join(dir, 'status-journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.true(lines.length < 12 + 12, 'acknowledged updates were compacted away');
  accept = true;
  sent.length = 0;
  const reopened = await StatusJournal.open(dir, send, { logger: silentLogger, maxBackoffMs: 50 });
  await eventually(() => sent.length === 1, 're-send');
  t.deepEqual(sent, [stuck.uuid]);
  await eventually(() => reopened.unacknowledged().length === 0, 'ack');
  await reopened.close();
  const after = (await readFile(join(dir, 'status-journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(after.map((l) => l.type), ['update', 'ack']);
});

test('journal: a torn last line is ignored on reopening', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const { writeFile } = await import('node:fs/promises');
  const good = { type: 'update', framework_id: FW, status: { task_id: { value: 'a' }, state: 'TASK_RUNNING', uuid: newStatusUuid() } };
  await writeFile(join(dir, 'status-journal.jsonl'), `${JSON.stringify(good)}\n{"type":"upd`);
  const journal = await StatusJournal.open(dir, async () => false, { logger: silentLogger, maxBackoffMs: 50 });
  t.deepEqual(journal.unacknowledged().map((u) => u.status.uuid), [good.status.uuid]);
  await journal.close();
});

test('SUBSCRIBE carries resources (flag overrides detection), attributes, hostname and port; PINGs follow', async (t) => {
  const { dir, master } = await fixture(t);
  const agent = await startTestAgent(master.url, dir, { resources: 'cpus:3;gpus:1', attributes: 'rack:r1;zone:a;level:2', defaultPorts: '[31000-31099]' });
  t.teardown(() => agent.stop({ killTasks: true }));
  await eventually(() => master.connected, 'subscription');
  const info = master.subscribes[0].agent_info;
  t.is(info.id, undefined);
  t.is(info.hostname, '127.0.0.1');
  t.is(info.port, agent.port);
  const byName = Object.fromEntries((info.resources as { name: string }[]).map((r) => [r.name, r]));
  t.deepEqual(byName.cpus, { name: 'cpus', type: 'SCALAR', scalar: { value: 3 } });
  t.deepEqual(byName.gpus, { name: 'gpus', type: 'SCALAR', scalar: { value: 1 } });
  t.truthy(byName.mem && byName.disk, 'detected mem and disk kept');
  t.deepEqual(byName.ports, { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31099 }] } });
  t.deepEqual(info.attributes, [
    { name: 'rack', type: 'TEXT', text: { value: 'r1' } },
    { name: 'zone', type: 'TEXT', text: { value: 'a' } },
    { name: 'level', type: 'SCALAR', scalar: { value: 2 } },
  ]);
  await eventually(() => master.pings >= 2, 'pings');
  t.pass();
});

test('a broken stream is re-subscribed with the agent id and the running tasks', async (t) => {
  const { dir, master } = await fixture(t);
  const agent = await startTestAgent(master.url, dir);
  t.teardown(() => agent.stop({ killTasks: true }));
  await eventually(() => master.connected, 'subscription');
  master.launch(FW, commandTask('steady', 'sleep 60'));
  await eventually(() => master.statesOf('steady').includes('TASK_RUNNING'), 'RUNNING');
  const { pgid } = await readCheckpoint(dir, 'steady');
  t.teardown(() => killGroup(pgid));
  master.dropStream();
  await eventually(() => master.subscribes.length === 2 && master.connected, 're-subscription');
  const sub = master.subscribes[1];
  t.is(sub.agent_info.id?.value, agent.agentId());
  t.deepEqual(sub.tasks, [{ framework_id: { value: FW }, task_id: { value: 'steady' }, state: 'TASK_RUNNING' }]);
});

test('an ERROR event makes the agent re-subscribe', async (t) => {
  const { dir, master } = await fixture(t);
  const agent = await startTestAgent(master.url, dir);
  t.teardown(() => agent.stop({ killTasks: true }));
  await eventually(() => master.connected, 'subscription');
  master.send({ type: 'HEARTBEAT' });
  master.send({ type: 'ERROR', message: 'go away and come back' });
  await eventually(() => master.subscribes.length === 2 && master.connected, 're-subscription');
  t.is(master.subscribes[1].agent_info.id?.value, agent.agentId());
});

test('a 307 from a non-leading master is followed to the leader', async (t) => {
  const { dir, master } = await fixture(t);
  const follower = await FakeMaster.redirector(master.url);
  t.teardown(() => follower.close());
  const agent = await startTestAgent(follower.url, dir);
  t.teardown(() => agent.stop({ killTasks: true }));
  await eventually(() => master.connected, 'subscription at the leader');
  t.is(follower.hits(), 1);
  master.launch(FW, commandTask('led', 'true'));
  await eventually(() => master.statesOf('led').includes('TASK_FINISHED'), 'updates at the leader');
  t.pass();
});

test('an agent started before its master keeps retrying until the master appears', async (t) => {
  const { dir, cleanup } = await tempWorkDir();
  t.teardown(cleanup);
  const probe = await FakeMaster.start();
  const url = probe.url;
  await probe.close(); // nothing listens there now
  const agent = await startTestAgent(url, dir);
  t.teardown(() => agent.stop({ killTasks: true }));
  await new Promise((r) => setTimeout(r, 500));
  t.is(agent.agentId(), undefined);
  const master = await FakeMaster.start({ port: Number(new URL(url).port) });
  t.teardown(() => master.close());
  await eventually(() => agent.agentId(), 'subscription');
  t.is(agent.agentId(), 'agent-1');
});
