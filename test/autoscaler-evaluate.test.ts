// One evaluation (src/autoscaler/evaluate.ts), pure: inputs in, actions and the decision record out.
import test from 'ava';
import { evaluate, poolStates, type AgentView, type EvaluationInputs } from '../src/autoscaler/evaluate.ts';
import { parsePolicy } from '../src/autoscaler/policy-schema.ts';
import type { InstanceRecord } from '../src/autoscaler/records.ts';

const { policy } = parsePolicy(`
pools:
  - { name: owned, provider: local, ownership: owned, max: 1, instanceTypes: [{ name: box, cpus: 1, mem: 512 }] }
  - { name: burst, provider: local, ownership: rented, capacityType: spot, max: 3, instanceTypes: [{ name: small, cpus: 1, mem: 512, price: 0.1 }] }
scaleUp: { batchWindowSeconds: 10 }
scaleDown: { unneededForSeconds: 60, drainGraceSeconds: 30 }
budget: { perHour: 1 }
cooldowns: { scaleUpSeconds: 0, scaleDownSeconds: 300 }
`, 'test.yaml');

const q = (cpus: number, mem: number) => ({ cpus, mem, disk: 0, gpus: 0 });
const agent = (id: string, o: Partial<AgentView> = {}): AgentView => ({
  id, hostname: '127.0.0.1', pool: 'owned', attributes: { pool: o.pool ?? 'owned' }, total: q(1, 512), used: q(0, 0), free: q(1, 512),
  reserved: false, doNotDisrupt: [], draining: false, active: true, ...o,
});
const rec = (id: string, o: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instanceId: id, pool: 'burst', instanceType: 'small', ownership: 'rented', capacityType: 'spot', unitPrice: 0.1, jobId: 'launch_burst_small_g0',
  state: 'running', launchedAt: 0, updatedAt: 0, ...o,
});
const NOW = 1_000_000;
const inputs = (o: Partial<EvaluationInputs> = {}): EvaluationInputs => ({
  now: NOW, policy, policyVersion: 1, demands: [], agents: [agent('A-owned')], records: [], launches: [], inventory: { owned: [], burst: [] },
  inventoryErrors: {}, prices: {}, backoff: [], launchesInLastMinute: 0, lastScaleUpAt: {}, unneeded: {}, generations: {}, notices: [], ...o,
});
const demand = (count: number, since = 0) => ({ id: 'F#0', frameworkId: 'F', role: '*', shape: { cpus: 1, mem: 64 }, count, since });

test('demand beyond the owned agent becomes one launch with a deterministic job id; the same inputs give the same id', (t) => {
  const a = evaluate(inputs({ demands: [demand(3)] }));
  t.is(a.launches.length, 1);
  t.like(a.launches[0], { pool: 'burst', instanceType: 'small', count: 2, state: 'queued', jobId: 'launch_burst_small_g0' });
  t.is(evaluate(inputs({ demands: [demand(3)] })).launches[0].jobId, a.launches[0].jobId, 'same step twice → same job');
  t.is(evaluate(inputs({ demands: [demand(3)], generations: { burst: 1 } })).launches[0].jobId, 'launch_burst_small_g1', 'after a recorded launch the next one differs');
  t.regex(a.decision.summary, /launch 2 × small in burst/);
  t.like(a.decision.inputs, { demandUnits: 3, placements: { onAgents: 1, onRented: 2 } });
});

test('a queued launch counts as booting capacity: the same demand is not launched for twice', (t) => {
  const first = evaluate(inputs({ demands: [demand(3)] }));
  const again = evaluate(inputs({ demands: [demand(3)], launches: first.launches, generations: { burst: 1 } }));
  t.deepEqual(again.launches, []);
  t.regex(again.decision.summary, /fit on the capacity there is \(or is booting\)/);
});

