// Spot prices for accounting from the provider's prices(): the real AWS EC2 adapter (through the
// SDK) against the EC2 fake's DescribeSpotPriceHistory, cached by the price feed; the cost model
// charges a spot agent the latest price for its zone, and keeps the last prices when EC2 fails.
import test from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolSchema } from '../providers/pool-config.ts';
import { createAwsEc2Provider } from '../providers/aws-ec2/index.ts';
import { ManualClock } from '../src/common/clock.ts';
import { silentLogger } from '../src/common/logger.ts';
import { ProviderPriceFeed } from '../src/accounting/price-feed.ts';
import { classifyAgent } from '../src/accounting/pool-match.ts';
import { Ec2Fake } from './fakes/ec2-fake.ts';
import { Redis } from 'ioredis';
import { runMaster } from '../src/master/run-master.ts';
import { freePort } from '../src/up/redis-process.ts';
import { SimulatedAgent } from '../src/sim/simulated-agent.ts';
import { resources } from '../src/resources/resources.ts';
import { keyPrefix } from '../src/store/redis-store.ts';
import { FAST_MASTER } from './helpers/in-process.ts';
import { tempDir, testRedis } from './helpers/redis.ts';

for (const k of Object.keys(process.env)) if (k.startsWith('AWS_') && k !== 'AWS_CA_BUNDLE') delete process.env[k];
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmpdir(), 'spillway-no-such-dir', 'credentials');
process.env.AWS_CONFIG_FILE = join(tmpdir(), 'spillway-no-such-dir', 'config');

const NOW = Date.parse('2026-11-02T12:00:00.000Z');
const H = 3_600_000;

test('a spot agent is charged the latest spot price of its zone; a failed refresh keeps the last prices', async (t) => {
  const clock = new ManualClock(NOW);
  const fake = await Ec2Fake.start({ now: () => clock.now() });
  const pool = PoolSchema.parse({
    name: 'spot', provider: 'aws-ec2', ownership: 'rented', capacityType: 'spot', max: 10,
    instanceTypes: [{ name: 'm5.large', cpus: 2, mem: 8192, price: 0.096, spotPrice: 0.04 }],
    aws: { region: 'us-east-1', endpoint: fake.url, amiId: 'ami-0123456789abcdef0', credentials: { accessKeyId: 'AKIDSPILLWAYTEST', secretAccessKey: 'not-a-secret' } },
  });
  const provider = createAwsEc2Provider([pool], { cluster: 'prod', masterUrl: 'http://127.0.0.1:5050', log: silentLogger, clock }, {
    retry: { baseDelayMs: 1, random: () => 0.5, sleep: async () => {} },
  });
  t.teardown(async () => { provider.close(); await fake.close(); });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.05, at: NOW - 2 * H });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.043, at: NOW - H });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1b', price: 0.039, at: NOW - H / 2 });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1d', price: 0.09, at: NOW - H / 2 });

  const feed = new ProviderPriceFeed(new Map([['spot', provider]]), 5 * 60_000, silentLogger);
  await feed.refresh(clock.now());
  const agent = (zone: string) => ({ id: `a-${zone}`, hostname: 'h', attributes: { pool: 'spot', zone }, total: { cpus: 2, mem: 8192, gpus: 0 } });
  t.like(classifyAgent(agent('us-east-1a'), [pool], feed.latest()), { hourly: 0.043, listHourly: 0.096, capacityType: 'spot' });
  t.like(classifyAgent(agent('us-east-1b'), [pool], feed.latest()), { hourly: 0.039 });
  t.like(classifyAgent(agent(''), [pool], feed.latest()), { hourly: 0.09 }, 'zone unknown: the dearest zone, as the planner budgets');

  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.061, at: NOW + 60_000 });
  clock.advance(2 * 60_000);
  await feed.refresh(clock.now());
  t.is(classifyAgent(agent('us-east-1a'), [pool], feed.latest()).hourly, 0.043, 'not refreshed before refreshMs');
  clock.advance(5 * 60_000);
  await feed.refresh(clock.now());
  t.is(classifyAgent(agent('us-east-1a'), [pool], feed.latest()).hourly, 0.061, 'the new price after refreshMs');

  fake.inject({ action: 'DescribeSpotPriceHistory', fault: { kind: 'error', code: 'AuthFailure', status: 401 } });
  clock.advance(10 * 60_000);
  await feed.refresh(clock.now()); // does not throw
  t.is(classifyAgent(agent('us-east-1a'), [pool], feed.latest()).hourly, 0.061, 'EC2 failing: the last prices are kept');
});

test('a master with the autoscaler charges its spot agents the live price of their zone, not the policy\'s listed spotPrice', async (t) => {
  const clock = new ManualClock(NOW);
  const fake = await Ec2Fake.start({ now: () => clock.now() });
  fake.addSpotPrice({ instanceType: 'm5.large', zone: 'us-east-1a', price: 0.061, at: NOW - H });
  const redis = await testRedis();
  const port = await freePort();
  const master = await runMaster({
    redisUrl: redis.url, host: '127.0.0.1', port, log: silentLogger, clock, accounting: { intervalSeconds: 60 },
    config: { ...FAST_MASTER, agentPingIntervalSeconds: 3600 }, autoscaler: { intervalSeconds: 3600, stateDir: tempDir() },
  });
  const agent = new SimulatedAgent({
    master: master.url, hostname: 'ip-10-0-0-7', resources: resources({ cpus: 2, mem: 8192 }),
    attributes: [{ name: 'pool', type: 'TEXT', text: { value: 'spot' } }, { name: 'zone', type: 'TEXT', text: { value: 'us-east-1a' } }],
  });
  t.teardown(async () => { agent.stop(); await master.stop(); await redis.stop(); await fake.close(); });
  const policy = { pools: [{
    name: 'spot', provider: 'aws-ec2', ownership: 'rented', capacityType: 'spot', max: 10,
    instanceTypes: [{ name: 'm5.large', cpus: 2, mem: 8192, price: 0.096, spotPrice: 0.04 }],
    aws: { region: 'us-east-1', endpoint: fake.url, amiId: 'ami-0123456789abcdef0', credentials: { accessKeyId: 'AKIDSPILLWAYTEST', secretAccessKey: 'not-a-secret' } },
  }], budget: { perHour: 5 } };
  const applied = await fetch(`${master.url}/v1/policies`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(policy) });
  t.is(applied.status, 201, await applied.text());
  await agent.start();
  await master.accounting!.sampler.tick();
  clock.advance(3 * 60_000);
  await master.accounting!.sampler.tick();
  const r = new Redis(redis.url);
  t.teardown(() => r.quit());
  const samples = (await Promise.all([0, 1].map((h) => r.hgetall(`${keyPrefix('default')}acct:s:${Math.floor(NOW / H) * H + h * H}`))))
    .flatMap((m) => Object.entries(m)).filter(([f]) => f.startsWith(`${agent.agentId}@`)).map(([, v]) => JSON.parse(v) as { hourly: number; list: number });
  t.true(samples.length >= 2, `${samples.length} samples`);
  for (const s of samples) t.like(s, { hourly: 0.061, list: 0.096 });
});
