// The aws-ec2 provider through the real @aws-sdk/client-ec2 against the HTTP-level EC2 fake on
// 127.0.0.1: launch tagging and ClientToken idempotency (including replies lost after the work
// was done), listing across pages, idempotent terminate, spot, prices, error mapping with retries
// (tiny injected backoff, no real waiting) and input/config checks that must fail before any call.
import test, { type ExecutionContext } from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigFileError, parseConfig, PoolSchema, PoolsFileSchema, type Pool } from '../providers/pool-config.ts';
import type { ProviderContext } from '../providers/context.ts';
import {
  AuthError, IdempotencyConflictError, InsufficientCapacityError, InvalidConfigError, ProviderUnavailableError,
  QuotaExceededError, ThrottledError, isCapacityError, isConfigError, isRetryable,
} from '../providers/errors.ts';
import { ManualClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/common/logger.ts';
import { AwsEc2Provider, clientTokenFor, createAwsEc2Provider, USER_DATA_LIMIT_BYTES, type AwsEc2ProviderOptions } from '../providers/aws-ec2/index.ts';
import { Ec2Fake, type Ec2FakeOptions, type RecordedRequest } from './fakes/ec2-fake.ts';

// The SDK's default credential chain must find nothing and touch no network (no IMDS) here.
for (const k of Object.keys(process.env)) if (k.startsWith('AWS_') && k !== 'AWS_CA_BUNDLE') delete process.env[k];
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmpdir(), 'spillway-no-such-dir', 'credentials');
process.env.AWS_CONFIG_FILE = join(tmpdir(), 'spillway-no-such-dir', 'config');

const NOW = Date.parse('2026-11-02T12:00:00.000Z');
const TEST_CREDS = { accessKeyId: 'AKIDSPILLWAYTEST', secretAccessKey: 'not-a-secret' };

function poolDef(fake: Ec2Fake, over: Record<string, unknown> = {}, awsOver: Record<string, unknown> = {}): Pool {
  return PoolSchema.parse({
    name: 'burst',
    provider: 'aws-ec2',
    ownership: 'rented',
    max: 2000,
    instanceTypes: [
      { name: 'm5.large', cpus: 2, mem: 8192, price: 0.096, spotPrice: 0.04 },
      { name: 'c5.xlarge', cpus: 4, mem: 8192, price: 0.17 },
      { name: 'r5.large', cpus: 2, mem: 16384, price: 0.126, spotPrice: 0.05 },
    ],
    aws: {
      region: 'us-east-1', endpoint: fake.url, amiId: 'ami-0123456789abcdef0', subnetId: 'subnet-0abc',
      securityGroupIds: ['sg-0aaa', 'sg-0bbb'], instanceProfile: 'spillway-agent', credentials: TEST_CREDS, ...awsOver,
    },
    ...over,
  });
}

interface Setup {
  fake: Ec2Fake;
  provider: AwsEc2Provider;
  sleeps: number[];
  clock: ManualClock;
  ctx: ProviderContext;
}

async function setup(
  t: ExecutionContext,
  o: { fake?: Ec2FakeOptions; pools?: (fake: Ec2Fake) => Pool[]; opts?: AwsEc2ProviderOptions; cluster?: string } = {},
): Promise<Setup> {
  const clock = new ManualClock(NOW);
  const fake = await Ec2Fake.start({ now: () => clock.now(), ...o.fake });
  const sleeps: number[] = [];
  const ctx: ProviderContext = { cluster: o.cluster ?? 'prod', masterUrl: 'http://127.0.0.1:5050', log: silentLogger, clock };
  const provider = createAwsEc2Provider(o.pools ? o.pools(fake) : [poolDef(fake)], ctx, {
    ...o.opts,
    // Deterministic, instant backoff: record the delays instead of waiting.
    retry: { baseDelayMs: 10, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms), ...o.opts?.retry },
  });
  t.teardown(async () => {
    provider.close();
    await fake.close();
  });
  return { fake, provider, sleeps, clock, ctx };
}

const tagsOf = (r: RecordedRequest, n: number): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 1; r.params[`TagSpecification.${n}.Tag.${i}.Key`] !== undefined; i++) {
    out[r.params[`TagSpecification.${n}.Tag.${i}.Key`]!] = r.params[`TagSpecification.${n}.Tag.${i}.Value`] ?? '';
  }
  return out;
};

// ---- launch -----------------------------------------------------------------------------------

