// Durable records every fault test seeds before the fault and compares afterwards: a weight, a
// quota, a dynamic reservation on an agent, an applied autoscaling policy, and provisioning
// records (a launch and its instance, as the autoscaler writes them; src/autoscaler/records.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { MasterClient } from '../../src/client/master-client.ts';
import { keyPrefix } from '../../src/store/redis-store.ts';
import { scalarRes } from './raw-framework.ts';
import { policyRecords } from './durability-check.ts';
import { HaCluster, type HaClusterOptions } from './ha-cluster.ts';
import { LaunchingFramework, type LaunchingFrameworkOptions } from './ha-framework.ts';

const POLICY = readFileSync(fileURLToPath(new URL('../../policies/examples/local.yaml', import.meta.url)), 'utf8');

export async function seedPolicyRecords(client: MasterClient, redis: Redis): Promise<void> {
  await client.request('/api/v1', { type: 'UPDATE_WEIGHTS', update_weights: { weight_infos: [{ role: 'ops', weight: 2.5 }] } });
  await client.request('/api/v1', { type: 'UPDATE_QUOTA', update_quota: { force: true, quota_configs: [{ role: 'ops', guarantees: { cpus: { value: 1 } } }] } });
  const agents = (await client.call<{ get_agents: { agents: { agent_info: { id: { value: string } } }[] } }>('GET_AGENTS')).get_agents.agents;
  await client.request('/api/v1', {
    type: 'RESERVE_RESOURCES',
    reserve_resources: { agent_id: agents[0].agent_info.id, resources: [{ ...scalarRes('cpus', 1), reservations: [{ type: 'DYNAMIC', role: 'ops', principal: 'ops' }] }] },
  });
  const res = await client.fetch('/v1/policies?file=local.yaml', { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: POLICY });
  if (res.status !== 201) throw new Error(`policy apply: ${res.status} ${await res.text()}`);
  const now = Date.now();
  const p = `${keyPrefix('default')}autoscaler:`;
  await redis.hset(`${p}launches`, 'local-rented#1', JSON.stringify({
    jobId: 'local-rented#1', pool: 'local-rented', instanceType: 'local', kind: 'launch', count: 1, capacityType: 'on-demand', ownership: 'rented',
    unitPrice: 0.1, state: 'launched', reason: 'seeded by the fault test', createdAt: now, updatedAt: now, instanceIds: ['i-seeded'],
  }));
  await redis.hset(`${p}instances`, 'i-seeded', JSON.stringify({
    instanceId: 'i-seeded', pool: 'local-rented', instanceType: 'local', ownership: 'rented', capacityType: 'on-demand', unitPrice: 0.1,
    jobId: 'local-rented#1', state: 'running', launchedAt: now, updatedAt: now,
  }));
}

/**
 * The opening of a fault test: a cluster (stopped at teardown, its log dir logged), the durable
 * records seeded and read back as `before`, and a launching framework on every master.
 */
export async function startFaultScene(
  t: { teardown(fn: () => unknown): void; log(...v: unknown[]): void },
  cluster: HaClusterOptions, framework: Omit<LaunchingFrameworkOptions, 'masters'>,
): Promise<{ c: HaCluster; fw: LaunchingFramework; before: object }> {
  const c = await HaCluster.start(cluster);
  t.teardown(() => c.stop());
  t.log(`logs in ${c.logDir}`);
  await seedPolicyRecords(c.client(), c.checkerClient());
  const before = policyRecords(await c.redisState());
  const fw = new LaunchingFramework({ masters: c.masterUrls, ...framework });
  t.teardown(() => fw.close());
  return { c, fw, before };
}
