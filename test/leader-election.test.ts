// Leader election on the Redis lease: one leader at a time, every acquisition bumps the fencing
// epoch, a stalled leader deposes itself by its own clock, and a deposed leader's term can write
// nothing — against a real redis-server.
import test from 'ava';
import { Redis } from 'ioredis';
import { ManualClock } from '../src/common/clock.ts';
import { LeaderElection } from '../src/ha/leader-election.ts';
import { RedisLeaderLease } from '../src/ha/leader-lease.ts';
import { TermStore } from '../src/ha/term-store.ts';
import { keyPrefix } from '../src/store/redis-store.ts';
import { FencedError } from '../src/store/store.ts';
import type { RedisProcess } from '../src/up/redis-process.ts';
import { testRedis } from './helpers/redis.ts';

let redis: RedisProcess;
const clients: Redis[] = [];
let cluster = 0;

test.before(async () => { redis = await testRedis(); });
test.after.always(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

/** A fresh cluster name per test, so tests share the redis-server but not the keys. */
function setup(leaseMs: number) {
  const name = `le${cluster++}`;
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  clients.push(client);
  const candidate = (address: string, clock = new ManualClock(Date.now())) => {
    const events: string[] = [];
    const e = new LeaderElection({ lease: new RedisLeaderLease(client, name), address, leaseMs, clock });
    e.on('elected', (epoch) => events.push(`elected ${epoch}`));
    e.on('deposed', () => events.push('deposed'));
    return { e, clock, events };
  };
  const tasks = async () => client.hgetall(`${keyPrefix(name)}tasks`);
  return { name, client, candidate, tasks };
}

const put = (id: string) => [{ op: 'put' as const, hash: 'tasks' as const, id, value: { id } }];

test('one leader: the second candidate stands by and learns the leader\'s address; only the leader\'s term writes', async (t) => {
  const { name, client, candidate, tasks } = setup(5000);
  const a = candidate('10.0.0.1:5050');
  const b = candidate('10.0.0.2:5050');
  await a.e.tick();
  await b.e.tick();
  t.true(a.e.isLeader());
  t.false(b.e.isLeader());
  t.deepEqual(a.events, [`elected ${a.e.epoch}`]);
  t.deepEqual(b.events, []);
  t.is(b.e.leader?.address, '10.0.0.1:5050');
  t.is(b.e.leader?.epoch, a.e.epoch);
  t.is(Number(await client.get(`${keyPrefix(name)}epoch`)), a.e.epoch, 'the acquisition bumped the fencing epoch');
  await new TermStore(client, name, a.e.epoch).write(put('by-a'));
  t.deepEqual(Object.keys(await tasks()), ['by-a']);
});

test('a clean stop releases the lease: the standby takes over at once with a newer epoch, and the old term is fenced', async (t) => {
  const { name, client, candidate, tasks } = setup(60_000);
  const a = candidate('a:1');
  const b = candidate('b:1');
  await a.e.tick();
  const oldTerm = new TermStore(client, name, a.e.epoch);
  await b.e.tick();
  t.false(b.e.isLeader());
  await a.e.stop();
  t.deepEqual(a.events.slice(1), ['deposed']);
  await b.e.tick(); // no need to wait out the 60 s lease
  t.true(b.e.isLeader());
  t.true(b.e.epoch > a.e.epoch);
  await t.throwsAsync(oldTerm.write(put('stale')), { instanceOf: FencedError });
  t.deepEqual(await tasks(), {});
});

test('a leader that stalls past its lease deposes itself by its own clock before talking to Redis; its term writes nothing', async (t) => {
  const { name, client, candidate, tasks } = setup(400);
  const a = candidate('a:1');
  await a.e.tick();
  const term = new TermStore(client, name, a.e.epoch);
  const b = candidate('b:1');
  // A is frozen (no ticks); Redis expires its lease and B takes it.
  for (let i = 0; i < 200 && !b.e.isLeader(); i++) {
    await b.e.tick();
    if (!b.e.isLeader()) await new Promise((r) => setTimeout(r, 50));
  }
  t.true(b.e.isLeader());
  t.true(b.e.epoch > a.e.epoch);
  // A wakes up: its clock says the lease ran out.
  a.clock.advance(1000);
  t.false(a.e.isLeader(), 'no longer answers as leader, even before its next step');
  await a.e.tick();
  t.deepEqual(a.events, [`elected ${a.e.epoch}`, 'deposed']);
  await t.throwsAsync(term.write(put('after-wakeup')), { instanceOf: FencedError });
  t.deepEqual(await tasks(), {});
  t.true(b.e.isLeader(), 'the new leader is unaffected');
});

test('a leader whose lease was taken while its clock still trusted it learns so at its next renewal', async (t) => {
  const { name, client, candidate } = setup(60_000);
  const a = candidate('a:1');
  await a.e.tick();
  // Someone else's acquisition (after the lease key was lost, e.g. deleted by an operator).
  await client.del(`${keyPrefix(name)}leader`);
  const b = candidate('b:1');
  await b.e.tick();
  t.true(b.e.isLeader());
  t.true(a.e.isLeader(), 'its own clock still says so');
  await a.e.tick();
  t.false(a.e.isLeader());
  t.deepEqual(a.events.slice(1), ['deposed']);
});

test('renewing extends the lease in Redis; a lease lost from Redis while the epoch is unchanged is re-created', async (t) => {
  const { name, client, candidate } = setup(2000);
  const a = candidate('a:1');
  await a.e.tick();
  const key = `${keyPrefix(name)}leader`;
  await new Promise((r) => setTimeout(r, 150));
  const before = await client.pttl(key);
  await a.e.tick();
  t.true((await client.pttl(key)) > before);
  await client.del(key); // as if it expired while Redis was down
  const epoch = a.e.epoch;
  await a.e.tick();
  t.true(a.e.isLeader());
  t.is(a.e.epoch, epoch, 'no new term: nobody else can have led in between');
  t.is(await client.hget(key, 'token'), a.e.token);
});

test('re-acquiring after stepping down starts a new term: the epoch is bumped again', async (t) => {
  const { name, client, candidate } = setup(60_000);
  const a = candidate('a:1');
  await a.e.tick();
  const first = a.e.epoch;
  const term = new TermStore(client, name, first);
  a.e.stepDown('lost the Redis connection');
  t.false(a.e.isLeader());
  await a.e.tick(); // the lease still names A: it takes it back at once
  t.true(a.e.isLeader());
  t.true(a.e.epoch > first);
  t.deepEqual(a.events, [`elected ${first}`, 'deposed', `elected ${a.e.epoch}`]);
  await t.throwsAsync(term.write(put('old-term')), { instanceOf: FencedError });
});

test('a retired term fails its pending and later calls at once', async (t) => {
  const { name, client } = setup(1000);
  await client.set(`${keyPrefix(name)}epoch`, '7');
  const term = new TermStore(client, name, 7);
  const pending = term.write(put('x'));
  term.retire();
  await t.throwsAsync(pending, { instanceOf: FencedError });
  await t.throwsAsync(term.load(), { instanceOf: FencedError });
});

test('a replica restarted on its address takes its dead predecessor\'s lease at once; later, it never takes one from a live holder', async (t) => {
  const { name, client, candidate, tasks } = setup(60_000);
  const dead = candidate('10.0.0.1:5050');
  await dead.e.tick(); // ... and then the process is killed -9: the lease stays for 60 s
  const deadTerm = new TermStore(client, name, dead.e.epoch);
  const restarted = candidate('10.0.0.1:5050');
  await restarted.e.tick();
  t.true(restarted.e.isLeader(), 'no waiting out the predecessor\'s lease');
  t.true(restarted.e.epoch > dead.e.epoch);
  await t.throwsAsync(deadTerm.write(put('stale')), { instanceOf: FencedError }, 'the predecessor\'s writes are fenced');
  t.deepEqual(await tasks(), {});

  // A candidate past its first attempt waits, even for a holder that claims its address.
  const other = candidate('10.0.0.1:5050');
  await client.del(`${keyPrefix(name)}leader`);
  await other.e.tick(); // takes the free lease...
  await restarted.e.tick(); // ...and the old leader, renewing, learns it lost it
  t.false(restarted.e.isLeader());
  await restarted.e.tick();
  t.false(restarted.e.isLeader(), 'a running replica never takes the lease from a live holder');
  t.true(other.e.isLeader());
});