test('launch sends tags, ClientToken, placement and user-data; maps the instances', async (t) => {
  const { fake, provider } = await setup(t);
  const userData = '#cloud-config\nruncmd:\n  - [spillway-agent, --master, "http://10.0.0.1:5050"]\n';
  const got = await provider.launch('burst', 2, { token: 'plan-42/burst/1', instanceType: 'm5.large', zone: 'us-east-1b', userData });

  t.is(got.length, 2);
  for (const i of got) {
    t.regex(i.id, /^i-[0-9a-f]{17}$/);
    t.like(i, { pool: 'burst', provider: 'aws-ec2', instanceType: 'm5.large', capacityType: 'on-demand', zone: 'us-east-1b', state: 'pending', launchedAt: NOW });
    t.regex(i.privateAddress ?? '', /^10\.0\.\d+\.\d+$/);
  }

  const [run] = fake.requestsFor('RunInstances');
  const p = run.params;
  t.is(p.Version, '2016-11-15');
  t.is(p.MinCount, '2');
  t.is(p.MaxCount, '2');
  t.is(p.InstanceType, 'm5.large');
  t.is(p.ClientToken, clientTokenFor('prod', 'burst', 'plan-42/burst/1'));
  t.true(p.ClientToken!.length <= 64 && /^[\x20-\x7e]+$/.test(p.ClientToken!));
  t.is(p.ImageId, 'ami-0123456789abcdef0');
  t.is(p.SubnetId, 'subnet-0abc');
  t.is(p['SecurityGroupId.1'], 'sg-0aaa');
  t.is(p['SecurityGroupId.2'], 'sg-0bbb');
  t.is(p['IamInstanceProfile.Name'], 'spillway-agent');
  t.is(p['Placement.AvailabilityZone'], 'us-east-1b');
  t.is(Buffer.from(p.UserData ?? '', 'base64').toString('utf8'), userData);
  t.is(p['InstanceMarketOptions.MarketType'], undefined);
  t.is(p['TagSpecification.1.ResourceType'], 'instance');
  t.is(p['TagSpecification.2.ResourceType'], 'volume');
  const want = { 'spillway-cluster': 'prod', 'spillway-pool': 'burst', 'managed-by': 'spillway', 'spillway-launch-token': 'plan-42/burst/1' };
  t.deepEqual(tagsOf(run, 1), want);
  t.deepEqual(tagsOf(run, 2), want);

  // What EC2 (the fake) holds.
  const held = fake.allInstances();
  t.deepEqual(held.map((i) => i.id).sort(), got.map((i) => i.id).sort());
  for (const i of held) {
    t.deepEqual(Object.fromEntries(i.tags), want);
    t.deepEqual(Object.fromEntries(i.volumeTags), want);
    t.is(i.userData, userData);
  }
});

test('a rented instance whose OS shuts down is terminated, not left stopped: RunInstances asks for InstanceInitiatedShutdownBehavior terminate', async (t) => {
  const { fake, provider } = await setup(t);
  const [inst] = await provider.launch('burst', 1, { token: 'plan-43/burst/1', instanceType: 'm5.large' });
  t.is(fake.requestsFor('RunInstances')[0].params.InstanceInitiatedShutdownBehavior, 'terminate');
  t.is((await provider.list('burst')).length, 1);
  fake.shutDownFromInside(inst.id); // e.g. the agent's machine ran `poweroff`
  t.deepEqual(await provider.list('burst'), [], 'gone, not listed as stopped');
  t.is(fake.instance(inst.id)?.state, 'terminated');
});

test('launch from a launch template sends LaunchTemplate and no ImageId', async (t) => {
  const { fake, provider } = await setup(t, {
    pools: (f) => [poolDef(f, {}, { amiId: undefined, subnetId: undefined, securityGroupIds: [], instanceProfile: undefined, launchTemplate: { name: 'spillway-agents', version: '7' } })],
  });
  await provider.launch('burst', 1, { token: 'lt-1', instanceType: 'c5.xlarge' });
  const p = fake.requestsFor('RunInstances')[0].params;
  t.is(p['LaunchTemplate.LaunchTemplateName'], 'spillway-agents');
  t.is(p['LaunchTemplate.Version'], '7');
  t.is(p.ImageId, undefined);
  t.is(p.SubnetId, undefined);
  t.is(p['SecurityGroupId.1'], undefined);
  t.is(p['Placement.AvailabilityZone'], undefined);
});

test('relaunch with the same token returns the same instances and starts nothing new', async (t) => {
  const { fake, provider } = await setup(t);
  const spec = { token: 'tok-same', instanceType: 'm5.large' };
  const first = await provider.launch('burst', 3, spec);
  const again = await provider.launch('burst', 3, spec);
  t.deepEqual(again.map((i) => i.id), first.map((i) => i.id));
  t.is(fake.allInstances().length, 3);
  const runs = fake.requestsFor('RunInstances');
  t.is(runs.length, 2);
  t.is(runs[0].params.ClientToken, runs[1].params.ClientToken);
});

