// Fault: Redis refuses a write for another reason than fencing — here a key of the master's that
// something else overwrote with another type. Nothing of the refused batch is written (a Lua script
// is not rolled back, so the batch checks every key first), the framework is told to retry (503),
// the master's term ends instead of running on a mirror Redis does not hold, and once the key is
// repaired the next term reloads: no phantom task, no resources lost from the offers.
import test from 'ava';
import { Redis } from 'ioredis';
import { RawFramework, scalarRes, type Event } from './helpers/raw-framework.ts';
import { inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { waitFor } from './helpers/cluster.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';
import { keyPrefix, RedisStore } from '../src/store/redis-store.ts';

let m: InProcessMaster;
let agent: SimulatedAgent;
let redis: Redis;
const key = (name: string) => keyPrefix('default') + name;

test.before(async () => {
  m = await inProcessMaster();
  redis = new Redis(m.redis.url);
  // replicas: like a real agent it subscribes again to the next term.
  agent = new SimulatedAgent({ master: m.url, replicas: [m.url], behaviour: 'run', resources: resources({ cpus: 4, mem: 4096, disk: 1000 }, [[31000, 31009]]) });
  await agent.start();
});

test.after.always(async () => {
  agent?.stop();
  redis?.disconnect();
  await m?.shutdown();
});

const offersEvent = (e: Event) => e.type === 'OFFERS' && e.offers.offers.length > 0;
const cpusOf = (offer: Event): number => offer.resources.find((r: Event) => r.name === 'cpus').scalar.value;

async function leading(): Promise<boolean> {
  const res = await fetch(`${m.url}/api/v1`, { method: 'POST', body: '{"type":"GET_HEALTH"}', headers: { 'Content-Type': 'application/json' }, redirect: 'manual' }).catch(() => undefined);
  return res?.status === 200;
}

test.serial('a batch with a key of the wrong type is refused whole, with the key named', async (t) => {
  const store = new RedisStore(redis.duplicate(), 'refusal-check');
  await store.claimEpoch();
  await redis.set(keyPrefix('refusal-check') + 'tasks', 'not a hash');
  const err = await t.throwsAsync(store.write([
    { op: 'put', hash: 'agents', id: 'a1', value: { id: 'a1' } },
    { op: 'put', hash: 'tasks', id: 't1', value: { id: 't1' } },
  ]));
  t.regex(err.message, /WRONGTYPE \{spillway:refusal-check\}:tasks holds a string, not a hash; nothing of this batch was written/);
  t.is(await redis.hlen(keyPrefix('refusal-check') + 'agents'), 0, 'the ops before the bad key were not applied either');
  await store.close();
});

test.serial('a launch Redis refuses is answered 503 and leaves nothing behind once the master reloads', async (t) => {
  const fw = new RawFramework(m.url);
  t.is(await fw.subscribe({ user: 'test', name: 'refused', failover_timeout: 60 }), 200);
  const offer = (await fw.next(offersEvent)).offers.offers[0];
  t.is(cpusOf(offer), 4);

  await redis.set(key('tasks'), 'overwritten by something else');
  const accept = await fw.call({
    type: 'ACCEPT',
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 't1', task_id: { value: 't1' }, agent_id: offer.agent_id, resources: [scalarRes('cpus', 1), scalarRes('mem', 64)], command: { value: 'true' } }] } }],
      filters: { refuse_seconds: 0 },
    },
  });
  t.is(accept.status, 503, accept.body);
  t.regex(accept.body, /retry with the leading master/);
  // The term ended; with the key still wrong the next one cannot load, so no replica leads.
  await waitFor(async () => !(await leading()), 20_000, 'the term to end');
  t.is(agent.launched.length, 0, 'the agent was never told to launch');

  await redis.del(key('tasks'));
  await waitFor(leading, 30_000, 'a new term to load the repaired state');
  const again = new RawFramework(m.url);
  t.is(await again.subscribe({ user: 'test', name: 'refused', failover_timeout: 60, id: { value: fw.frameworkId } }), 200);
  const fresh = (await again.next(offersEvent)).offers.offers[0];
  t.is(cpusOf(fresh), 4, 'the refused launch holds no resources');
  const tasks = await fetch(`${m.url}/api/v1`, { method: 'POST', body: '{"type":"GET_TASKS"}', headers: { 'Content-Type': 'application/json', Accept: 'application/json' } }).then((r) => r.json()) as { get_tasks: { tasks?: unknown[] } };
  t.deepEqual(tasks.get_tasks.tasks ?? [], [], 'no phantom task');
  fw.close();
  again.close();
});
