// Framework rate limiting (Mesos' --rate_limits) and the task launch gate: the token bucket, the
// FIFO throttle and the gate on a manual clock; the scheduler API against a real master on a real
// Redis; and `spillway master` refusing bad configurations.
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ManualClock } from '../src/common/clock.ts';
import {
  AGGREGATE_DEFAULT, CapacityExceededError, FrameworkRateLimiter, ThrottleClosedError, Throttle, TokenBucket,
  capacityExceededMessage, createLaunchGate, loadRateLimits, parseRateLimits, type Timers,
} from '../src/master/rate-limits.ts';
import { freePort } from '../src/up/redis-process.ts';
import { RawFramework } from './helpers/raw-framework.ts';
import { FAST_MASTER, inProcessMaster, type InProcessMaster } from './helpers/in-process.ts';
import { SchedulerClient } from '../src/sdk/scheduler-client.ts';
import { runMaster, type RunningMaster } from '../src/master/run-master.ts';
import { silentLogger } from '../src/common/logger.ts';
import { waitFor } from './helpers/cluster.ts';
import { BIN } from './helpers/cluster.ts';
import { tempDir } from './helpers/redis.ts';

/** Timers driven by a ManualClock: advance() fires due timers in time order, each at its own time. */
class ManualTimers implements Timers {
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  private seq = 0;
  constructor(readonly clock = new ManualClock()) {}
  set(fn: () => void, ms: number): () => void {
    const t = { at: this.clock.now() + ms, seq: this.seq++, fn, live: true };
    this.timers.push(t);
    return () => { t.live = false; };
  }
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => t.live);
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      next.live = false;
      this.clock.set(Math.max(this.clock.now(), next.at));
      next.fn();
      await flush();
    }
    this.clock.set(end);
    await flush();
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

// ----------------------------------------------------------------------------------------------
// Token bucket, throttle, launch gate (manual clock)

test('token bucket with one token spaces takes by 1/rate and does not save up while idle', (t) => {
  const clock = new ManualClock(1000);
  const b = new TokenBucket(5, 1, clock);
  t.true(b.tryTake(1));
  t.false(b.tryTake(1));
  t.is(b.msUntil(1), 200);
  clock.advance(100);
  t.is(b.msUntil(1), 100);
  t.false(b.tryTake(1));
  clock.advance(100);
  t.true(b.tryTake(1));
  clock.advance(60_000);
  t.is(b.available(), 1);
  t.true(b.tryTake(1));
  t.false(b.tryTake(1));
  clock.set(0); // a clock that steps back neither adds nor removes tokens
  t.is(b.available(), 0);
});

test('token bucket: a take larger than the burst waits for a full bucket and leaves debt', (t) => {
  const clock = new ManualClock();
  const b = new TokenBucket(10, 10, clock);
  t.true(b.tryTake(25));
  t.is(b.available(), -15);
  t.is(b.msUntil(1), 1600);
  clock.advance(1600);
  t.true(b.tryTake(1));
  t.throws(() => new TokenBucket(0, 1, clock), { instanceOf: RangeError });
  t.throws(() => new TokenBucket(1, 0.5, clock), { instanceOf: RangeError });
});

test('throttle grants in arrival order, one every 1/qps (Mesos RateLimiter)', async (t) => {
  const timers = new ManualTimers();
  const th = new Throttle({ rate: 5, clock: timers.clock, timers });
  const granted: [number, number][] = [];
  const all = Array.from({ length: 20 }, (_, i) => th.acquire().then(() => { granted.push([i, timers.clock.now()]); }));
  await flush();
  t.deepEqual(granted, [[0, 0]]);
  t.is(th.waiting, 19);
  await timers.advance(5000);
  await Promise.all(all);
  t.deepEqual(granted.map(([i]) => i), Array.from({ length: 20 }, (_, i) => i));
  t.deepEqual(granted.map(([, at]) => at), Array.from({ length: 20 }, (_, i) => i * 200));
  t.is(th.waiting, 0);
  // Idle long enough: the next call goes at once, the one after it waits 1/qps again.
  const late: number[] = [];
  await flush();
  const a = th.acquire().then(() => late.push(timers.clock.now()));
  const b = th.acquire().then(() => late.push(timers.clock.now()));
  await flush();
  await timers.advance(1000);
  await Promise.all([a, b]);
  t.deepEqual(late, [5000, 5200]);
});