test('the same token with different parameters is an IdempotencyConflictError', async (t) => {
  const { fake, provider } = await setup(t);
  await provider.launch('burst', 2, { token: 'tok-x', instanceType: 'm5.large' });
  const e = await t.throwsAsync(provider.launch('burst', 3, { token: 'tok-x', instanceType: 'm5.large' }), { instanceOf: IdempotencyConflictError });
  t.is(e.code, 'IdempotentParameterMismatch');
  t.regex(e.message, /'burst'/);
  t.regex(e.message, /m5\.large/);
  t.is(fake.allInstances().length, 2);
  t.is(fake.requestsFor('RunInstances').length, 2); // not retried
  t.regex(e.message, /the token's first launch started i-[0-9a-f]+, i-[0-9a-f]+; 3 asked for now/);
});

test('a retry whose parameters changed since the token was first used (an upgrade) gets the instances it started', async (t) => {
  const { fake, provider } = await setup(t);
  const first = await provider.launch('burst', 1, { token: 'job-7.0', instanceType: 'm5.large', userData: '#cloud-config\n# v1\n' });
  const again = await provider.launch('burst', 1, { token: 'job-7.0', instanceType: 'm5.large', userData: '#cloud-config\n# v2\n' });
  t.deepEqual(again.map((i) => i.id), first.map((i) => i.id));
  t.is(fake.allInstances().length, 1, 'nothing new started, nothing left unrecorded');
  // EC2 lists new instances a moment late (eventual consistency): the lookup tries again.
  fake.listingLag = 1;
  const nine = await provider.launch('burst', 1, { token: 'job-9.0', instanceType: 'm5.large', userData: '#cloud-config\n# v1\n' });
  const nineAgain = await provider.launch('burst', 1, { token: 'job-9.0', instanceType: 'm5.large', userData: '#cloud-config\n# v2\n' });
  t.deepEqual(nineAgain.map((i) => i.id), nine.map((i) => i.id));
  fake.listingLag = 0;
  // Not the same launch when the count differs: the conflict stands.
  const eight = await provider.launch('burst', 1, { token: 'job-8.0', instanceType: 'm5.large' });
  const other = await t.throwsAsync(provider.launch('burst', 2, { token: 'job-8.0', instanceType: 'm5.large' }), { instanceOf: IdempotencyConflictError });
  t.true(other.message.endsWith(`(the token's first launch started ${eight[0].id}; 2 asked for now)`), other.message);
});

test('equal tokens in different pools or clusters do not collide', async (t) => {
  const { fake, provider } = await setup(t, { pools: (f) => [poolDef(f), poolDef(f, { name: 'batch' })] });
  const a = await provider.launch('burst', 1, { token: 'tok-1', instanceType: 'm5.large' });
  const b = await provider.launch('batch', 1, { token: 'tok-1', instanceType: 'm5.large' });
  t.not(a[0].id, b[0].id);
  t.is(b[0].pool, 'batch');
  t.is(fake.allInstances().length, 2);
  t.not(clientTokenFor('prod', 'burst', 'tok-1'), clientTokenFor('staging', 'burst', 'tok-1'));
  t.true(clientTokenFor('c'.repeat(300), 'p', 't'.repeat(300)).length <= 64);
});

test('reply lost after create: the SDK retries with the same ClientToken and gets the same instances', async (t) => {
  const { fake, provider, sleeps } = await setup(t);
  fake.loseReplyAfterCreate();
  const got = await provider.launch('burst', 3, { token: 'tok-lost', instanceType: 'm5.large' });

  t.is(fake.allInstances().length, 3, 'exactly one set of instances');
  t.deepEqual(got.map((i) => i.id).sort(), fake.allInstances().map((i) => i.id).sort());
  const runs = fake.requestsFor('RunInstances');
  t.is(runs.length, 2);
  t.is(runs[0].outcome, 'ok (reply dropped)');
  t.is(runs[1].outcome, 'ok');
  t.is(runs[0].params.ClientToken, runs[1].params.ClientToken);
  t.deepEqual(runs[0].params, runs[1].params);
  t.is(sleeps.length, 1);
});

test('a reply slower than the request timeout is retried and still yields one set of instances', async (t) => {
  // Generous attempts: under a loaded test run a retry may also be slow; what matters is that every
  // attempt carries the same ClientToken and EC2 ends up with exactly one set of instances.
  const { fake, provider } = await setup(t, { opts: { requestTimeoutMs: 500, retry: { maxAttempts: 10 } } });
  fake.slow(60_000, { action: 'RunInstances' });
  const got = await provider.launch('burst', 2, { token: 'tok-slow', instanceType: 'm5.large' });
  t.is(got.length, 2);
  t.is(fake.allInstances().length, 2);
  const runs = fake.requestsFor('RunInstances');
  t.true(runs.length >= 2);
  t.is(new Set(runs.map((r) => r.params.ClientToken)).size, 1);
  t.deepEqual(got.map((i) => i.id).sort(), fake.allInstances().map((i) => i.id).sort());
});

test('spot: InstanceMarketOptions is set from the spec or the pool and capacityType is mapped', async (t) => {
  const { fake, provider } = await setup(t, { pools: (f) => [poolDef(f), poolDef(f, { name: 'spotty', capacityType: 'spot' })] });
  const bySpec = await provider.launch('burst', 1, { token: 's-1', instanceType: 'm5.large', capacityType: 'spot' });
  const byPool = await provider.launch('spotty', 1, { token: 's-2', instanceType: 'm5.large' });
  const overridden = await provider.launch('spotty', 1, { token: 's-3', instanceType: 'm5.large', capacityType: 'on-demand' });
  const [r1, r2, r3] = fake.requestsFor('RunInstances').map((r) => r.params);
  for (const p of [r1, r2]) {
    t.is(p['InstanceMarketOptions.MarketType'], 'spot');
    t.is(p['InstanceMarketOptions.SpotOptions.SpotInstanceType'], 'one-time');
    t.is(p['InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior'], 'terminate');
  }
  t.is(r3['InstanceMarketOptions.MarketType'], undefined);
  t.is(bySpec[0].capacityType, 'spot');
  t.is(byPool[0].capacityType, 'spot');
  t.is(overridden[0].capacityType, 'on-demand');
  const listed = await provider.list('spotty');
  t.deepEqual(listed.map((i) => i.capacityType).sort(), ['on-demand', 'spot']);
});

// ---- list -------------------------------------------------------------------------------------

test('list filters by cluster and pool and walks every page', async (t) => {
  const { fake, provider } = await setup(t, {
    fake: { pageSize: 5 }, // the server cuts pages at 5 whatever MaxResults says
    opts: { pageSize: 5 },
    pools: (f) => [poolDef(f), poolDef(f, { name: 'batch' })],
  });
  const mine = await provider.launch('burst', 12, { token: 'many', instanceType: 'm5.large' });
  await provider.launch('batch', 3, { token: 'other-pool', instanceType: 'm5.large' });
  // Instances this cluster/pool does not own, interleaved with ours.
  for (let n = 0; n < 4; n++) fake.addInstance({ tags: { 'spillway-cluster': 'staging', 'spillway-pool': 'burst', 'managed-by': 'spillway' } });
  fake.addInstance({ tags: { Name: 'hand-made' } });
  fake.addInstance({});
  const gone = fake.addInstance({ state: 'terminated', tags: { 'spillway-cluster': 'prod', 'spillway-pool': 'burst' } });
  await provider.launch('burst', 2, { token: 'more', instanceType: 'c5.xlarge' });
  const before = fake.requestsFor('DescribeInstances').length;

  const listed = await provider.list('burst');
  t.is(listed.length, 14);
  t.deepEqual(new Set(listed.map((i) => i.id)).size, 14);
  t.true(mine.every((m) => listed.some((l) => l.id === m.id)));
  t.true(listed.every((i) => i.pool === 'burst' && i.provider === 'aws-ec2' && i.state === 'running'));
  t.false(listed.some((i) => i.id === gone.id));

  const calls = fake.requestsFor('DescribeInstances').slice(before);
  t.is(calls.length, 3, '14 instances in pages of 5');
  t.is(calls[0].params.NextToken, undefined);
  t.truthy(calls[1].params.NextToken);
  t.truthy(calls[2].params.NextToken);
  for (const c of calls) {
    t.is(c.params.MaxResults, '5');
    const filters = Object.fromEntries((c.tree.Filter as { Name: string; Value: string[] }[]).map((f) => [f.Name, f.Value]));
    t.deepEqual(filters['tag:spillway-cluster'], ['prod']);
    t.deepEqual(filters['tag:spillway-pool'], ['burst']);
    t.deepEqual(filters['instance-state-name'], ['pending', 'running', 'shutting-down', 'stopping', 'stopped']);
  }

  t.is((await provider.list('batch')).length, 3);
  const withGone = await provider.list('burst', { includeTerminated: true });
  t.is(withGone.length, 15);
  t.is(withGone.find((i) => i.id === gone.id)?.state, 'terminated');
});

test('instance mapping: shutting-down → stopping, spot lifecycle, zone, launch time, address', async (t) => {
  const { fake, provider } = await setup(t, { fake: { autoAdvance: false } });
  const tags = { 'spillway-cluster': 'prod', 'spillway-pool': 'burst' };
  const a = fake.addInstance({ tags, state: 'shutting-down', zone: 'us-east-1c', launchTime: NOW - 60_000 });
  const b = fake.addInstance({ tags, state: 'stopped', lifecycle: 'spot', instanceType: 'r5.large' });
  const c = fake.addInstance({ tags, state: 'pending' });
  const got = new Map((await provider.list('burst')).map((i) => [i.id, i]));
  t.like(got.get(a.id), { state: 'stopping', zone: 'us-east-1c', launchedAt: NOW - 60_000, capacityType: 'on-demand', privateAddress: undefined });
  t.like(got.get(b.id), { state: 'stopped', capacityType: 'spot', instanceType: 'r5.large', privateAddress: b.privateIp });
  t.like(got.get(c.id), { state: 'pending' });
});

test('a throttled page in the middle of a listing is retried', async (t) => {
  const { fake, provider, sleeps } = await setup(t, { fake: { pageSize: 5 }, opts: { pageSize: 5 } });
  await provider.launch('burst', 11, { token: 'page-me', instanceType: 'm5.large' });
  fake.inject({ action: 'DescribeInstances', times: 2, when: (r) => r.params.NextToken !== undefined, fault: { kind: 'error', code: 'RequestLimitExceeded', status: 503, message: 'Request limit exceeded.' } });
  t.is((await provider.list('burst')).length, 11);
  t.is(sleeps.length, 2);
  t.is(fake.requestsFor('DescribeInstances').length, 5); // 3 pages + 2 throttled
});

// ---- terminate --------------------------------------------------------------------------------

test('terminate is idempotent: twice, and with unknown or malformed ids', async (t) => {
  const { fake, provider } = await setup(t);
  const got = await provider.launch('burst', 2, { token: 'bye', instanceType: 'm5.large' });
  const ids = got.map((i) => i.id);

  await provider.terminate(ids);
  t.deepEqual(ids.map((id) => fake.instance(id)!.state), ['shutting-down', 'shutting-down']);
  await provider.terminate(ids); // already shutting down: fine
  const unknown = 'i-0123456789abcdef0';
  await provider.terminate([ids[0], unknown, 'not-an-instance-id']);
  await provider.terminate([unknown]);
  await provider.terminate([]);

  const calls = fake.requestsFor('TerminateInstances');
  t.deepEqual(calls.map((c) => c.outcome), ['ok', 'ok', 'error:InvalidInstanceID.NotFound', 'ok', 'error:InvalidInstanceID.NotFound']);
  t.deepEqual(calls[3].tree.InstanceId, [ids[0]], 'sent again without the unknown id');
  t.false(calls.some((c) => Object.values(c.params).includes('not-an-instance-id')), 'malformed ids are never sent');
  t.deepEqual(await provider.list('burst'), [], 'terminated instances are not listed');
});

test('terminate sends at most 1000 ids per call', async (t) => {
  const { fake, provider } = await setup(t);
  const ids = Array.from({ length: 1001 }, () => fake.addInstance({ tags: { 'spillway-cluster': 'prod', 'spillway-pool': 'burst' } }).id);
  await provider.terminate(ids);
  const calls = fake.requestsFor('TerminateInstances');
  t.deepEqual(calls.map((c) => (c.tree.InstanceId as string[]).length), [1000, 1]);
  t.true(ids.every((id) => fake.instance(id)!.state === 'shutting-down'));
});

test('terminate routes ids to the endpoint they were launched in', async (t) => {
  const clock = new ManualClock(NOW);
  const east = await Ec2Fake.start({ now: () => clock.now() });
  const west = await Ec2Fake.start({ now: () => clock.now(), region: 'us-west-2' });
  const ctx: ProviderContext = { cluster: 'prod', masterUrl: 'http://127.0.0.1:5050', log: silentLogger, clock };
  const provider = new AwsEc2Provider(new Map([
    ['a', poolDef(east, { name: 'a' })],
    ['b', poolDef(west, { name: 'b' }, { region: 'us-west-2' })],
  ]), ctx, { retry: { sleep: async () => {} } });
  t.teardown(async () => {
    provider.close();
    await Promise.all([east.close(), west.close()]);
  });
  const [a] = await provider.launch('a', 1, { token: 't', instanceType: 'm5.large' });
  const [b] = await provider.launch('b', 1, { token: 't', instanceType: 'm5.large', zone: 'us-west-2a' });
  await provider.terminate([b.id, a.id]);
  t.deepEqual(east.requestsFor('TerminateInstances').map((r) => r.tree.InstanceId), [[a.id]]);
  t.deepEqual(west.requestsFor('TerminateInstances').map((r) => r.tree.InstanceId), [[b.id]]);
  t.is(east.instance(a.id)!.state, 'shutting-down');
  t.is(west.instance(b.id)!.state, 'shutting-down');
});

// ---- prices -----------------------------------------------------------------------------------

test('prices: on-demand from the price book, spot from the latest history per type and zone', async (t) => {
  const { fake, provider, clock } = await setup(t, { fake: { pageSize: 2 }, opts: { pageSize: 5 } });
  const h = 3_600_000;
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.05, at: NOW - 2 * h });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.041, at: NOW - h });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.043, at: NOW });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1b', price: 0.039, at: NOW - h / 2 });
  fake.addSpotPrice({ instanceType: 'c5.xlarge', zone: 'us-east-1a', price: 0.07, at: NOW - 3 * h });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.2, at: NOW - h, productDescription: 'Windows' });
  fake.addSpotPrice({ instanceType: 'p3.2xlarge', zone: 'us-east-1a', price: 1.1, at: NOW - h });

  const prices = await provider.prices('burst');
  const key = (p: { instanceType: string; zone: string; capacityType: string }) => `${p.capacityType} ${p.instanceType} ${p.zone}`;
  t.deepEqual(Object.fromEntries(prices.map((p) => [key(p), p.hourly])), {
    'on-demand m5.large us-east-1': 0.096,
    'on-demand c5.xlarge us-east-1': 0.17,
    'on-demand r5.large us-east-1': 0.126,
    'spot r5.large us-east-1': 0.05, // no live history: the price book's static spot price
    'spot m5.large us-east-1a': 0.043,
    'spot m5.large us-east-1b': 0.039,
    'spot c5.xlarge us-east-1a': 0.07,
  });
  t.is(prices.length, 7);

  const calls = fake.requestsFor('DescribeSpotPriceHistory');
  t.true(calls.length >= 2, 'followed nextToken');
  const p = calls[0].params;
  t.is(p['ProductDescription.1'], 'Linux/UNIX');
  t.deepEqual(calls[0].tree.InstanceType, ['m5.large', 'c5.xlarge', 'r5.large']);
  t.is(Date.parse(p.StartTime ?? ''), clock.now());
});