test('demand younger than the batch window waits, and the evaluation says until when', (t) => {
  const e = evaluate(inputs({ demands: [demand(3, NOW - 2_000)] }));
  t.deepEqual(e.launches, []);
  t.is(e.nextDueAt, NOW + 8_000);
  t.true(e.decision.notes.some((n) => /wait for the batch window \(10 s\)/.test(n)));
});

test('a spot notice drains its agent at once (grace ending 5 s before the deadline) and plans a replacement for what it ran', (t) => {
  const spot = agent('A-spot', { pool: 'burst', instanceId: 'i-1', attributes: { pool: 'burst', instance: 'i-1' }, used: q(1, 256), free: q(0, 256) });
  const e = evaluate(inputs({
    agents: [agent('A-owned', { used: q(1, 512), free: q(0, 0) }), spot], records: [rec('i-1', { agentId: 'A-spot' })],
    inventory: { owned: [], burst: [{ id: 'i-1', pool: 'burst', provider: 'local', instanceType: 'small', capacityType: 'spot', zone: 'z', state: 'running', launchedAt: 0 }] },
    notices: [{ instanceId: 'i-1', pool: 'burst', deadline: NOW + 20_000, reason: 'spot reclaim', source: 'agent', receivedAt: NOW }],
  }));
  t.is(e.drains.length, 1);
  t.like(e.drains[0], { agentId: 'A-spot', urgent: true, graceSeconds: 15 });
  t.is(e.launches.length, 1, 'a replacement instance');
  t.true(e.launches[0].reason.includes('replace:i-1') || e.plan!.steps[0].units.some((u) => u.demandId === 'replace:i-1'));
});

test('an agent the master drained on its own notice still gets the drain job (which releases the instance) and a replacement for what it held then', (t) => {
  // Its tasks are being killed: it holds nothing now, but the notice recorded what it ran.
  const spot = agent('A-spot', { pool: 'burst', instanceId: 'i-1', attributes: { pool: 'burst', instance: 'i-1' }, used: q(0, 0), free: q(1, 512), draining: true });
  const e = evaluate(inputs({
    agents: [agent('A-owned', { used: q(1, 512), free: q(0, 0) }), spot], records: [rec('i-1', { agentId: 'A-spot' })],
    inventory: { owned: [], burst: [{ id: 'i-1', pool: 'burst', provider: 'local', instanceType: 'small', capacityType: 'spot', zone: 'z', state: 'running', launchedAt: 0 }] },
    notices: [{ instanceId: 'i-1', agentId: 'A-spot', pool: 'burst', deadline: NOW + 120_000, reason: 'aws-ec2 terminate notice read by the agent', source: 'agent', receivedAt: NOW, used: { cpus: 1, mem: 256, disk: 0, gpus: 0 } }],
  }));
  t.is(e.drains.length, 1);
  t.like(e.drains[0], { agentId: 'A-spot', urgent: true });
  t.is(e.launches.length, 1, 'a replacement for the 1 cpu / 256 MB it ran');
});

test('an idle rented agent is drained only after the unneeded time, and not during the scale-down cooldown', (t) => {
  const idle = agent('A-r', { pool: 'burst', instanceId: 'i-1', attributes: { pool: 'burst', instance: 'i-1' } });
  const base = { agents: [agent('A-owned'), idle], records: [rec('i-1', { agentId: 'A-r' })],
    inventory: { owned: [], burst: [{ id: 'i-1', pool: 'burst', provider: 'local', instanceType: 'small', capacityType: 'spot' as const, zone: 'z', state: 'running' as const, launchedAt: 0 }] } };
  const first = evaluate(inputs(base));
  t.deepEqual(first.drains, []);
  t.deepEqual(first.unneeded, { 'A-r': NOW });
  const later = evaluate(inputs({ ...base, now: NOW + 60_000, unneeded: first.unneeded }));
  t.like(later.drains[0], { agentId: 'A-r', instanceId: 'i-1', urgent: false, graceSeconds: 30 });
  const cooling = evaluate(inputs({ ...base, now: NOW + 60_000, unneeded: first.unneeded, lastScaleUpAt: { burst: NOW } }));
  t.deepEqual(cooling.drains, []);
  t.true(cooling.decision.notes.some((n) => /scale-down cools down until/.test(n)));
  // Demand that arrived a moment ago (inside the 10 s batch window) would go to it: kept.
  const wanted = evaluate(inputs({ ...base, agents: [agent('A-owned', { used: q(1, 512), free: q(0, 0) }), idle], now: NOW + 60_000, unneeded: first.unneeded, demands: [demand(1, NOW + 59_000)] }));
  t.deepEqual(wanted.drains, [], 'not drained under demand waiting for the batch window');
  t.deepEqual(wanted.launches, [], 'nor is anything launched for it yet');
});