test('throttle capacity bounds the waiting calls; the excess is refused at once', async (t) => {
  const timers = new ManualTimers();
  const th = new Throttle({ rate: 2, capacity: 3, clock: timers.clock, timers });
  const results = Array.from({ length: 6 }, () => th.acquire().then(() => 'ok', (e: unknown) => e));
  await flush();
  t.is(th.waiting, 3);
  const refused = await Promise.all(results.slice(4));
  for (const e of refused) {
    t.true(e instanceof CapacityExceededError);
    t.is((e as CapacityExceededError).capacity, 3);
  }
  await timers.advance(500); // one permit: one waiter granted, so one more fits
  t.is(th.waiting, 2);
  const again = th.acquire();
  t.is(th.waiting, 3);
  await timers.advance(2000);
  t.deepEqual(await Promise.all(results.slice(0, 4)), ['ok', 'ok', 'ok', 'ok']);
  await again;
  t.is(capacityExceededMessage('REVIVE', 3), 'Message REVIVE dropped: capacity(3) exceeded');
});

test('closing a throttle rejects its waiters and later calls', async (t) => {
  const timers = new ManualTimers();
  const th = new Throttle({ rate: 1, clock: timers.clock, timers });
  await th.acquire();
  const waiting = th.acquire();
  th.close();
  await t.throwsAsync(waiting, { instanceOf: ThrottleClosedError });
  await t.throwsAsync(th.acquire(), { instanceOf: ThrottleClosedError });
});

test('limiter choice follows Mesos: listed principal, listed without qps, unlisted or none → aggregate', (t) => {
  const limiter = new FrameworkRateLimiter(parseRateLimits(JSON.stringify({
    limits: [{ principal: 'foo', qps: 55.5, capacity: 100 }, { principal: 'bar', qps: 300 }, { principal: 'baz', capacity: 7 }],
    aggregate_default_qps: 33.3, aggregate_default_capacity: 1000,
  })), { timers: new ManualTimers() });
  const foo = limiter.limiterFor('foo');
  t.is(foo?.key, 'foo');
  t.is(foo?.throttle.rate, 55.5);
  t.is(foo?.throttle.capacity, 100);
  t.is(limiter.limiterFor('foo'), foo, 'frameworks with the same principal share one limiter');
  t.is(limiter.limiterFor('bar')?.throttle.capacity, undefined, 'no capacity: unbounded');
  t.is(limiter.limiterFor('baz'), undefined, 'listed without qps: not throttled, capacity ignored');
  const agg = limiter.limiterFor('qux');
  t.is(agg?.key, AGGREGATE_DEFAULT);
  t.is(agg?.throttle.rate, 33.3);
  t.is(agg?.throttle.capacity, 1000);
  t.is(limiter.limiterFor(undefined), agg, 'no principal: the same aggregate limiter');
  t.is(limiter.limiters().length, 3);
  const noDefault = new FrameworkRateLimiter(parseRateLimits('{"limits":[{"principal":"foo","qps":1}]}'));
  t.is(noDefault.limiterFor('qux'), undefined, 'no aggregate_default_qps: unlisted frameworks are not throttled');
  t.is(noDefault.limiterFor(undefined), undefined);
  limiter.close();
  noDefault.close();
});