// ---- error mapping ----------------------------------------------------------------------------

test('capacity errors → InsufficientCapacityError, not retried even as HTTP 500', async (t) => {
  const { fake, provider, sleeps } = await setup(t);
  fake.failCapacity('m5.large'); // 500 InsufficientInstanceCapacity
  const e = await t.throwsAsync(provider.launch('burst', 2, { token: 'cap', instanceType: 'm5.large', zone: 'us-east-1a' }), { instanceOf: InsufficientCapacityError });
  t.is(e.code, 'InsufficientInstanceCapacity');
  t.is(e.provider, 'aws-ec2');
  t.regex(e.message, /pool 'burst'/);
  t.regex(e.message, /m5\.large/);
  t.true(isCapacityError(e));
  t.is(fake.requestsFor('RunInstances').length, 1);
  t.deepEqual(sleeps, []);

  for (const code of ['InsufficientHostCapacity', 'InsufficientReservedInstanceCapacity', 'Unsupported']) {
    fake.failNext('RunInstances', code, { status: 500 });
    await t.throwsAsync(provider.launch('burst', 1, { token: `cap-${code}`, instanceType: 'c5.xlarge' }), { instanceOf: InsufficientCapacityError });
  }
  // Other types still launch; and the failed token can be used again once capacity is back.
  t.is((await provider.launch('burst', 1, { token: 'cap-c5', instanceType: 'c5.xlarge' })).length, 1);
  fake.restoreCapacity('m5.large');
  t.is((await provider.launch('burst', 2, { token: 'cap', instanceType: 'm5.large', zone: 'us-east-1a' })).length, 2);
});