test('without a policy nothing is planned and the record says so', (t) => {
  const e = evaluate(inputs({ policy: undefined, demands: [demand(5)] }));
  t.deepEqual(e.launches, []);
  t.regex(e.decision.summary, /no policy applied/);
});

test('a rented pool below its min is topped up; an owned pool below its min is not (its machines are started by hand)', (t) => {
  const { policy: p } = parsePolicy(`
pools:
  - { name: owned, provider: local, ownership: owned, min: 2, max: 2, instanceTypes: [{ name: box, cpus: 1, mem: 512 }] }
  - { name: burst, provider: local, ownership: rented, min: 1, max: 3, instanceTypes: [{ name: small, cpus: 1, mem: 512, price: 0.1 }, { name: big, cpus: 4, mem: 512, price: 0.5 }] }
budget: { perHour: 1 }
`, 'min.yaml');
  const e = evaluate(inputs({ policy: p, agents: [] }));
  t.deepEqual(e.launches.map((l) => [l.pool, l.instanceType, l.count]), [['burst', 'small', 1]]);
  t.regex(e.launches[0].reason, /below its min of 1/);
});

test('a static machine that is on is not offered for power-on again, and its agent (no instance attribute) is found by its record', (t) => {
  const { policy: rack } = parsePolicy(`
pools:
  - name: rack
    provider: static
    ownership: owned
    max: 2
    static:
      powerOn: "true"
      powerOff: "true"
      machines: [{ name: node1, address: 10.0.0.1, cpus: 1, mem: 512 }, { name: node2, address: 10.0.0.2, cpus: 1, mem: 512 }]
scaleDown: { unneededForSeconds: 60, drainGraceSeconds: 30, utilisationThreshold: 0.5 }
budget: { perHour: 1 }
cooldowns: { scaleUpSeconds: 0, scaleDownSeconds: 0 }
`, 'rack.yaml');
  const node1 = rec('rack/node1', { pool: 'rack', instanceType: 'node1', ownership: 'owned', capacityType: 'owned', unitPrice: 0, agentId: 'A-node1' });
  const busy = agent('A-node1', { hostname: '10.0.0.1', pool: 'rack', attributes: { pool: 'rack' }, used: q(1, 512), free: q(0, 0) });
  const listed = { id: 'rack/node1', pool: 'rack', provider: 'static', instanceType: 'node1', capacityType: 'owned' as const, zone: 'on-prem', state: 'running' as const, launchedAt: 0, privateAddress: '10.0.0.1' };
  const base = { policy: rack, agents: [busy], records: [node1], inventory: { rack: [listed] } };
  const [state] = poolStates(inputs(base), rack.pools);
  t.deepEqual(state.offMachines, ['node2'], 'node1 is on');
  t.is(state.running, 1, 'its agent is the record\'s, not one more machine outside the autoscaler');
  const up = evaluate(inputs({ ...base, demands: [demand(1)] }));
  t.deepEqual(up.decision.actions.filter((a) => a.type === 'power-on').map((a) => a.reason.match(/machine (\w+)/)?.[1]), ['node2']);
  // Idle past the unneeded time: drained and released as the record's instance.
  const idle = agent('A-node1', { hostname: '10.0.0.1', pool: 'rack', attributes: { pool: 'rack' } });
  const down = evaluate(inputs({ ...base, agents: [idle], unneeded: { 'A-node1': NOW - 120_000 } }));
  t.like(down.drains[0], { agentId: 'A-node1', instanceId: 'rack/node1', pool: 'rack' });
});