test('launch gate: unlimited lets everything through; bad counts are refused', async (t) => {
  const gate = createLaunchGate(undefined);
  t.is(gate.perSecond, undefined);
  await gate.take(1_000_000);
  await gate.take(0);
  await t.throwsAsync(gate.take(-1), { instanceOf: RangeError });
  await t.throwsAsync(gate.take(1.5), { instanceOf: RangeError });
  gate.close();
  await t.throwsAsync(gate.take(1), { instanceOf: ThrottleClosedError });
});

test('launch gate: n per second with a one-second bucket, FIFO, big batches pay afterwards', async (t) => {
  const timers = new ManualTimers();
  const gate = createLaunchGate(10, { clock: timers.clock, timers });
  t.is(gate.perSecond, 10);
  const at: Record<string, number> = {};
  const take = (name: string, n: number) => gate.take(n).then(() => { at[name] = timers.clock.now(); });
  const all = [take('10', 10), take('5a', 5), take('5b', 5), take('30', 30), take('1', 1), take('0', 0)];
  await flush();
  t.deepEqual(at, { 10: 0, 0: 0 }, 'a full bucket of 10 at once; 0 launches never wait');
  await timers.advance(10_000);
  await Promise.all(all);
  // 5 more tokens take 0.5 s each; 30 > the bucket waits for a full bucket (10) at 2 s and leaves
  // 20 of debt, so the next single launch needs 21 tokens: 2.1 s later.
  t.deepEqual(at, { 10: 0, 0: 0, '5a': 500, '5b': 1000, 30: 2000, 1: 4100 });
  await gate.take(10);
  const pending = gate.take(1);
  gate.close();
  await t.throwsAsync(pending, { instanceOf: ThrottleClosedError });
});

// ----------------------------------------------------------------------------------------------
// Configuration parsing

test("parses Mesos' --rate_limits JSON", (t) => {
  const example = { limits: [{ principal: 'foo', qps: 55.5 }, { principal: 'bar', qps: 300, capacity: 1000 }], aggregate_default_qps: 33.3, aggregate_default_capacity: 1000 };
  t.deepEqual(parseRateLimits(JSON.stringify(example)), example);
  // The Mesos docs' example: "baz" listed without qps (not throttled).
  const docs = parseRateLimits('{"limits":[{"principal":"foo","qps":55.5,"capacity":100000},{"principal":"bar","qps":300},{"principal":"baz"}],"aggregate_default_qps":333,"aggregate_default_capacity":1000000}');
  t.deepEqual(docs.limits[2], { principal: 'baz' });
  t.deepEqual(parseRateLimits('{}'), { limits: [] });
  t.deepEqual(parseRateLimits('{"aggregate_default_qps": 5}'), { limits: [], aggregate_default_qps: 5 });
});

test('rate limit errors name the field', (t) => {
  const err = (json: string) => t.throws(() => parseRateLimits(json))?.message;
  t.regex(err('{"limits": [') ?? '', /^not valid JSON/);
  t.is(err('{"limits":[{"principal":"foo","qps":55.5},{"principal":"bar","qps":-1}]}'), 'limits[1].qps: must be > 0');
  t.is(err('{"limits":[{"principal":"foo","qps":0}]}'), 'limits[0].qps: must be > 0');
  t.is(err('{"limits":[{"principal":"foo","qps":"5"}]}'), 'limits[0].qps: must be a number');
  t.is(err('{"limits":[{"principal":"foo","qps":1,"capacity":2.5}]}'), 'limits[0].capacity: must be a positive integer');
  t.is(err('{"limits":[{"principal":"foo","qps":1,"capacity":0}]}'), 'limits[0].capacity: must be a positive integer');
  t.is(err('{"limits":[{"principal":"foo","qps":1},{"principal":"foo"}]}'), "limits[1].principal: duplicate principal 'foo' (also limits[0])");
  t.is(err('{"limits":[{"qps":1}]}'), 'limits[0].principal: is required');
  t.is(err('{"limits":[{"principal":"","qps":1}]}'), 'limits[0].principal: must not be empty');
  t.is(err('{"limits":[{"principal":"a","qsp":1}]}'), "limits[0]: unknown field 'qsp'");
  t.is(err('{"limits":{}}'), 'limits: must be an array');
  t.is(err('{"aggregate_default_qps":-2}'), 'aggregate_default_qps: must be > 0');
  t.is(err('{"aggregate_default_qps":2,"aggregate_default_capacity":-1}'), 'aggregate_default_capacity: must be a positive integer');
  t.is(err('{"aggregate_default_qsp":2}'), "(top level): unknown field 'aggregate_default_qsp'");
  t.is(err('[]'), '(top level): must be a JSON object');
});