test('limit errors → QuotaExceededError', async (t) => {
  const { fake, provider } = await setup(t, { fake: { instanceLimit: 2 } });
  const e = await t.throwsAsync(provider.launch('burst', 3, { token: 'q', instanceType: 'm5.large' }), { instanceOf: QuotaExceededError });
  t.is(e.code, 'InstanceLimitExceeded');
  t.regex(e.message, /pool 'burst' \(3 × m5\.large\)/);
  t.true(isCapacityError(e));
  for (const code of ['VcpuLimitExceeded', 'MaxSpotInstanceCountExceeded']) {
    fake.failNext('RunInstances', code);
    await t.throwsAsync(provider.launch('burst', 1, { token: `q-${code}`, instanceType: 'm5.large' }), { instanceOf: QuotaExceededError });
  }
  t.is(fake.requestsFor('RunInstances').length, 3);
  t.is(fake.allInstances().length, 0);
});

test('throttled N times then success: jittered exponential backoff, same ClientToken', async (t) => {
  const { fake, provider, sleeps } = await setup(t);
  fake.throttle(3);
  const got = await provider.launch('burst', 1, { token: 'thr', instanceType: 'm5.large' });
  t.is(got.length, 1);
  const runs = fake.requestsFor('RunInstances');
  t.deepEqual(runs.map((r) => r.outcome), ['error:RequestLimitExceeded', 'error:RequestLimitExceeded', 'error:RequestLimitExceeded', 'ok']);
  t.is(new Set(runs.map((r) => r.params.ClientToken)).size, 1);
  t.deepEqual(sleeps, [5, 10, 20]); // random() = 0.5 × 10 ms × 2^(n-1)
  t.is(fake.allInstances().length, 1);
});

