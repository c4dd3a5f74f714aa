// Scale-down victim selection (policies/scaling/scale-down.ts): pure, driven by an explicit `now`.
import test from 'ava';
import { DO_NOT_DISRUPT_LABEL, isDoNotDisrupt, selectVictims, type ScaleDownAgent, type ScaleDownInput } from '../policies/scaling/scale-down.ts';

const agent = (id: string, o: Partial<ScaleDownAgent> = {}): ScaleDownAgent => ({
  id, pool: 'burst', ownership: 'rented', hourlyCost: 0.1, utilisation: { cpus: 0, mem: 0 }, reserved: false, doNotDisrupt: [],
  releasable: true, draining: false, needed: false, ...o,
});

const policy = { utilisationThreshold: 0.5, unneededForSeconds: 60, disruptionBudget: 10, order: ['rented-first', 'most-expensive-first'] as ('rented-first' | 'most-expensive-first')[] };

const input = (agents: ScaleDownAgent[], o: Partial<ScaleDownInput> = {}): ScaleDownInput => ({
  now: 100_000, agents, pools: [{ name: 'burst', min: 0 }, { name: 'rack', min: 0 }], unneededSince: {}, policy, ...o,
});

test('an idle agent becomes a candidate now and a victim only after the unneeded-for time', (t) => {
  const first = selectVictims(input([agent('a')]));
  t.deepEqual(first.unneededSince, { a: 100_000 });
  t.is(first.victims.length, 0);
  t.regex(first.kept[0].reason, /drained after 60 s/);
  const later = selectVictims(input([agent('a')], { now: 160_000, unneededSince: first.unneededSince }));
  t.deepEqual(later.victims.map((v) => v.agentId), ['a']);
  t.regex(later.victims[0].reason, /below 50 % for 60 s/);
});

test('a busy agent, or one whose free capacity pending demand needs, is no candidate (and its clock restarts)', (t) => {
  const r = selectVictims(input([agent('busy', { utilisation: { cpus: 0.6, mem: 0.1 } }), agent('needed', { needed: true })], { unneededSince: { busy: 0, needed: 0 } }));
  t.deepEqual(r.unneededSince, {});
  t.deepEqual(r.victims, []);
});

test('rented before owned, then most expensive first; the disruption budget caps how many at once', (t) => {
  const agents = [
    agent('owned-dear', { pool: 'rack', ownership: 'owned', hourlyCost: 5 }),
    agent('cheap', { hourlyCost: 0.1 }),
    agent('dear', { hourlyCost: 0.9 }),
  ];
  const since = { 'owned-dear': 0, cheap: 0, dear: 0 };
  const all = selectVictims(input(agents, { unneededSince: since }));
  t.deepEqual(all.victims.map((v) => v.agentId), ['dear', 'cheap', 'owned-dear']);
  const two = selectVictims(input(agents, { unneededSince: since, policy: { ...policy, disruptionBudget: 2 } }));
  t.deepEqual(two.victims.map((v) => v.agentId), ['dear', 'cheap']);
  t.regex(two.kept.find((k) => k.agentId === 'owned-dear')!.reason, /disruption budget \(2 = 2 at once\) is used up/);
  // Agents already draining use the budget up too; a percentage is of the releasable machines.
  const busy = selectVictims(input([...agents, agent('x', { draining: true })], { unneededSince: since, policy: { ...policy, disruptionBudget: '25%' } }));
  t.deepEqual(busy.victims.map((v) => v.agentId), [], '25 % of 4 = 1, and one is draining already');
});

test('most-expensive-first alone orders by cost whatever the ownership', (t) => {
  const agents = [agent('owned-dear', { pool: 'rack', ownership: 'owned', hourlyCost: 5 }), agent('dear', { hourlyCost: 0.9 })];
  const r = selectVictims(input(agents, { unneededSince: { 'owned-dear': 0, dear: 0 }, policy: { ...policy, order: ['most-expensive-first'] } }));
  t.deepEqual(r.victims.map((v) => v.agentId), ['owned-dear', 'dear']);
});

test('reservations and do-not-disrupt tasks keep an agent; so does a pool at its min', (t) => {
  const agents = [agent('res', { reserved: true }), agent('dnd', { doNotDisrupt: ['task-7'] }), agent('a'), agent('b')];
  const since = { res: 0, dnd: 0, a: 0, b: 0 };
  const r = selectVictims(input(agents, { unneededSince: since, pools: [{ name: 'burst', min: 3 }] }));
  t.regex(r.kept.find((k) => k.agentId === 'res')!.reason, /holds reservations/);
  t.regex(r.kept.find((k) => k.agentId === 'dnd')!.reason, new RegExp(`task task-7 is labelled ${DO_NOT_DISRUPT_LABEL}`));
  t.deepEqual(r.victims.map((v) => v.agentId), ['a'], '4 agents, min 3: one may go');
  t.regex(r.kept.find((k) => k.agentId === 'b')!.reason, /below its min of 3/);
});

test('machines the autoscaler cannot release are never candidates; a blocked evaluation drains nothing and says why', (t) => {
  t.deepEqual(selectVictims(input([agent('byhand', { releasable: false })], { unneededSince: { byhand: 0 } })).unneededSince, {});
  const r = selectVictims(input([agent('a')], { unneededSince: { a: 0 }, blocked: 'a scale-up is planned in this evaluation' }));
  t.deepEqual(r.victims, []);
  t.regex(r.kept[0].reason, /but a scale-up is planned/);
  t.deepEqual(r.unneededSince, { a: 0 }, 'the candidate keeps its clock while blocked');
});

test('the do-not-disrupt label is "true" (or has no value)', (t) => {
  t.true(isDoNotDisrupt([{ key: DO_NOT_DISRUPT_LABEL, value: 'true' }]));
  t.true(isDoNotDisrupt([{ key: DO_NOT_DISRUPT_LABEL }]));
  t.false(isDoNotDisrupt([{ key: DO_NOT_DISRUPT_LABEL, value: 'false' }]));
  t.false(isDoNotDisrupt(undefined));
});
