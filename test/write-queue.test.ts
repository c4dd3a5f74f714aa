// When writes reach Redis: deferrable writes (acknowledgements) wait for company, but never let a
// newer write to the same record overtake an older one — a completed task must not come back.
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { RedisStore } from '../src/store/redis-store.ts';
import type { WriteOp } from '../src/store/store.ts';
import { WriteQueue, type QueuedWrite } from '../src/store/write-queue.ts';
import type { RedisProcess } from '../src/up/redis-process.ts';
import { testRedis } from './helpers/redis.ts';

interface Op { key: string; name: string }
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A queue on a hand-driven clock whose deferral timer never fires within a test (1 h). */
function queue(t: ExecutionContext) {
  let now = 0;
  const sent: string[][] = [];
  const q = new WriteQueue<Op>({
    keyOf: (op) => op.key, deferMs: 3_600_000, now: () => now,
    send: (writes: QueuedWrite<Op>[]) => {
      sent.push(writes.flatMap((w) => w.ops.map((op) => op.name)));
      for (const w of writes) w.resolve();
    },
  });
  const write = (deferrable: boolean, ...ops: Op[]) => q.push({ ops, resolve() {}, reject() {} }, deferrable);
  t.teardown(() => q.flushAll()); // clears its 1-hour timer
  return { q, sent, write, advance: (ms: number) => { now += ms; } };
}

test('a deferrable write waits while other writes go out, and goes with the next write to its record', async (t) => {
  const { sent, write } = queue(t);
  write(true, { key: 'task-1', name: 'ack-1' });
  write(false, { key: 'task-2', name: 'launch-2' });
  await tick();
  t.deepEqual(sent, [['launch-2']], 'the acknowledgement is still waiting');
  write(false, { key: 'task-1', name: 'update-1' });
  await tick();
  t.deepEqual(sent[1], ['ack-1', 'update-1'], 'older write first');
});

test('a deferrable write whose window ended goes, taking later writes to its record along', async (t) => {
  const { sent, write, advance } = queue(t);
  write(true, { key: 'task-1', name: 'ack-running' });
  advance(3_600_000);
  write(true, { key: 'task-1', name: 'complete' }, { key: 'completed', name: 'append' });
  write(true, { key: 'completed', name: 'append-other' }); // shares the list with the completion
  write(true, { key: 'task-9', name: 'ack-9' }); // young, unrelated: stays
  write(false, { key: 'task-2', name: 'launch-2' });
  await tick();
  t.deepEqual(sent, [['ack-running', 'complete', 'append', 'append-other', 'launch-2']]);
});

test('an immediate write and a deferrable one to the same record in one tick keep their order', async (t) => {
  const { sent, write } = queue(t);
  write(false, { key: 'task-1', name: 'put' });
  write(true, { key: 'task-1', name: 'delete' });
  await tick();
  t.deepEqual(sent, [['put', 'delete']]);
});

test('flushAll sends everything in the order it was written', (t) => {
  const { q, sent, write } = queue(t);
  write(true, { key: 'a', name: '1' });
  write(false, { key: 'b', name: '2' });
  write(true, { key: 'c', name: '3' });
  q.flushAll();
  t.deepEqual(sent, [['1', '2', '3']]);
  t.is(q.size, 0);
});

test('a lone deferrable write is sent when its window ends', async (t) => {
  const sent: string[] = [];
  const q = new WriteQueue<Op>({ keyOf: (op) => op.key, deferMs: 5, send: (ws) => { for (const w of ws) { sent.push(w.ops[0].name); w.resolve(); } } });
  await new Promise<void>((resolve, reject) => q.push({ ops: [{ key: 'a', name: 'ack' }], resolve, reject }, true));
  t.deepEqual(sent, ['ack']);
});

// The same through a RedisStore on a real redis-server: what a restarted master would load.
let redis: RedisProcess;
test.before(async () => { redis = await testRedis(); });
test.after.always(async () => { await redis?.stop(); });

test('RedisStore: a task completed by an acknowledgement right after an update stays completed in Redis', async (t) => {
  const store = RedisStore.connect(redis.url, 'write-queue');
  const raw = new Redis(redis.url);
  t.teardown(async () => { raw.disconnect(); await store.close(); });
  await store.claimEpoch();
  const put: WriteOp = { op: 'put', hash: 'tasks', id: 'fw/t1', value: { state: 'TASK_FINISHED' } };
  const update = store.write([put]);
  const ack = store.write([put], { deferrable: true });
  const complete = store.write([{ op: 'delete', hash: 'tasks', id: 'fw/t1' }, { op: 'append', list: 'completed_tasks', value: { id: 't1' }, max: 10 }], { deferrable: true });
  await update;
  t.is(await raw.hget(store.key('tasks'), 'fw/t1'), null, 'the update went out with the writes queued after it to the same record');
  await Promise.all([ack, complete]);
  t.deepEqual((await store.readList('completed_tasks', 10)), [{ id: 't1' }]);
  t.deepEqual([...(await store.load()).tasks.keys()], []);
});

test('RedisStore: a read sees deferrable writes still waiting', async (t) => {
  const store = RedisStore.connect(redis.url, 'write-queue-read');
  t.teardown(() => store.close());
  await store.claimEpoch();
  void store.write([{ op: 'put', hash: 'meta', id: 'k', value: 1 }], { deferrable: true });
  t.deepEqual([...(await store.readHash('meta'))], [['k', 1]]);
});