test('throttled forever → ThrottledError after maxAttempts', async (t) => {
  const { fake, provider, sleeps } = await setup(t, { opts: { retry: { maxAttempts: 4 } } });
  fake.throttle(Infinity);
  const e = await t.throwsAsync(provider.list('burst'), { instanceOf: ThrottledError });
  t.is(e.code, 'RequestLimitExceeded');
  t.regex(e.message, /after 4 attempts/);
  t.true(isRetryable(e));
  t.is(fake.requests.length, 4);
  t.is(sleeps.length, 3);
});

test('unauthorized → AuthError without retry', async (t) => {
  const { fake, provider, sleeps } = await setup(t);
  fake.unauthorized();
  const e = await t.throwsAsync(provider.launch('burst', 1, { token: 'auth', instanceType: 'm5.large' }), { instanceOf: AuthError });
  t.is(e.code, 'UnauthorizedOperation');
  t.regex(e.message, /pool 'burst'/);
  t.true(isConfigError(e));
  t.is(fake.requests.length, 1, 'exactly one request');
  t.deepEqual(sleeps, []);
  for (const code of ['AuthFailure', 'InvalidClientTokenId', 'SignatureDoesNotMatch']) {
    fake.clearFaults();
    fake.failNext(undefined, code, { status: 401 });
    await t.throwsAsync(provider.prices('burst'), { instanceOf: AuthError });
  }
  t.is(fake.requests.length, 4);
});