test('--rate-limits takes inline JSON, file:///path or /path', (t) => {
  const dir = tempDir('spillway-rl-');
  const file = join(dir, 'limits.json');
  writeFileSync(file, '{"limits":[{"principal":"foo","qps":2}]}');
  t.deepEqual(loadRateLimits(pathToFileURL(file).href), { limits: [{ principal: 'foo', qps: 2 }] });
  t.deepEqual(loadRateLimits(file), { limits: [{ principal: 'foo', qps: 2 }] });
  t.deepEqual(loadRateLimits(' {"limits":[]} '), { limits: [] });
  t.regex(t.throws(() => loadRateLimits(pathToFileURL(join(dir, 'missing.json')).href))?.message ?? '', /^cannot read .*missing\.json/);
});

// ----------------------------------------------------------------------------------------------
// The scheduler API against a real master

let m: InProcessMaster;

test.before(async () => {
  m = await inProcessMaster({}, undefined, {
    rateLimits: parseRateLimits(JSON.stringify({
      limits: [{ principal: 'foo', qps: 5 }, { principal: 'bar', qps: 2, capacity: 3 }, { principal: 'free' }],
      aggregate_default_qps: 4,
    })),
    maxTaskLaunchesPerSecond: 50,
  });
});

test.after.always(async () => {
  await m?.shutdown();
});

const info = (name: string, principal?: string) => ({ user: 'test', name, ...(principal ? { principal } : {}) });

async function subscribed(name: string, principal?: string): Promise<RawFramework> {
  const fw = new RawFramework(m.url);
  const status = await fw.subscribe(info(name, principal));
  if (status !== 200) throw new Error(`subscribe: ${status}`);
  return fw;
}

interface Answer { status: number; body: string; retryAfter: string | null; doneAt: number }

async function call(fw: RawFramework, body: object, streamId = fw.streamId): Promise<Answer> {
  const res = await fetch(new URL('/api/v1/scheduler', m.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Mesos-Stream-Id': streamId },
    body: JSON.stringify({ framework_id: { value: fw.frameworkId }, ...body }),
  });
  const text = await res.text();
  return { status: res.status, body: text, retryAfter: res.headers.get('retry-after'), doneAt: performance.now() };
}

const revives = (fw: RawFramework, n: number) => Promise.all(Array.from({ length: n }, () => call(fw, { type: 'REVIVE' })));
const span = (answers: Answer[]) => {
  const times = answers.map((a) => a.doneAt).sort((a, b) => a - b);
  return times[times.length - 1] - times[0];
};

test.serial('the launch gate configured for runMaster is exposed', (t) => {
  t.is(m.launchGate.perSecond, 50);
});

test.serial('a limited principal waits (all calls processed, spaced by 1/qps) while an unlimited one is not delayed', async (t) => {
  const foo = await subscribed('foo-fw', 'foo');
  const free = await subscribed('free-fw', 'free');
  const fooCalls = revives(foo, 20);
  const freeAnswers = await revives(free, 20);
  const fooAnswers = await fooCalls;
  t.true(fooAnswers.every((a) => a.status === 202), JSON.stringify(fooAnswers.filter((a) => a.status !== 202)));
  t.true(freeAnswers.every((a) => a.status === 202));
  // 5 qps: the 20th call is processed ~3.8 s after the first (one permit at once, 19 × 200 ms).
  const fooSpan = span(fooAnswers);
  t.true(fooSpan >= 3000, `foo's 20 calls took ${fooSpan} ms`);
  const freeSpan = span(freeAnswers);
  t.true(freeSpan < fooSpan / 3, `'free' (listed without qps) took ${freeSpan} ms`);
  t.false(foo.events.some((e) => e.type === 'ERROR'), 'no capacity set: nothing dropped');
  foo.close();
  free.close();
});

