// The gcp-compute provider through the real @google-cloud/compute SDK (REST transport, no
// credentials) against the HTTP-level GCE fake on 127.0.0.1. Backoff sleeps are injected and
// recorded, so nothing waits on the wall clock.
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { PoolSchema, type Pool } from '../providers/pool-config.ts';
import type { ProviderContext } from '../providers/context.ts';
import {
  AuthError, IdempotencyConflictError, InsufficientCapacityError, InvalidConfigError, ProviderUnavailableError, QuotaExceededError, ThrottledError,
} from '../providers/errors.ts';
import { createGcpComputeProvider, type GcpComputeProviderOptions } from '../providers/gcp-compute/gcp-compute-provider.ts';
import { classifyApiError, classifyOperationError } from '../providers/gcp-compute/gce-errors.ts';
import { GCE_NAME, insertRequestId, instanceName, labelValue } from '../providers/gcp-compute/naming.ts';
import { USER_DATA_LIMIT_BYTES } from '../providers/gcp-compute/config.ts';
import { ManualClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/common/logger.ts';
import { GceFake, type GceFakeOptions } from './fakes/gce-fake.ts';

const PROJECT = 'spillway-test';
const ZONE = 'us-central1-a';
const CREATED_AT = Date.UTC(2026, 10, 2, 9, 15, 0, 123);
const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const ctx: ProviderContext = { cluster: 'prod-eu', masterUrl: 'http://127.0.0.1:5050', log: silentLogger, clock: new ManualClock(1) };

function gcpPool(fake: GceFake, name = 'burst', over: Record<string, unknown> = {}): Pool {
  return PoolSchema.parse({
    name, provider: 'gcp-compute', ownership: 'rented', max: 20,
    instanceTypes: [
      { name: 'e2-standard-4', cpus: 4, mem: 16384, price: 0.134, spotPrice: 0.04 },
      { name: 'n2-standard-8', cpus: 8, mem: 32768, price: 0.388 },
    ],
    gcp: {
      project: PROJECT, zone: ZONE, sourceImage: 'projects/debian-cloud/global/images/family/debian-12',
      network: 'spillway-net', subnetwork: 'spillway-sub', serviceAccount: 'agent@spillway-test.iam.gserviceaccount.com',
      apiEndpoint: fake.endpoint, insecure: true,
    },
    ...over,
  });
}

interface Setup {
  fake: GceFake;
  provider: ReturnType<typeof createGcpComputeProvider>;
  sleeps: number[];
}

async function setup(t: ExecutionContext, o: { fake?: GceFakeOptions; provider?: GcpComputeProviderOptions; pools?: (f: GceFake) => Pool[]; cluster?: string } = {}): Promise<Setup> {
  const fake = await GceFake.start({ now: () => CREATED_AT, ...o.fake });
  const sleeps: number[] = [];
  const provider = createGcpComputeProvider(o.pools ? o.pools(fake) : [gcpPool(fake)], { ...ctx, cluster: o.cluster ?? ctx.cluster }, {
    sleep: async (ms) => { sleeps.push(ms); }, random: () => 0.5, ...o.provider,
  });
  t.teardown(async () => {
    await provider.close();
    await fake.close();
  });
  return { fake, provider, sleeps };
}

// ---- launch ------------------------------------------------------------------------------------

test('launch sends the full insert body and maps the instances back', async (t) => {
  const { fake, provider } = await setup(t);
  const userData = '#cloud-config\nruncmd:\n  - [spillway, agent, --master, "http://10.0.0.1:5050"]\n';
  const got = await provider.launch('burst', 2, { token: 'Plan-42/Step.7', instanceType: 'e2-standard-4', capacityType: 'spot', userData });

  const inserts = fake.calls('instances.insert');
  t.is(inserts.length, 2);
  t.true(inserts.every((r) => !r.authorization), 'insecure mode sends no credentials');
  const ids = inserts.map((r) => r.query.requestId);
  t.true(ids.every((id) => UUID_V5.test(id)), ids.join());
  t.not(ids[0], ids[1]);
  t.deepEqual([...ids].sort(), [insertRequestId('Plan-42/Step.7', 0), insertRequestId('Plan-42/Step.7', 1)].sort());
  t.true(inserts.every((r) => r.path === `/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances`));

  const body = inserts.find((r) => r.query.requestId === insertRequestId('Plan-42/Step.7', 0))!.body as Record<string, any>;
  t.is(body.name, instanceName('Plan-42/Step.7', 0));
  t.regex(body.name, GCE_NAME);
  t.is(body.machineType, `zones/${ZONE}/machineTypes/e2-standard-4`);
  t.deepEqual(body.labels, {
    'spillway-cluster': 'prod-eu', 'spillway-pool': 'burst', 'managed-by': 'spillway', 'spillway-launch-token': labelValue('Plan-42/Step.7'),
  });
  t.regex(body.labels['spillway-launch-token'], /^[a-z0-9_-]{1,63}$/);
  t.deepEqual(body.metadata, { items: [{ key: 'user-data', value: userData }] });
  t.deepEqual(body.scheduling, { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', automaticRestart: false, onHostMaintenance: 'TERMINATE' });
  t.is(body.disks[0].initializeParams.sourceImage, 'projects/debian-cloud/global/images/family/debian-12');
  t.true(body.disks[0].boot);
  t.deepEqual(body.networkInterfaces, [{ network: 'global/networks/spillway-net', subnetwork: 'regions/us-central1/subnetworks/spillway-sub' }]);
  t.deepEqual(body.serviceAccounts, [{ email: 'agent@spillway-test.iam.gserviceaccount.com', scopes: ['https://www.googleapis.com/auth/cloud-platform'] }]);

  t.is(got.length, 2);
  t.deepEqual(got.map((i) => i.id), [instanceName('Plan-42/Step.7', 0), instanceName('Plan-42/Step.7', 1)]);
  for (const i of got) {
    t.like(i, { pool: 'burst', provider: 'gcp-compute', instanceType: 'e2-standard-4', capacityType: 'spot', zone: ZONE, state: 'running', launchedAt: CREATED_AT });
    t.regex(i.privateAddress ?? '', /^10\.128\.\d+\.\d+$/);
  }
  t.is(fake.instances().length, 2);
});

test('on-demand launches use the STANDARD provisioning model; no user-data means no metadata', async (t) => {
  const { fake, provider } = await setup(t);
  const [i] = await provider.launch('burst', 1, { token: 'od-1', instanceType: 'n2-standard-8' });
  const body = fake.calls('instances.insert')[0].body as Record<string, any>;
  t.deepEqual(body.scheduling, { provisioningModel: 'STANDARD' });
  t.is(body.metadata, undefined);
  t.like(i, { capacityType: 'on-demand', instanceType: 'n2-standard-8', state: 'running' });
});

test('the pool capacity type applies when the spec gives none', async (t) => {
  const { fake, provider } = await setup(t, { pools: (f) => [gcpPool(f, 'spotty', { capacityType: 'spot' })] });
  const [i] = await provider.launch('spotty', 1, { token: 'sp-1', instanceType: 'e2-standard-4' });
  t.is((fake.calls('instances.insert')[0].body as any).scheduling.provisioningModel, 'SPOT');
  t.is(i.capacityType, 'spot');
  t.is(i.pool, 'spotty');
});

test('the same token twice creates nothing new (GCE requestId dedup) and returns the same instances', async (t) => {
  const { fake, provider } = await setup(t);
  const spec = { token: 'tok-twice', instanceType: 'e2-standard-4' };
  const first = await provider.launch('burst', 3, spec);
  const second = await provider.launch('burst', 3, spec);
  t.is(fake.instances().length, 3);
  t.deepEqual(second.map((i) => i.id), first.map((i) => i.id));
  const inserts = fake.calls('instances.insert');
  t.is(inserts.length, 6);
  const requestIds = (rs: typeof inserts) => rs.map((r) => r.query.requestId).sort();
  t.deepEqual(requestIds(inserts.slice(3)), requestIds(inserts.slice(0, 3)));
  t.true(inserts.every((r) => r.status === 200), 'the repeats got the original operations back');
});

test('the same token after the dedup window: "already exists" is success and the instance is returned', async (t) => {
  const { fake, provider } = await setup(t);
  const spec = { token: 'tok-later', instanceType: 'e2-standard-4' };
  const first = await provider.launch('burst', 2, spec);
  fake.forgetRequestIds();
  const again = await provider.launch('burst', 2, spec);
  t.deepEqual(again, first);
  t.is(fake.instances().length, 2);
  t.deepEqual(fake.calls('instances.insert').slice(2).map((r) => r.status), [409, 409]);
});

test('the same token with different parameters is an idempotency conflict', async (t) => {
  const { fake, provider } = await setup(t);
  await provider.launch('burst', 1, { token: 'tok-conflict', instanceType: 'e2-standard-4' });
  await t.throwsAsync(provider.launch('burst', 1, { token: 'tok-conflict', instanceType: 'n2-standard-8' }), { instanceOf: IdempotencyConflictError, message: /machine type e2-standard-4/ });
  t.is(fake.instances().length, 1);
});

test('a reply lost after the create is retried with the same requestId: exactly one instance', async (t) => {
  const { fake, provider, sleeps } = await setup(t);
  fake.dropReplyAfterCreate(1);
  const got = await provider.launch('burst', 1, { token: 'tok-lost', instanceType: 'e2-standard-4' });
  const inserts = fake.calls('instances.insert');
  t.deepEqual(inserts.map((r) => r.status), ['dropped', 200]);
  t.is(inserts[0].query.requestId, inserts[1].query.requestId);
  t.is(fake.instances().length, 1);
  t.is(got.length, 1);
  t.is(got[0].state, 'running');
  t.deepEqual(sleeps, [250], 'one jittered backoff before the retry');
});

test('operations are waited on until DONE, however many times wait returns RUNNING', async (t) => {
  const { fake, provider, sleeps } = await setup(t, { fake: { opWaitsBeforeDone: 3 }, provider: { operationPollMs: 7 } });
  const [i] = await provider.launch('burst', 1, { token: 'tok-slow', instanceType: 'e2-standard-4' });
  t.is(fake.calls('zoneOperations.wait').length, 4);
  t.deepEqual(sleeps, [7, 7, 7]);
  t.is(i.state, 'running');
  t.true(fake.calls('zoneOperations.wait').every((r) => r.method === 'POST' && r.path.endsWith('/wait')));
});

test('an operation that never finishes surfaces as unavailable after maxOperationWaits', async (t) => {
  const { provider } = await setup(t, { fake: { opWaitsBeforeDone: 100 }, provider: { maxOperationWaits: 5 } });
  await t.throwsAsync(provider.launch('burst', 1, { token: 'tok-stuck', instanceType: 'e2-standard-4' }), { instanceOf: ProviderUnavailableError, message: /not DONE after 5 waits/ });
});

// ---- list / terminate ----------------------------------------------------------------------------

test('list filters by cluster and pool labels and follows every page', async (t) => {
  const { fake, provider } = await setup(t, {
    fake: { pageSize: 2 },
    pools: (f) => [gcpPool(f, 'burst'), gcpPool(f, 'other-pool')],
  });
  const mine = await provider.launch('burst', 5, { token: 'tok-list', instanceType: 'e2-standard-4' });
  await provider.launch('other-pool', 2, { token: 'tok-list-other', instanceType: 'e2-standard-4' });
  fake.seed(PROJECT, ZONE, { name: 'foreign-1', labels: { 'spillway-cluster': 'staging', 'spillway-pool': 'burst', 'managed-by': 'spillway' } });
  fake.seed(PROJECT, ZONE, { name: 'unlabelled-vm' });
  fake.seed(PROJECT, 'us-central1-b', { name: 'other-zone', labels: { 'spillway-cluster': 'prod-eu', 'spillway-pool': 'burst' } });
  fake.setStatus(PROJECT, ZONE, mine[1].id, 'STAGING');
  fake.setStatus(PROJECT, ZONE, mine[2].id, 'STOPPING');
  fake.setStatus(PROJECT, ZONE, mine[3].id, 'TERMINATED');
  fake.setStatus(PROJECT, ZONE, mine[4].id, 'SUSPENDED');

  const listed = await provider.list('burst');
  t.deepEqual(listed.map((i) => i.id).sort(), mine.map((i) => i.id).sort());
  const state = new Map(listed.map((i) => [i.id, i.state]));
  t.deepEqual(mine.map((i) => state.get(i.id)), ['running', 'pending', 'stopping', 'stopped', 'stopped']);
  t.true(listed.every((i) => i.pool === 'burst' && i.launchedAt === CREATED_AT));

  const pages = fake.calls('instances.list');
  t.is(pages.length, 3, '5 matching instances at 2 per page');
  t.is(pages[0].query.filter, '(labels.spillway-cluster = "prod-eu") AND (labels.spillway-pool = "burst")');
  t.false('pageToken' in pages[0].query);
  t.truthy(pages[1].query.pageToken);
  t.truthy(pages[2].query.pageToken);
  t.true(pages.every((p) => p.query.maxResults === '500' && p.query.filter === pages[0].query.filter));

  t.is((await provider.list('other-pool')).length, 2);
});

test('terminate deletes, waits, and is idempotent for gone and unknown ids', async (t) => {
  const { fake, provider } = await setup(t, { fake: { opWaitsBeforeDone: 1 } });
  const got = await provider.launch('burst', 2, { token: 'tok-del', instanceType: 'e2-standard-4' });
  await provider.terminate([got[0].id]);
  t.deepEqual(fake.instances().map((i) => i.name), [got[1].id]);
  const deletes = fake.calls('instances.delete');
  t.is(deletes.length, 1);
  t.regex(deletes[0].query.requestId, /^[0-9a-f-]{36}$/);

  await provider.terminate([got[0].id, got[0].id, 'spillway-never-existed-0', 'i-0ABC not a gce name']);
  t.is(fake.calls('instances.delete').length, 1, 'nothing left to delete');

  // Gone between the lookup and the delete: the 404 is fine too.
  fake.failNext(1, 404, 'notFound', { routes: ['instances.delete'] });
  await provider.terminate([got[1].id]);
  await provider.terminate([]);
  t.deepEqual((await provider.list('burst')).map((i) => i.id), [got[1].id]);
});

test('terminate never deletes an instance this cluster does not manage', async (t) => {
  const { fake, provider } = await setup(t);
  fake.seed(PROJECT, ZONE, { name: 'someone-elses', labels: { 'spillway-cluster': 'staging', 'managed-by': 'spillway' } });
  fake.seed(PROJECT, ZONE, { name: 'hand-made' });
  await provider.terminate(['someone-elses', 'hand-made']);
  t.is(fake.calls('instances.delete').length, 0);
  t.is(fake.instances().length, 2);
});

test('prices: on-demand from the price book, spot only where spotPrice is given', async (t) => {
  const { fake, provider } = await setup(t);
  t.deepEqual(await provider.prices('burst'), [
    { instanceType: 'e2-standard-4', zone: ZONE, capacityType: 'on-demand', hourly: 0.134 },
    { instanceType: 'e2-standard-4', zone: ZONE, capacityType: 'spot', hourly: 0.04 },
    { instanceType: 'n2-standard-8', zone: ZONE, capacityType: 'on-demand', hourly: 0.388 },
  ]);
  t.is(fake.requests.length, 0);
});

// ---- errors ------------------------------------------------------------------------------------

for (const code of ['ZONE_RESOURCE_POOL_EXHAUSTED', 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS']) {
  test(`operation error ${code} → InsufficientCapacityError`, async (t) => {
    const { fake, provider } = await setup(t);
    fake.failNextInserts(1, code);
    const e = await t.throwsAsync(provider.launch('burst', 1, { token: `tok-${code}`, instanceType: 'e2-standard-4' }), { instanceOf: InsufficientCapacityError });
    t.is(e?.code, code);
    t.is(fake.instances().length, 0);
  });
}

test('operation error QUOTA_EXCEEDED → QuotaExceededError; the other instances of the launch are still awaited', async (t) => {
  const { fake, provider } = await setup(t);
  fake.failNextInserts(1, 'QUOTA_EXCEEDED');
  const e = await t.throwsAsync(provider.launch('burst', 3, { token: 'tok-quota-op', instanceType: 'e2-standard-4' }), { instanceOf: QuotaExceededError });
  t.is(e?.code, 'QUOTA_EXCEEDED');
  t.is(fake.calls('instances.insert').length, 3);
  t.is(fake.calls('zoneOperations.wait').length, 3);
  t.is(fake.instances().length, 2, 'the two that fitted exist and show up in list()');
  t.is((await provider.list('burst')).length, 2);
});

test('a synchronous 403 quotaExceeded is a quota error, not an auth error', async (t) => {
  const { fake, provider } = await setup(t);
  fake.quotaExceededNext(1);
  await t.throwsAsync(provider.launch('burst', 1, { token: 'tok-quota-api', instanceType: 'e2-standard-4' }), { instanceOf: QuotaExceededError, message: /Quota 'CPUS' exceeded/ });
  t.is(fake.requests.length, 1, 'not retried');
});

test('429s are retried with jittered exponential backoff, then succeed', async (t) => {
  const { fake, provider, sleeps } = await setup(t);
  fake.throttleNext(3);
  const got = await provider.launch('burst', 1, { token: 'tok-429', instanceType: 'e2-standard-4' });
  t.is(got.length, 1);
  t.deepEqual(fake.calls('instances.insert').map((r) => r.status), [429, 429, 429, 200]);
  t.deepEqual(sleeps, [250, 500, 1000], 'random()=0.5 of 500·2^n');
  t.is(fake.instances().length, 1);
});

test('429s that outlast the attempts → ThrottledError', async (t) => {
  const { fake, provider, sleeps } = await setup(t, { provider: { maxAttempts: 4 } });
  fake.throttleNext(100);
  const e = await t.throwsAsync(provider.list('burst'), { instanceOf: ThrottledError, message: /after 4 attempts/ });
  t.is(e?.code, 'rateLimitExceeded');
  t.is(fake.requests.length, 4);
  t.is(sleeps.length, 3);
});

test('backoff is capped at maxDelayMs and uses the injected jitter', async (t) => {
  const { fake, provider, sleeps } = await setup(t, { provider: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 300, random: () => 0.99 } });
  fake.unavailableNext(5);
  await provider.list('burst');
  t.deepEqual(sleeps, [99, 198, 297, 297, 297]);
});

test('503s are retried; when they persist → ProviderUnavailableError', async (t) => {
  const { fake, provider } = await setup(t, { provider: { maxAttempts: 3 } });
  fake.unavailableNext(2);
  t.is((await provider.launch('burst', 1, { token: 'tok-503', instanceType: 'e2-standard-4' })).length, 1);
  fake.unavailableNext(3, ['instances.delete']);
  const [id] = (await provider.list('burst')).map((i) => i.id);
  await t.throwsAsync(provider.terminate([id]), { instanceOf: ProviderUnavailableError, message: /after 3 attempts/ });
  t.is(fake.calls('instances.delete').length, 3);
});

test('a 503 on wait or list is retried too', async (t) => {
  const { fake, provider } = await setup(t, { fake: { pageSize: 1 } });
  fake.unavailableNext(1, ['zoneOperations.wait']);
  await provider.launch('burst', 2, { token: 'tok-wait-503', instanceType: 'e2-standard-4' });
  fake.unavailableNext(1, ['instances.list']);
  t.is((await provider.list('burst')).length, 2);
});

test('403 → AuthError without retries', async (t) => {
  const { fake, provider, sleeps } = await setup(t);
  fake.forbiddenNext(1);
  await t.throwsAsync(provider.launch('burst', 1, { token: 'tok-403', instanceType: 'e2-standard-4' }), { instanceOf: AuthError });
  t.is(fake.requests.length, 1);
  t.deepEqual(sleeps, []);
});

test('401 → AuthError without retries', async (t) => {
  const { fake, provider } = await setup(t);
  fake.unauthenticatedNext(1);
  await t.throwsAsync(provider.list('burst'), { instanceOf: AuthError });
  t.is(fake.requests.length, 1);
});

test('a 400 from GCE (bad request) → InvalidConfigError, not retried', async (t) => {
  const { fake, provider } = await setup(t);
  fake.failNext(1, 400, 'invalid', { message: "Invalid value for field 'resource.disks[0].initializeParams.sourceImage'" });
  await t.throwsAsync(provider.launch('burst', 1, { token: 'tok-400', instanceType: 'e2-standard-4' }), { instanceOf: InvalidConfigError, message: /sourceImage/ });
  t.is(fake.requests.length, 1);
});

test('a server that drops every connection → ProviderUnavailableError after the retries', async (t) => {
  const fake = await GceFake.start();
  const pool = gcpPool(fake);
  await fake.close();
  // Same address space, but whatever connects is reset at once (no port-reuse race with a closed port).
  const rude = createNetServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => rude.close(() => resolve())));
  const port = (rude.address() as AddressInfo).port;
  const sleeps: number[] = [];
  const provider = createGcpComputeProvider([{ ...pool, gcp: { ...pool.gcp!, apiEndpoint: `http://127.0.0.1:${port}` } }], ctx, {
    sleep: async (ms) => { sleeps.push(ms); }, random: () => 0.5, maxAttempts: 3,
  });
  t.teardown(() => provider.close());
  const e = await t.throwsAsync(provider.list('burst'), { instanceOf: ProviderUnavailableError, message: /after 3 attempts/ });
  t.regex(e?.code ?? '', /^(ECONNRESET|EPIPE|UND_ERR_SOCKET)$/);
  t.deepEqual(sleeps, [250, 500]);
});

test('many instances launch and terminate with bounded concurrency, none twice', async (t) => {
  const { fake, provider } = await setup(t, { provider: { concurrency: 4 } });
  const got = await provider.launch('burst', 20, { token: 'tok-many', instanceType: 'e2-standard-4' });
  t.is(new Set(got.map((i) => i.id)).size, 20);
  t.is(fake.instances().length, 20);
  t.is(fake.calls('instances.insert').length, 20);
  await provider.terminate(got.map((i) => i.id));
  t.is(fake.instances().length, 0);
  t.is(fake.calls('instances.delete').length, 20);
});

// ---- validation before any request ------------------------------------------------------------

test('bad input is rejected with InvalidConfigError before any request', async (t) => {
  const { fake, provider } = await setup(t, {
    pools: (f) => {
      const good = gcpPool(f);
      return [
        good,
        { ...good, name: 'no-project', gcp: { ...good.gcp!, project: '' } },
        { ...good, name: 'no-zone', gcp: { ...good.gcp!, zone: ' ' } },
        { ...good, name: 'no-image', gcp: { ...good.gcp!, sourceImage: '' } },
        { ...good, name: 'no-gcp', gcp: undefined },
        { ...good, name: 'cleartext', gcp: { ...good.gcp!, insecure: false } },
        { ...good, name: 'pathy', gcp: { ...good.gcp!, apiEndpoint: `${f.endpoint}/compute` } },
      ];
    },
  });
  const ok = { token: 'tok-bad', instanceType: 'e2-standard-4' };
  const cases: [string, number, typeof ok & Record<string, unknown>, RegExp][] = [
    ['no-project', 1, ok, /gcp\.project is missing/],
    ['no-zone', 1, ok, /gcp\.zone is missing/],
    ['no-image', 1, ok, /sourceImage is missing/],
    ['no-gcp', 1, ok, /needs a 'gcp' section/],
    ['cleartext', 1, ok, /insecure: true/],
    ['pathy', 1, ok, /must not have a path/],
    ['nope', 1, ok, /no gcp-compute pool named 'nope'/],
    ['burst', 1, { ...ok, instanceType: 'm1-megamem-96' }, /instance type 'm1-megamem-96' is not in its instanceTypes/],
    ['burst', 0, ok, /count must be/],
    ['burst', -2, ok, /count must be/],
    ['burst', 1.5, ok, /count must be/],
    ['burst', 1, { ...ok, token: '' }, /token is empty/],
    ['burst', 1, { ...ok, zone: 'europe-west1-b' }, /differs from the pool's zone/],
    ['burst', 1, { ...ok, userData: 'x'.repeat(USER_DATA_LIMIT_BYTES + 1) }, /at most 262144 bytes/],
    ['burst', 1, { ...ok, userData: 'é'.repeat(USER_DATA_LIMIT_BYTES / 2 + 1) }, /262146 bytes/],
  ];
  for (const [pool, count, spec, message] of cases) {
    await t.throwsAsync(provider.launch(pool, count, spec), { instanceOf: InvalidConfigError, message }, `${pool} ${count} ${String(spec.instanceType)}`);
  }
  await t.throwsAsync(provider.list('no-project'), { instanceOf: InvalidConfigError });
  await t.throwsAsync(provider.prices('no-zone'), { instanceOf: InvalidConfigError });
  await t.throwsAsync(provider.terminate(['x']), { instanceOf: InvalidConfigError }, 'a broken pool makes the location set unknowable');
  t.is(fake.requests.length, 0, 'the fake saw no request at all');
});

test('user-data of exactly 256 KiB is accepted', async (t) => {
  const { fake, provider } = await setup(t);
  const userData = 'x'.repeat(USER_DATA_LIMIT_BYTES);
  await provider.launch('burst', 1, { token: 'tok-big', instanceType: 'e2-standard-4', userData });
  t.is((fake.calls('instances.insert')[0].body as any).metadata.items[0].value.length, USER_DATA_LIMIT_BYTES);
});

// ---- pure pieces ---------------------------------------------------------------------------------

test('instance names are deterministic, valid and distinct', (t) => {
  const tokens = ['a', 'A', 'Plan-42/Step.7', '---', '0123', 'x'.repeat(300), 'ünïcødé token', '7f3c9a2e-1b4d-4e8f-9a6b-3c2d1e0f9a8b'];
  const names = new Set<string>();
  for (const tok of tokens) {
    for (const i of [0, 1, 9999]) {
      const n = instanceName(tok, i);
      t.regex(n, GCE_NAME, n);
      t.true(n.length <= 63, n);
      t.is(instanceName(tok, i), n);
      names.add(n);
    }
  }
  t.is(names.size, tokens.length * 3, 'A and a, and the punctuation-only tokens, do not collide');
  t.regex(insertRequestId('x', 0), UUID_V5);
  t.is(insertRequestId('x', 0), insertRequestId('x', 0));
  t.not(insertRequestId('x', 0), insertRequestId('x', 1));
  t.is(labelValue('prod-eu'), 'prod-eu');
  t.not(labelValue('Prod'), labelValue('prod'));
  t.regex(labelValue('Prod/EU ' + 'z'.repeat(100)), /^[a-z0-9_-]{1,63}$/);
});

test('error classification handles 6.x HTTP codes and 7.x gRPC codes alike', (t) => {
  const http = (status: number, reason: string, message = 'm') => Object.assign(new Error(JSON.stringify({ error: { code: status, message, errors: [{ reason, message }] } })), { status, code: status });
  const grpc = (code: number, message: string, reason?: string) => Object.assign(new Error(message), { code, ...(reason ? { reason } : {}) });
  const cls = (e: unknown) => classifyApiError(e)?.cls;

  t.is(cls(http(429, 'rateLimitExceeded')), 'throttled');
  t.is(cls(http(403, 'rateLimitExceeded')), 'throttled');
  t.is(cls(http(403, 'quotaExceeded', "Quota 'CPUS' exceeded")), 'quota');
  t.is(cls(http(403, 'forbidden')), 'auth');
  t.is(cls(http(401, 'required')), 'auth');
  t.is(cls(http(404, 'notFound')), 'not-found');
  t.is(cls(http(409, 'alreadyExists')), 'already-exists');
  t.is(cls(http(503, 'backendError')), 'unavailable');
  t.is(cls(http(500, 'backendError')), 'unavailable');
  t.is(cls(http(400, 'invalid')), 'config');

  t.is(cls(grpc(8, 'Quota exceeded for quota metric', 'QUOTA_EXCEEDED')), 'quota');
  t.is(cls(grpc(8, "Quota 'CPUS' exceeded. Limit: 24.0")), 'quota');
  t.is(cls(grpc(8, 'Rate Limit Exceeded', 'RATE_LIMIT_EXCEEDED')), 'throttled');
  t.is(cls(grpc(8, 'Resource exhausted')), 'throttled');
  t.is(cls(grpc(7, 'Required permission')), 'auth');
  t.is(cls(grpc(16, 'no credentials')), 'auth');
  t.is(cls(grpc(5, 'not found')), 'not-found');
  t.is(cls(grpc(6, 'already exists')), 'already-exists');
  t.is(cls(grpc(14, 'unavailable')), 'unavailable');
  t.is(cls(grpc(13, 'internal')), 'unavailable');
  t.is(cls(grpc(4, 'deadline')), 'unavailable');
  t.is(cls(grpc(3, 'bad field')), 'config');
  t.is(cls(grpc(14, 'The zone does not have enough resources', 'ZONE_RESOURCE_POOL_EXHAUSTED')), 'capacity');

  t.is(cls(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'network');
  t.is(cls(new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started')), 'auth');
  t.is(cls(http(400, 'invalid_grant', 'invalid_grant: Invalid JWT Signature.')), 'auth');
  t.is(classifyApiError(new TypeError('x is not a function')), undefined, 'bugs are not API errors');

  const op = (code: string, http?: number) => classifyOperationError({ status: 'DONE', error: { errors: [{ code, message: 'x' }] }, ...(http ? { httpErrorStatusCode: http } : {}) });
  t.like(op('ZONE_RESOURCE_POOL_EXHAUSTED', 503), { cls: 'capacity', retryable: false });
  t.like(op('ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS'), { cls: 'capacity', code: 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS' });
  t.like(op('QUOTA_EXCEEDED', 403), { cls: 'quota' });
  t.like(op('RESOURCE_ALREADY_EXISTS', 409), { cls: 'already-exists' });
  t.like(op('RESOURCE_NOT_FOUND', 404), { cls: 'not-found' });
  t.like(op('SOMETHING_NEW', 500), { cls: 'unavailable', retryable: false });
  t.is(classifyOperationError({ status: 'DONE' }), undefined);
});