test('5xx is retried, then ProviderUnavailableError', async (t) => {
  const { fake, provider, sleeps } = await setup(t, { opts: { retry: { maxAttempts: 3 } } });
  fake.failNext(undefined, 'InternalError', { status: 500 });
  t.deepEqual(await provider.list('burst'), []);
  t.is(sleeps.length, 1);
  fake.failNext(undefined, 'Unavailable', { status: 503, times: Infinity });
  const e = await t.throwsAsync(provider.terminate(['i-0123456789abcdef0']), { instanceOf: ProviderUnavailableError });
  t.regex(e.message, /after 3 attempts/);
  t.true(isRetryable(e));
  t.is(fake.requests.length, 2 + 3);
});

test('other EC2 client errors → InvalidConfigError naming pool and type', async (t) => {
  const { fake, provider } = await setup(t);
  fake.failNext('RunInstances', 'InvalidAMIID.NotFound', { message: "The image id '[ami-0123456789abcdef0]' does not exist" });
  const e = await t.throwsAsync(provider.launch('burst', 1, { token: 'ami', instanceType: 'm5.large' }), { instanceOf: InvalidConfigError });
  t.is(e.code, 'InvalidAMIID.NotFound');
  t.regex(e.message, /pool 'burst' \(1 × m5\.large\): RunInstances: EC2 rejected the request/);
  t.is(fake.requests.length, 1);
});

// ---- validation before any call --------------------------------------------------------------