test.serial('an SDK framework whose last event was a capacity ERROR follows the master through a restart: a stopping master breaks streams, it does not end them', async (t) => {
  // Heartbeats far apart: nothing follows the ERROR on the stream before the master stops.
  const own = await inProcessMaster({ heartbeatIntervalSeconds: 60 }, undefined, { rateLimits: parseRateLimits(JSON.stringify({ limits: [{ principal: 'qux', qps: 0.1, capacity: 1 }] })) });
  let again: RunningMaster | undefined;
  t.teardown(async () => { await again?.stop(); await own.shutdown(); });
  const client = new SchedulerClient({ master: own.url, framework: { user: 'test', name: 'qux-fw', principal: 'qux', failover_timeout: 60 }, maxBackoffMs: 200 });
  t.teardown(() => client.close());
  const seen: string[] = [];
  client.on('error', (m) => seen.push(`error: ${m}`));
  client.on('subscribed', () => seen.push('subscribed'));
  client.on('disconnected', () => seen.push('disconnected'));
  await client.subscribe();
  const answers = Promise.allSettled(Array.from({ length: 4 }, () => client.revive()));
  await waitFor(() => seen.some((s) => s.startsWith('error: Message REVIVE dropped')), 5000, 'the ERROR event');
  // The ERROR is the stream's last event when the master stops now.
  const port = Number(new URL(own.url).port);
  await own.stop();
  t.true((await answers).some((a) => a.status === 'rejected'), 'some REVIVEs were dropped');
  again = await runMaster({ redisUrl: own.redis.url, host: '127.0.0.1', port, config: { ...FAST_MASTER, heartbeatIntervalSeconds: 60 }, log: silentLogger, autoscaler: false });
  await waitFor(() => seen.filter((s) => s === 'subscribed').length === 2, 15_000, 'the client to subscribe again');
  t.true(seen.includes('disconnected'));
  await client.revive(); // the client works on
});

test.serial('beyond capacity the call is dropped: ERROR event with Mesos wording, 429, and the stream stays usable', async (t) => {
  const bar = await subscribed('bar-fw', 'bar');
  const answers = await revives(bar, 8);
  const ok = answers.filter((a) => a.status === 202);
  const dropped = answers.filter((a) => a.status === 429);
  // One permit at once, three waiting (capacity 3), the other four dropped.
  t.is(ok.length, 4);
  t.is(dropped.length, 4);
  for (const d of dropped) {
    t.is(d.body, 'Message REVIVE dropped: capacity(3) exceeded');
    t.truthy(Number(d.retryAfter) >= 1, `Retry-After: ${d.retryAfter}`);
  }
  const error = await bar.next((e) => e.type === 'ERROR', 5000);
  t.is(error.error.message, 'Message REVIVE dropped: capacity(3) exceeded');
  t.is(error.message, 'Message REVIVE dropped: capacity(3) exceeded');
  t.is(bar.events.filter((e) => e.type === 'ERROR').length, 4, 'one ERROR per dropped call');
  t.false(bar.closed, 'Mesos does not disconnect the framework');
  const metrics = await (await fetch(new URL('/metrics', m.url))).text();
  t.regex(metrics, /spillway_scheduler_calls_dropped_total\{limiter="bar"\} 4/);
  t.regex(metrics, /spillway_scheduler_calls_rejected_total\{status="429"\} 4/);
  // Calls that would be refused anyway are refused at once and use no capacity.
  const wrong = await Promise.all(Array.from({ length: 6 }, () => call(bar, { type: 'REVIVE' }, 'not-my-stream')));
  t.true(wrong.every((a) => a.status === 400));
  const later = await call(bar, { type: 'SUPPRESS' });
  t.is(later.status, 202);
  bar.close();
});

