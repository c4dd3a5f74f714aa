// End to end with real processes: a master and agents started from bin/spillway on a private
// redis-server, driven by a framework written straight from the Mesos docs (raw HTTP).
import test from 'ava';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { startCluster, operator, waitFor, waitForAgents, type Cluster } from './helpers/cluster.ts';

const INFO = { user: 'test', name: 'e2e', failover_timeout: 600 };
const offers = (e: Event) => e.type === 'OFFERS';

/** Launches `count` tasks, packing each offer, until all are placed. Returns task → agent. */
async function launchAll(fw: RawFramework, ids: string[], command: (id: string) => string): Promise<Map<string, string>> {
  const placed = new Map<string, string>();
  const queue = [...ids];
  let seen = 0;
  while (queue.length) {
    const ev = await fw.next(offers, 20_000, seen);
    seen = fw.events.indexOf(ev) + 1;
    for (const offer of ev.offers.offers) {
      const cpus = offer.resources.find((r: Event) => r.name === 'cpus')?.scalar.value ?? 0;
      const n = Math.min(queue.length, Math.floor(cpus / 0.1 + 1e-9));
      const batch = queue.splice(0, n);
      const tasks = batch.map((id) => ({ name: id, task_id: { value: id }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 0.1), scalarRes('mem', 16)], command: { value: command(id) } }));
      for (const id of batch) placed.set(id, offer.agent_id.value);
      const r = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: tasks.length ? [{ type: 'LAUNCH', launch: { task_infos: tasks } }] : [], filters: { refuse_seconds: 0 } } });
      if (r.status !== 202) throw new Error(`ACCEPT: ${r.status} ${r.body}`);
    }
  }
  return placed;
}

const terminalOf = (fw: RawFramework, id: string) => [...fw.events].reverse().find((e) => e.type === 'UPDATE' && e.update.status.task_id.value === id && /FINISHED|FAILED|KILLED|LOST|ERROR|DROPPED/.test(e.update.status.state));

let c: Cluster;
test.before(async () => { c = await startCluster({ agents: 3 }); });
test.after.always(async () => { await c?.stop(); });

test.serial('a raw Mesos framework runs 50 tasks across 3 agents; all finish and are acknowledged', async (t) => {
  const fw = new RawFramework(c.masterUrl);
  t.is(await fw.subscribe(INFO), 200);
  const ids = Array.from({ length: 50 }, (_, i) => `batch-${i}`);
  const placed = await launchAll(fw, ids, (id) => `echo ${id}`);
  t.true(new Set(placed.values()).size >= 2, 'tasks spread over several agents');
  await waitFor(() => ids.every((id) => terminalOf(fw, id)), 60_000, 'all tasks to end');
  for (const id of ids) t.is(terminalOf(fw, id)!.update.status.state, 'TASK_FINISHED', id);
  // Every update was acknowledged: the master tracks no task of this framework any more.
  await waitFor(async () => (await operator(c.masterUrl, 'GET_TASKS')).get_tasks.tasks.length === 0, 10_000, 'no active tasks');
  const completed = (await operator(c.masterUrl, 'GET_TASKS')).get_tasks.completed_tasks.filter((x: Event) => x.framework_id.value === fw.frameworkId);
  t.is(completed.length, 50);
  const states = new Set(fw.events.filter((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'batch-7').map((e) => e.update.status.state));
  t.true(states.has('TASK_STARTING') && states.has('TASK_RUNNING') && states.has('TASK_FINISHED'));
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('KILL stops a running task: TASK_KILLED and its resources come back', async (t) => {
  const fw = new RawFramework(c.masterUrl);
  await fw.subscribe(INFO);
  await launchAll(fw, ['sleeper'], () => 'sleep 300');
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.state === 'TASK_RUNNING', 20_000);
  t.is((await fw.call({ type: 'KILL', kill: { task_id: { value: 'sleeper' } } })).status, 202);
  const killed = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'sleeper' && e.update.status.state === 'TASK_KILLED', 20_000);
  t.regex(killed.update.status.message ?? '', /signal|kill/i);
  await waitFor(async () => {
    const agents = (await operator(c.masterUrl, 'GET_AGENTS')).get_agents.agents as Event[];
    return agents.every((a) => a.allocated_resources.length === 0);
  }, 10_000, 'resources released');
  t.pass();
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('a task given ports and disk from an offer sees its port as $PORT0, inside the offered range, on a real agent', async (t) => {
  const fw = new RawFramework(c.masterUrl);
  t.is(await fw.subscribe(INFO), 200);
  type Range = { begin: number; end: number };
  const rangesOf = (resources: Event[]): Range[] => resources.filter((r) => r.name === 'ports').flatMap((r) => r.ranges.range as Range[]);
  const ev = await fw.next((e) => offers(e) && e.offers.offers.some((o: Event) => rangesOf(o.resources).length > 0), 20_000);
  const offer = ev.offers.offers.find((o: Event) => rangesOf(o.resources).length > 0)!;
  const offered = rangesOf(offer.resources);
  t.true(offer.resources.some((r: Event) => r.name === 'disk' && r.scalar.value >= 8), 'the offer has disk');
  // Not the first port of the range: the task must see the port it was given, not a default.
  const port = Math.min(offered[0].begin + 7, offered[0].end);
  const task = {
    name: 'ported', task_id: { value: 'ported' }, agent_id: offer.agent_id,
    resources: [scalarRes('cpus', 0.1), scalarRes('mem', 16), scalarRes('disk', 8), { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: port, end: port }] } }],
    command: { value: 'echo "PORT0=$PORT0 PORTS=$PORTS"' },
  };
  const accepted = await fw.call({ type: 'ACCEPT', accept: { offer_ids: [offer.id], operations: [{ type: 'LAUNCH', launch: { task_infos: [task] } }], filters: { refuse_seconds: 0 } } });
  t.is(accepted.status, 202, accepted.body);
  const others = ev.offers.offers.filter((o: Event) => o.id.value !== offer.id.value).map((o: Event) => o.id);
  if (others.length) await fw.call({ type: 'DECLINE', decline: { offer_ids: others, filters: { refuse_seconds: 0 } } });
  await waitFor(() => terminalOf(fw, 'ported') !== undefined, 30_000, 'the task to end');
  t.is(terminalOf(fw, 'ported')!.update.status.state, 'TASK_FINISHED', terminalOf(fw, 'ported')!.update.status.message);
  // Its stdout, through the agent's files API (as `spillway run` reads it).
  const agent = ((await operator(c.masterUrl, 'GET_AGENTS')).get_agents.agents as Event[]).find((a) => a.agent_info.id.value === offer.agent_id.value)!;
  const url = `http://${agent.agent_info.hostname}:${agent.agent_info.port}/files/read?path=${encodeURIComponent(`sandboxes/${fw.frameworkId}/ported/stdout`)}&offset=0`;
  let stdout = '';
  await waitFor(async () => {
    const res = await fetch(url).catch(() => undefined);
    if (res?.status === 200) stdout = ((await res.json()) as { data: string }).data;
    return stdout.endsWith('\n');
  }, 10_000, 'the task stdout');
  const seen = Number(/^PORT0=(\d+) /.exec(stdout)?.[1]);
  t.is(stdout, `PORT0=${port} PORTS=${port}\n`);
  t.true(offered.some((r) => seen >= r.begin && seen <= r.end), `PORT0 ${seen} is inside the offered ${JSON.stringify(offered)}`);
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
});