test('bad launch input fails before any call', async (t) => {
  const { fake, provider } = await setup(t);
  const unknownType = await t.throwsAsync(provider.launch('burst', 1, { token: 'v', instanceType: 'p4d.24xlarge' }), { instanceOf: InvalidConfigError });
  t.regex(unknownType.message, /pool 'burst'/);
  t.regex(unknownType.message, /p4d\.24xlarge/);
  t.regex(unknownType.message, /price book/);
  for (const count of [0, -1, 1.5, Number.NaN]) {
    const e = await t.throwsAsync(provider.launch('burst', count, { token: 'v', instanceType: 'm5.large' }), { instanceOf: InvalidConfigError });
    t.regex(e.message, /count must be a positive integer/);
  }
  const big = await t.throwsAsync(provider.launch('burst', 1, { token: 'v', instanceType: 'm5.large', userData: 'x'.repeat(17 * 1024) }), { instanceOf: InvalidConfigError });
  t.regex(big.message, /17408 bytes; EC2 allows 16384/);
  t.regex(big.message, /pool 'burst' \(m5\.large\)/);
  // Multi-byte characters count as bytes, not characters.
  await t.throwsAsync(provider.launch('burst', 1, { token: 'v', instanceType: 'm5.large', userData: 'é'.repeat(USER_DATA_LIMIT_BYTES / 2 + 1) }), { instanceOf: InvalidConfigError });
  await t.throwsAsync(provider.launch('burst', 1, { token: '', instanceType: 'm5.large' }), { instanceOf: InvalidConfigError });
  await t.throwsAsync(provider.launch('burst', 1, { token: 'v', instanceType: 'm5.large', zone: 'eu-west-1a' }), { instanceOf: InvalidConfigError, message: /not in region us-east-1/ });
  await t.throwsAsync(provider.launch('nope', 1, { token: 'v', instanceType: 'm5.large' }), { instanceOf: InvalidConfigError, message: /no pool named 'nope'/ });
  t.is(fake.requests.length, 0, 'the fake saw no request');

  // Exactly at the limit is fine.
  t.is((await provider.launch('burst', 1, { token: 'v', instanceType: 'm5.large', userData: 'x'.repeat(USER_DATA_LIMIT_BYTES) })).length, 1);
});

test('missing region: the pool file check names file, path and reason; the adapter refuses before any call', async (t) => {
  const yaml = [
    'pools:',
    '  - name: burst',
    '    provider: aws-ec2',
    '    ownership: rented',
    '    max: 10',
    '    instanceTypes:',
    '      - { name: m5.large, cpus: 2, mem: 8192, price: 0.096 }',
    '    aws:',
    '      amiId: ami-0123456789abcdef0',
    '',
  ].join('\n');
  const e = t.throws(() => parseConfig(PoolsFileSchema, yaml, 'pools.yaml'), { instanceOf: ConfigFileError });
  t.regex(e.message, /^pools\.yaml:\d+: pools\.0\.aws\.region: \S/m);
  // The line is where the `aws` mapping's content starts (the key itself is absent).
  t.true(e.problems.some((p) => p.path === 'pools.0.aws.region' && p.line === 9 && /expected string/.test(p.message)));

  // A pool built by hand, bypassing the schema, gets the same refusal from the adapter.
  const { fake, provider } = await setup(t, { pools: (f) => [{ ...poolDef(f), aws: { ...poolDef(f).aws!, region: '' } }] });
  for (const call of [
    () => provider.launch('burst', 1, { token: 'r', instanceType: 'm5.large' }),
    () => provider.list('burst'),
    () => provider.prices('burst'),
  ]) {
    await t.throwsAsync(call(), { instanceOf: InvalidConfigError, message: /pool 'burst': aws\.region is missing/ });
  }
  t.is(fake.requests.length, 0);
});

test('endpoint without credentials and no default chain → InvalidConfigError that says so', async (t) => {
  const { fake, provider } = await setup(t, { pools: (f) => [poolDef(f, {}, { credentials: undefined })] });
  const e = await t.throwsAsync(provider.launch('burst', 1, { token: 'c', instanceType: 'm5.large' }), { instanceOf: InvalidConfigError });
  t.is(e.code, 'MissingCredentials');
  t.regex(e.message, /pool 'burst'/);
  t.regex(e.message, new RegExp(`aws\\.endpoint is set \\(${fake.url.replace(/\./g, '\\.')}\\) but aws\\.credentials is not`));
  t.regex(e.message, /default credential chain/);
  await t.throwsAsync(provider.list('burst'), { instanceOf: InvalidConfigError });
  t.is(fake.requests.length, 0);
});

// Serial: AVA runs serial tests before the concurrent ones, so the environment this test changes is
// restored before the test above expects an empty default chain.
test.serial('credentials from the default chain are used when the pool gives none', async (t) => {
  const { fake, provider } = await setup(t, { pools: (f) => [poolDef(f, {}, { credentials: undefined })] });
  process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
  process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
  try {
    t.deepEqual(await provider.list('burst'), []);
  } finally {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  }
  t.is(fake.requests.length, 1);
});