test.serial('frameworks without a principal or with an unlisted one share the aggregate default limiter', async (t) => {
  const a = await subscribed('anon-a');
  const b = await subscribed('anon-b');
  const c = await subscribed('qux-fw', 'qux');
  const answers = (await Promise.all([revives(a, 4), revives(b, 4), revives(c, 4)])).flat();
  t.true(answers.every((x) => x.status === 202));
  // 12 calls through one 4-qps limiter take ~2.75 s; three separate limiters would take ~0.75 s.
  const total = span(answers);
  t.true(total >= 2000, `12 aggregate calls took ${total} ms`);
  for (const fw of [a, b, c]) fw.close();
});

// ----------------------------------------------------------------------------------------------
// `spillway master` refuses bad configurations

function runMasterCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'master', '--redis', m.redis.url, '--cluster', 'rl-bad', '--port', '0', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SPILLWAY_LOG_LEVEL: 'warn' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`master did not exit: ${args.join(' ')}\n${stderr}`)); }, 60_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

test('spillway master exits non-zero on a bad --rate-limits or --max-task-launches-per-second, naming the field', async (t) => {
  const missing = pathToFileURL(join(tempDir('spillway-rl-'), 'nope.json')).href;
  const cases: [string[], RegExp][] = [
    [['--rate-limits', '{"limits": ['], /--rate-limits: not valid JSON/],
    [['--rate-limits', '{"limits":[{"principal":"foo","qps":55.5},{"principal":"bar","qps":-1}]}'], /--rate-limits: limits\[1\]\.qps: must be > 0/],
    [['--rate-limits', '{"limits":[{"principal":"foo","qps":1,"capacity":2.5}]}'], /--rate-limits: limits\[0\]\.capacity: must be a positive integer/],
    [['--rate-limits', '{"limits":[{"principal":"foo","qps":1},{"principal":"foo","qps":2}]}'], /--rate-limits: limits\[1\]\.principal: duplicate principal 'foo'/],
    [['--rate-limits', missing], /--rate-limits: cannot read .*nope\.json/],
    [['--max-task-launches-per-second', '0'], /--max-task-launches-per-second: '0' is not a positive number/],
  ];
  // Two at a time: each is a node process compiling the CLI through tsx.
  const results: { code: number | null; stderr: string }[] = [];
  for (let i = 0; i < cases.length; i += 2) results.push(...await Promise.all(cases.slice(i, i + 2).map(([args]) => runMasterCli(args))));
  results.forEach((r, i) => {
    t.not(r.code, 0, `${cases[i][0].join(' ')} exited ${r.code}`);
    t.regex(r.stderr, cases[i][1]);
  });
});

test('spillway master starts with a valid --rate-limits file and --max-task-launches-per-second', async (t) => {
  const dir = tempDir('spillway-rl-');
  const file = join(dir, 'limits.json');
  writeFileSync(file, JSON.stringify({ limits: [{ principal: 'foo', qps: 55.5 }, { principal: 'bar', qps: 300, capacity: 1000 }], aggregate_default_qps: 33.3, aggregate_default_capacity: 1000 }));
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'master', '--redis', m.redis.url, '--cluster', 'rl-cli', '--port', String(port),
    '--rate-limits', pathToFileURL(file).href, '--max-task-launches-per-second', '200'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SPILLWAY_LOG_LEVEL: 'warn' } });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 60_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline && child.exitCode === null) {
      healthy = (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok === true;
      if (!healthy) await new Promise((r) => setTimeout(r, 100));
    }
    t.true(healthy, 'master listening');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
});