test.serial('an agent killed with SIGKILL: its tasks are reported TASK_LOST and it leaves the offers', async (t) => {
  const fw = new RawFramework(c.masterUrl);
  await fw.subscribe(INFO);
  const placed = await launchAll(fw, ['victim'], () => 'sleep 300');
  await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'victim' && e.update.status.state === 'TASK_RUNNING', 20_000);
  const agentId = placed.get('victim')!;
  const agents = (await operator(c.masterUrl, 'GET_AGENTS')).get_agents.agents as Event[];
  const victimPort = agents.find((a) => a.agent_info.id.value === agentId)!.agent_info.port;
  const idx = c.agents.findIndex((a) => a.port === victimPort);
  await c.kill(c.agents[idx].child, 'SIGKILL');
  const lost = await fw.next((e) => e.type === 'UPDATE' && e.update.status.task_id.value === 'victim' && e.update.status.state === 'TASK_LOST', 20_000);
  t.is(lost.update.status.reason, 'REASON_AGENT_REMOVED');
  await fw.next((e) => e.type === 'FAILURE' && e.failure.agent_id.value === agentId, 5000);
  const from = fw.events.length;
  await fw.call({ type: 'REVIVE' });
  await new Promise((r) => setTimeout(r, 500));
  const offeredAgents = fw.events.slice(from).filter(offers).flatMap((e) => e.offers.offers.map((o: Event) => o.agent_id.value));
  t.false(offeredAgents.includes(agentId), 'the dead agent is not offered');
  t.false((await operator(c.masterUrl, 'GET_AGENTS')).get_agents.agents.some((a: Event) => a.agent_info.id.value === agentId));
  await fw.call({ type: 'TEARDOWN' });
  fw.close();
  // Bring a fresh agent back in that slot for later tests.
  await c.startAgent(idx);
  await waitForAgents(c.masterUrl, 3);
});

test.serial('the master restarted: agents and the framework reconnect, tasks keep running and no task record is lost', async (t) => {
  const fw = new RawFramework(c.masterUrl);
  await fw.subscribe(INFO);
  const ids = ['keep-0', 'keep-1', 'keep-2', 'keep-3'];
  await launchAll(fw, ids, () => 'sleep 300');
  await waitFor(() => ids.every((id) => fw.events.some((e) => e.type === 'UPDATE' && e.update.status.task_id.value === id && e.update.status.state === 'TASK_RUNNING')), 20_000, 'tasks running');
  const frameworkId = fw.frameworkId;
  await c.kill(c.master, 'SIGKILL');
  fw.close();
  await c.startMaster();
  await waitForAgents(c.masterUrl, 3);
  const again = new RawFramework(c.masterUrl);
  t.is(await again.subscribe({ ...INFO, id: { value: frameworkId } }, { framework_id: { value: frameworkId } }), 200);
  const tasks = (await operator(c.masterUrl, 'GET_TASKS')).get_tasks.tasks as Event[];
  t.deepEqual(tasks.filter((x) => x.framework_id.value === frameworkId).map((x) => x.task_id.value).sort(), ids);
  t.true(tasks.every((x) => x.state === 'TASK_RUNNING'));
  await again.call({ type: 'RECONCILE', reconcile: { tasks: [] } });
  await waitFor(() => ids.every((id) => again.events.some((e) => e.type === 'UPDATE' && e.update.status.task_id.value === id && e.update.status.state === 'TASK_RUNNING')), 10_000, 'reconciliation');
  // The tasks still run after the failover: kill them through the new master.
  for (const id of ids) await again.call({ type: 'KILL', kill: { task_id: { value: id } } });
  await waitFor(() => ids.every((id) => terminalOf(again, id)?.update.status.state === 'TASK_KILLED'), 20_000, 'tasks killed');
  t.pass();
  await again.call({ type: 'TEARDOWN' });
  again.close();
});