test('a rented instance the provider reports stopped, with no connected agent, is terminated and its agent marked gone; an owned one that is stopped is just off', (t) => {
  const listed = (id: string, state: 'running' | 'stopped', pool = 'burst') => ({ id, pool, provider: 'local', instanceType: 'small', capacityType: 'spot' as const, zone: 'z', state, launchedAt: 0 });
  const gone = agent('A-r', { pool: 'burst', instanceId: 'i-1', attributes: { pool: 'burst', instance: 'i-1' }, active: false });
  const e = evaluate(inputs({
    agents: [agent('A-owned', { used: q(1, 512), free: q(0, 0) }), gone], records: [rec('i-1', { agentId: 'A-r' }), rec('i-2'), rec('box-1', { pool: 'owned', ownership: 'owned', capacityType: 'owned' })],
    inventory: { owned: [listed('box-1', 'stopped', 'owned')], burst: [listed('i-1', 'stopped'), listed('i-2', 'stopped')] }, demands: [demand(2)],
  }));
  const found = e.findings.flatMap((f) => (f.kind === 'vanished' ? [f] : []));
  t.deepEqual(found.map((f) => [f.instanceId, f.agentId, f.terminate]), [['i-1', 'A-r', true], ['i-2', undefined, true]]);
  t.deepEqual(e.decision.actions.filter((a) => a.type === 'terminate').map((a) => a.instanceId), ['i-1', 'i-2']);
  t.true(e.decision.actions.some((a) => a.type === 'mark-gone' && a.agentId === 'A-r'));
  t.regex(found[0].reason, /stopped at the provider with no connected agent: terminated/);
  t.is(e.launches.length, 1, 'the demand is planned again, not counted on the stopped instances');
  // Its agent still connected: the listing may be behind; nothing is done.
  const up = evaluate(inputs({ agents: [{ ...gone, active: true }], records: [rec('i-1', { agentId: 'A-r' })], inventory: { owned: [], burst: [listed('i-1', 'stopped')] } }));
  t.deepEqual(up.findings, []);
});

test('the agent of an owned machine powered on again comes back drained: once connected it is registered and reactivated, and counted as capacity', (t) => {
  const { policy: rack } = parsePolicy(`
pools:
  - name: rack
    provider: static
    ownership: owned
    max: 1
    static: { powerOn: "true", powerOff: "true", machines: [{ name: node1, address: 10.0.0.1, cpus: 1, mem: 512 }] }
budget: { perHour: 1 }
`, 'rack.yaml');
  const listed = { id: 'rack/node1', pool: 'rack', provider: 'static', instanceType: 'node1', capacityType: 'owned' as const, zone: 'on-prem', state: 'running' as const, launchedAt: 5, privateAddress: '10.0.0.1' };
  const booting = rec('rack/node1', { pool: 'rack', instanceType: 'node1', ownership: 'owned', capacityType: 'owned', unitPrice: 0, state: 'booting', launchedAt: 5, jobId: 'launch_rack_node1_g1', kind: 'power-on', drainedAgentId: 'A-node1' });
  const drained = agent('A-node1', { hostname: '10.0.0.1', pool: 'rack', attributes: { pool: 'rack' }, draining: true });
  const base = { policy: rack, records: [booting], inventory: { rack: [listed] }, demands: [demand(1)] };
  // Still the disconnected entry of its last lifetime: not registered yet.
  t.deepEqual(evaluate(inputs({ ...base, agents: [{ ...drained, active: false }] })).registered, []);
  const e = evaluate(inputs({ ...base, agents: [drained] }));
  t.deepEqual(e.registered, [{ instanceId: 'rack/node1', agentId: 'A-node1', reactivate: true }]);
  t.deepEqual(e.launches, [], 'its agent takes the demand: nothing else is started');
  t.regex(e.decision.actions.find((a) => a.type === 'registered')!.reason, /reactivated/);
});

