// The reconciler (src/autoscaler/reconcile.ts): inventory vs agents vs records, pure.
import test from 'ava';
import { reconcile, type ReconcileInput } from '../src/autoscaler/reconcile.ts';
import type { Instance } from '../providers/provider.ts';
import type { InstanceRecord } from '../src/autoscaler/records.ts';

const inst = (id: string, o: Partial<Instance> = {}): Instance => ({
  id, pool: 'burst', provider: 'local', instanceType: 'small', capacityType: 'spot', zone: 'local', state: 'running', launchedAt: 0, ...o,
});
const rec = (id: string, o: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instanceId: id, pool: 'burst', instanceType: 'small', ownership: 'rented', capacityType: 'spot', unitPrice: 0.1, jobId: 'launch_burst_small_g0',
  state: 'booting', launchedAt: 0, updatedAt: 0, ...o,
});
const base = (o: Partial<ReconcileInput>): ReconcileInput => ({
  now: 100_000, bootTimeoutSeconds: { burst: 60 }, inventory: { burst: [] }, records: [], launches: [], agents: [], unknownInstances: 'terminate', ...o,
});

test('a booting instance whose agent registered is reported registered', (t) => {
  const f = reconcile(base({ inventory: { burst: [inst('i-1')] }, records: [rec('i-1')], agents: [{ id: 'A1', instanceId: 'i-1', hostname: 'h' }] }));
  t.deepEqual(f, [{ kind: 'registered', instanceId: 'i-1', agentId: 'A1', pool: 'burst' }]);
});

test('an instance without an agent after its boot timeout is a boot timeout; before it, nothing', (t) => {
  const input = base({ inventory: { burst: [inst('i-1')] }, records: [rec('i-1', { launchedAt: 50_000 })] });
  t.deepEqual(reconcile(input), []);
  const late = reconcile({ ...input, now: 110_000 });
  t.is(late[0].kind, 'boot-timeout');
  t.regex((late[0] as { reason: string }).reason, /no agent within its boot timeout of 60 s/);
});

test('an agent whose instance is gone from the provider (spot reclaim) is reported vanished with its agent', (t) => {
  const f = reconcile(base({ records: [rec('i-1', { state: 'running', agentId: 'A1' })], agents: [{ id: 'A1', instanceId: 'i-1', hostname: 'h' }] }));
  t.is(f.length, 1);
  t.like(f[0], { kind: 'vanished', instanceId: 'i-1', agentId: 'A1' });
  t.regex((f[0] as { reason: string }).reason, /spot reclaim/);
});

test('an instance nobody knows is terminated or adopted per policy, but not while a launch is in flight or it may still boot', (t) => {
  const input = base({ inventory: { burst: [inst('i-x')] } });
  t.like(reconcile(input)[0], { kind: 'unknown', action: 'terminate' });
  t.like(reconcile({ ...input, unknownInstances: 'adopt' })[0], { kind: 'unknown', action: 'adopt' });
  const launching = { jobId: 'j', pool: 'burst', instanceType: 'small', kind: 'launch' as const, count: 1, capacityType: 'spot' as const, ownership: 'rented' as const, unitPrice: 0, state: 'queued' as const, reason: '', createdAt: 0, updatedAt: 0 };
  t.deepEqual(reconcile({ ...input, launches: [launching] }), []);
  t.deepEqual(reconcile(base({ inventory: { burst: [inst('i-x', { launchedAt: 90_000 })] } })), [], 'young: it may belong to a launch not yet recorded');
  t.deepEqual(reconcile(base({ inventory: { burst: [inst('i-x')] }, agents: [{ id: 'A', instanceId: 'i-x', hostname: 'h' }] })), [], 'an agent knows it');
});

test('a pool whose listing failed is not reconciled (no false vanished)', (t) => {
  t.deepEqual(reconcile(base({ inventory: {}, records: [rec('i-1', { state: 'running' })] })), []);
});