test('a launch recorded under a generation the counter never passed is not planned again under its job id', (t) => {
  const old = { jobId: 'launch_burst_small_g0', pool: 'burst', instanceType: 'small', kind: 'launch' as const, count: 1, capacityType: 'spot' as const, ownership: 'rented' as const, unitPrice: 0.1, state: 'launched' as const, reason: '', createdAt: 0, updatedAt: 0 };
  const e = evaluate(inputs({ demands: [demand(3)], launches: [old], generations: {} }));
  t.is(e.launches[0].jobId, 'launch_burst_small_g1');
});

test('an owned pool priced by amortisation costs what reports charge for it: the cheaper rack powers on first', (t) => {
  const { policy: racks } = parsePolicy(`
pools:
  - name: rack-a
    provider: static
    ownership: owned
    max: 1
    costPerHour: 0.12
    static: { powerOn: "true", machines: [{ name: a1, address: 10.0.1.1, cpus: 1, mem: 512 }] }
  - name: rack-b
    provider: static
    ownership: owned
    max: 1
    amortisation: { purchasePrice: 14000, lifeYears: 5, powerPerHour: 0.04, spacePerHour: 0.02 }
    static: { powerOn: "true", machines: [{ name: b1, address: 10.0.2.1, cpus: 1, mem: 512 }] }
budget: { perHour: 1 }
`, 'racks.yaml');
  const e = evaluate(inputs({ policy: racks, agents: [], inventory: { 'rack-a': [], 'rack-b': [] }, demands: [demand(1)] }));
  t.deepEqual(e.launches.map((l) => [l.pool, l.instanceType]), [['rack-a', 'a1']], 'not the dearer rack that looked free');
  const onlyB = evaluate(inputs({ policy: { ...racks, pools: racks.pools.filter((p) => p.name === 'rack-b') }, agents: [], inventory: { 'rack-b': [] }, demands: [demand(1)] }));
  t.true(Math.abs(onlyB.launches[0].unitPrice - (14000 / (5 * 8766) + 0.06)) < 1e-9, `unitPrice ${onlyB.launches[0].unitPrice}`);
});

test('a rented pool\'s min is kept whatever the budget, but launched within the launch rate; validation says so', (t) => {
  const text = `
pools:
  - { name: cloud, provider: local, ownership: rented, min: 12, max: 20, instanceTypes: [{ name: big, cpus: 4, mem: 8192, price: 0.5 }] }
scaleUp: { maxLaunchesPerMinute: 2 }
budget: { perHour: 0.2 }
`;
  const { policy: floor, warnings } = parsePolicy(text, 'floor.yaml');
  t.true(warnings.some((w) => /min of 12 costs at least 6\/h, above budget.perHour 0.2 — the min is kept whatever the budget/.test(w.reason)), JSON.stringify(warnings));
  const e = evaluate(inputs({ policy: floor, agents: [], inventory: { cloud: [] } }));
  t.is(e.launches.reduce((n, l) => n + l.count, 0), 2, 'two now (maxLaunchesPerMinute), not 12 at once');
  t.true(e.decision.notes.some((n) => /12 below its min of 12: 2 now, the rest after scaleUp.maxLaunchesPerMinute/.test(n)), e.decision.notes.join('\n'));
  const later = evaluate(inputs({ policy: floor, agents: [], inventory: { cloud: [] }, launchesInLastMinute: 2 }));
  t.deepEqual(later.launches, [], 'the rate is spent for this minute');
});

