// The DRF sorter and the offer allocator: pure and synchronous, so every scenario runs with explicit
// `now` values and seeded randomness.
import test from 'ava';
import { prng, int, pick, shuffle } from '../src/common/seeded-random.ts';
import { DrfSorter } from '../src/allocator/drf-sorter.ts';
import { Allocator, type OfferProposal } from '../src/allocator/allocator.ts';
import {
  add, contains, EMPTY, equals, format, isEmpty, portCount, resources, scalar, subtract, type Resources,
} from '../src/resources/resources.ts';
import {
  flatten, formatSet, isEmptySet, subtractSets, unreservedSet, UNRESERVED_KEY, type ResourceSet,
} from '../src/resources/resource-set.ts';

// ---- helpers ---------------------------------------------------------------------------------


const names = (s: DrfSorter): string[] => s.sorted().map((c) => c.name);
const node = (cpus: number, mem: number, extra: Record<string, number> = {}, ports: [number, number][] = []): Resources =>
  resources({ cpus, mem, ...extra }, ports);
/** The same quantities as `node`, as an all-unreserved ResourceSet (what the allocator takes). */
const set = (cpus: number, mem: number, extra: Record<string, number> = {}, ports: [number, number][] = []): ResourceSet =>
  unreservedSet(node(cpus, mem, extra, ports));
const summary = (ps: readonly OfferProposal[]): string[] => ps.map((p) => `${p.agentId}->${p.frameworkId}`);
const order = (...agentOrder: string[]) => ({ agentOrder });

// ---- DRF sorter ------------------------------------------------------------------------------

test('DRF: clients are ordered by dominant share, the largest fraction of any one resource', (t) => {
  const s = new DrfSorter();
  s.setTotal(node(10, 100));
  s.add('mem-heavy');
  s.add('cpu-heavy');
  s.add('idle');
  s.allocated('mem-heavy', node(1, 50)); // dominant: mem 0.5
  s.allocated('cpu-heavy', node(3, 10)); // dominant: cpus 0.3
  t.is(s.share('mem-heavy'), 0.5);
  t.is(s.share('cpu-heavy'), 0.3);
  t.is(s.share('idle'), 0);
  t.deepEqual(names(s), ['idle', 'cpu-heavy', 'mem-heavy']);
});

test('DRF: a weight divides the share, so a weight-2 client may hold twice as much before it yields', (t) => {
  const s = new DrfSorter();
  s.setTotal(node(10, 100));
  s.add('heavy', 2);
  s.add('light');
  s.allocated('heavy', node(4, 0)); // 0.4 / 2 = 0.2
  s.allocated('light', node(3, 0)); // 0.3
  t.is(s.share('heavy'), 0.2);
  t.deepEqual(names(s), ['heavy', 'light']);
  s.setWeight('heavy', 1);
  t.is(s.share('heavy'), 0.4);
  t.deepEqual(names(s), ['light', 'heavy']);
});

test('DRF: excluded resources such as gpus do not count toward the share', (t) => {
  const total = node(10, 100, { gpus: 4 });
  const plain = new DrfSorter();
  const excluding = new DrfSorter(new Set(['gpus']));
  for (const s of [plain, excluding]) {
    s.setTotal(total);
    s.add('gpu-user');
    s.add('cpu-user');
    s.allocated('gpu-user', node(1, 0, { gpus: 4 })); // cpus 0.1, gpus 1.0
    s.allocated('cpu-user', node(2, 0)); // cpus 0.2
  }
  t.is(plain.share('gpu-user'), 1);
  t.deepEqual(names(plain), ['cpu-user', 'gpu-user']);
  t.is(excluding.share('gpu-user'), 0.1);
  t.deepEqual(names(excluding), ['gpu-user', 'cpu-user']);
});

test('DRF: equal shares are ordered by name; unallocating and removing reposition clients', (t) => {
  const s = new DrfSorter();
  s.setTotal(node(10, 100));
  for (const n of ['c', 'a', 'b']) s.add(n);
  t.deepEqual(names(s), ['a', 'b', 'c']);
  s.allocated('a', node(5, 0));
  t.deepEqual(names(s), ['b', 'c', 'a']);
  s.unallocated('a', node(5, 0));
  t.deepEqual(names(s), ['a', 'b', 'c']);
  t.true(isEmpty(s.allocation('a')));
  s.remove('b');
  t.false(s.has('b'));
  t.deepEqual(names(s), ['a', 'c']);
  // Adding a known client again is a no-op and keeps its allocation.
  s.allocated('c', node(1, 0));
  s.add('c');
  t.deepEqual(s.allocation('c').scalars, { cpus: 1 });
});

test('DRF: a new cluster total recomputes every share and the order', (t) => {
  const s = new DrfSorter();
  s.setTotal(node(10, 100));
  s.add('a');
  s.add('b');
  s.allocated('a', node(2, 0)); // 0.2
  s.allocated('b', node(0, 30)); // 0.3
  t.deepEqual(names(s), ['a', 'b']);
  s.setTotal(node(4, 1000)); // a: 0.5, b: 0.03
  t.is(s.share('a'), 0.5);
  t.is(s.share('b'), 0.03);
  t.deepEqual(names(s), ['b', 'a']);
});

test('DRF: incremental repositioning matches a brute-force full sort over 3000 random operations', (t) => {
  for (const seed of [1, 42, 20240601]) {
    const rand = prng(seed);
    const excluded = new Set(['gpus']);
    const s = new DrfSorter(excluded);
    const model = new Map<string, { weight: number; allocation: Resources }>();
    let total = node(64, 65536, { gpus: 8, disk: 1e6 });
    s.setTotal(total);
    const pool = Array.from({ length: 12 }, (_, i) => `client-${String.fromCharCode(97 + i)}`);

    const expected = (): string[] => {
      const shareOf = (m: { weight: number; allocation: Resources }): number => {
        let dominant = 0;
        for (const [k, v] of Object.entries(m.allocation.scalars)) {
          if (excluded.has(k)) continue;
          const tot = total.scalars[k];
          if (tot && tot > 0) dominant = Math.max(dominant, v / tot);
        }
        return dominant / m.weight;
      };
      return [...model.entries()]
        .map(([name, m]) => ({ name, share: shareOf(m) }))
        .sort((a, b) => (a.share !== b.share ? a.share - b.share : a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((c) => c.name);
    };
    const randomResources = (): Resources => resources({
      cpus: int(rand, 0, 40) / 10,
      mem: int(rand, 0, 16) * 128,
      ...(rand() < 0.3 ? { gpus: int(rand, 0, 2) } : {}),
      ...(rand() < 0.2 ? { disk: int(rand, 0, 5000) } : {}),
    });

    for (let step = 0; step < 1000; step++) {
      const op = rand();
      const name = pick(rand, pool);
      const m = model.get(name);
      if (op < 0.12) {
        const weight = pick(rand, [0.5, 1, 1, 2, 3]);
        s.add(name, weight);
        if (!m) model.set(name, { weight, allocation: EMPTY });
      } else if (op < 0.18) {
        s.remove(name);
        model.delete(name);
      } else if (op < 0.55) {
        const r = randomResources();
        s.allocated(name, r);
        if (m) m.allocation = add(m.allocation, r);
      } else if (op < 0.85) {
        // Mostly give back part of what is held, sometimes an arbitrary amount (clamps at zero).
        const r = m && rand() < 0.8 ? resources({ cpus: scalar(m.allocation, 'cpus') * rand(), mem: scalar(m.allocation, 'mem') / 2 }) : randomResources();
        s.unallocated(name, r);
        if (m) m.allocation = subtract(m.allocation, r);
      } else if (op < 0.95) {
        const weight = pick(rand, [0.5, 1, 2, 4]);
        s.setWeight(name, weight);
        if (m) m.weight = weight;
      } else {
        total = node(int(rand, 16, 128), int(rand, 8, 128) * 1024, { gpus: int(rand, 0, 8), disk: 1e6 });
        s.setTotal(total);
      }
      const want = expected();
      const got = names(s);
      if (got.join() !== want.join()) {
        t.fail(`seed ${seed}, step ${step}: incremental order ${got.join(',')} != full sort ${want.join(',')}`);
        return;
      }
      for (const [n, mm] of model) {
        if (!equals(s.allocation(n), mm.allocation)) {
          t.fail(`seed ${seed}, step ${step}: allocation of ${n} is ${format(s.allocation(n))}, expected ${format(mm.allocation)}`);
          return;
        }
      }
    }
    t.pass();
  }
});

// ---- allocation rounds -----------------------------------------------------------------------

test('a round gives each agent’s whole free resources to the framework with the lowest share', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 4096, {}, [[31000, 31099]]));
  a.addAgent('ag2', set(4, 4096, {}, [[31000, 31099]]));
  a.addFramework('fw-a', ['r']);
  a.addFramework('fw-b', ['r']);
  a.allocate('fw-a', 'r', 'ag1', set(1, 128)); // a task restored on ag1: fw-a is ahead

  const freeAg1 = a.agentFree('ag1');
  t.deepEqual(freeAg1, set(3, 3968, {}, [[31000, 31099]]));
  const proposals = a.allocateRound(0, order('ag1', 'ag2'));
  t.deepEqual(proposals, [
    { frameworkId: 'fw-b', agentId: 'ag1', role: 'r', resources: freeAg1 },
    // fw-b now holds 3 of 8 cpus, fw-a 1 of 8: ag2 goes to fw-a.
    { frameworkId: 'fw-a', agentId: 'ag2', role: 'r', resources: set(4, 4096, {}, [[31000, 31099]]) },
  ]);
  t.true(isEmptySet(a.agentFree('ag1')));
  t.true(isEmptySet(a.agentFree('ag2')));
  t.deepEqual(a.allocationOf('fw-a').scalars, { cpus: 5, mem: 4224 });
  t.deepEqual(a.allocationOf('fw-b').scalars, { cpus: 3, mem: 3968 });
  // Nothing is free any more: the next round offers nothing (no double offers).
  t.deepEqual(a.allocateRound(1, order('ag1', 'ag2')), []);
});

test('agents are visited in the caller’s order and unknown agent ids are skipped', (t) => {
  const a = new Allocator();
  for (const id of ['ag1', 'ag2', 'ag3']) a.addAgent(id, set(2, 1024));
  a.addFramework('fw-x', ['r']);
  a.addFramework('fw-y', ['r']);
  t.deepEqual(summary(a.allocateRound(0, order('ag3', 'nope', 'ag1', 'ag2', 'ag3'))), ['ag3->fw-x', 'ag1->fw-y', 'ag2->fw-x']);
});

test('roles are balanced before frameworks: one framework in its own role gets as much as five sharing a role', (t) => {
  const a = new Allocator();
  const agents = Array.from({ length: 10 }, (_, i) => `ag${i}`);
  for (const id of agents) a.addAgent(id, set(1, 1024));
  for (let i = 1; i <= 5; i++) a.addFramework(`batch-${i}`, ['batch']);
  a.addFramework('web-1', ['web']);

  const proposals = a.allocateRound(0, { agentOrder: agents });
  t.is(proposals.length, 10);
  const per = new Map<string, number>();
  for (const p of proposals) per.set(p.frameworkId, (per.get(p.frameworkId) ?? 0) + 1);
  // Flat DRF over six frameworks would give web-1 about 10/6; hierarchical DRF gives its role half.
  t.is(per.get('web-1'), 5);
  for (let i = 1; i <= 5; i++) t.is(per.get(`batch-${i}`), 1, `batch-${i}`);
  t.true(proposals.filter((p) => p.frameworkId === 'web-1').every((p) => p.role === 'web'));
  t.true(proposals.filter((p) => p.frameworkId !== 'web-1').every((p) => p.role === 'batch'));
});

test('fairnessExcluded: holding every gpu does not make a framework look rich', (t) => {
  for (const [excluded, winner] of [[['gpus'], 'gpu-fw'], [[], 'cpu-fw']] as const) {
    const a = new Allocator({ fairnessExcluded: excluded });
    a.addAgent('gpu-host', set(2, 1024, { gpus: 4 }));
    a.addAgent('cpu-host', set(8, 8192));
    a.addFramework('gpu-fw', ['r']);
    a.addFramework('cpu-fw', ['r']);
    a.allocate('gpu-fw', 'r', 'gpu-host', set(0.5, 0, { gpus: 4 })); // cpus 0.05, gpus 1.0
    a.allocate('cpu-fw', 'r', 'cpu-host', set(1, 0)); // cpus 0.1
    const [p] = a.allocateRound(0, order('cpu-host'));
    t.is(p.frameworkId, winner, `excluded=${JSON.stringify(excluded)}`);
  }
});

test('an agent is offered only when its free resources reach the default minimum (cpus 0.01 or mem 32)', (t) => {
  const a = new Allocator();
  a.addAgent('tiny', set(0.005, 16));
  a.addAgent('mem-only', unreservedSet(resources({ mem: 32 })));
  a.addAgent('cpu-only', unreservedSet(resources({ cpus: 0.01 })));
  a.addAgent('ports-only', unreservedSet(resources({}, [[31000, 32000]])));
  a.addFramework('fw', ['r']);
  t.deepEqual(summary(a.allocateRound(0, order('tiny', 'mem-only', 'cpu-only', 'ports-only'))), ['mem-only->fw', 'cpu-only->fw']);
  t.deepEqual(a.agentFree('tiny'), set(0.005, 16));
});

test('a custom minAllocatable requires every quantity of at least one alternative', (t) => {
  const a = new Allocator({ minAllocatable: [{ cpus: 1, mem: 512 }, { gpus: 1 }] });
  a.addAgent('small', set(2, 256));
  a.addAgent('big', set(1, 512));
  a.addAgent('gpu', set(0, 0, { gpus: 1 }));
  a.addFramework('fw', ['r']);
  t.deepEqual(summary(a.allocateRound(0, order('small', 'big', 'gpu'))), ['big->fw', 'gpu->fw']);
  // Leftovers below the threshold after a partial accept are not offered either.
  a.recover('fw', 'r', 'big', set(0.5, 512));
  t.deepEqual(a.allocateRound(1, order('big')), []);
});

// ---- filters, suppress, revive ---------------------------------------------------------------

test('a declined agent is not re-offered to that framework for refuse_seconds, then it is', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addFramework('fw', ['r']);
  const [offer] = a.allocateRound(1_000);
  a.recover('fw', 'r', 'ag1', offer.resources, { refuseSeconds: 5, now: 1_000 });
  t.deepEqual(a.agentFree('ag1'), set(4, 1024));
  t.deepEqual(a.allocateRound(1_000), []);
  t.deepEqual(a.allocateRound(3_000), []);
  t.deepEqual(a.allocateRound(5_999), []);
  t.deepEqual(summary(a.allocateRound(6_000)), ['ag1->fw']);
});

test('a decline with refuse_seconds 0 sets no filter: the agent comes straight back', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addFramework('fw', ['r']);
  const [offer] = a.allocateRound(0);
  a.recover('fw', 'r', 'ag1', offer.resources, { refuseSeconds: 0, now: 0 });
  t.deepEqual(summary(a.allocateRound(0)), ['ag1->fw']);
});

test('a filter is per framework and per agent: others still get offers', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addAgent('ag2', set(4, 1024));
  a.addFramework('fw-1', ['r']);
  a.addFramework('fw-2', ['r']);
  const first = a.allocateRound(0, order('ag1', 'ag2'));
  t.deepEqual(summary(first), ['ag1->fw-1', 'ag2->fw-2']);
  a.recover('fw-1', 'r', 'ag1', first[0].resources, { refuseSeconds: 60, now: 0 });
  a.recover('fw-2', 'r', 'ag2', first[1].resources); // fw-2 returns ag2 without a filter
  // ag1 is filtered for fw-1, so it goes to fw-2 even though fw-2 is not behind; ag2 goes to fw-1.
  const second = a.allocateRound(10, order('ag1', 'ag2'));
  t.deepEqual(summary(second), ['ag1->fw-2', 'ag2->fw-1']);
});

test('a filtered agent is re-offered before expiry once its free resources grow beyond what was declined', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024, {}, [[31000, 31009]]));
  a.addFramework('fw', ['r']);
  const [offer] = a.allocateRound(0);
  // Accept a task with part of the offer and decline the rest for 60 s.
  const task = set(1, 256, {}, [[31000, 31000]]);
  a.recover('fw', 'r', 'ag1', subtractSets(offer.resources, task), { refuseSeconds: 60, now: 0 });
  t.deepEqual(a.allocateRound(1_000), [], 'the declined remainder is filtered');
  // The task finishes: the agent now has more than the framework declined.
  a.recover('fw', 'r', 'ag1', task);
  const again = a.allocateRound(2_000);
  t.deepEqual(summary(again), ['ag1->fw']);
  t.deepEqual(again[0].resources, set(4, 1024, {}, [[31000, 31009]]));
});

test('a filter still applies when the agent has less than what was declined', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addFramework('fw', ['r']);
  a.addFramework('other', ['r']);
  a.setFrameworkActive('other', false);
  const [offer] = a.allocateRound(0);
  t.is(offer.frameworkId, 'fw');
  a.recover('fw', 'r', 'ag1', offer.resources, { refuseSeconds: 60, now: 0 });
  a.allocate('other', 'r', 'ag1', set(1, 0)); // e.g. a restored task of another framework
  t.deepEqual(a.allocateRound(1_000), []);
});

test('revive clears the framework’s filters so declined agents are offered at once', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addAgent('ag2', set(2, 512));
  a.addFramework('fw', ['r']);
  for (const o of a.allocateRound(0)) a.recover('fw', o.role, o.agentId, o.resources, { refuseSeconds: 3600, now: 0 });
  t.deepEqual(a.allocateRound(10), []);
  a.revive('fw');
  t.deepEqual(summary(a.allocateRound(20, order('ag1', 'ag2'))), ['ag1->fw', 'ag2->fw']);
});

test('a suppressed framework gets no offers until it revives; others still do', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addFramework('quiet', ['r']);
  a.suppress('quiet');
  t.deepEqual(a.allocateRound(0), []);
  t.deepEqual(a.agentFree('ag1'), set(4, 1024));
  a.addFramework('loud', ['r']);
  t.deepEqual(summary(a.allocateRound(1)), ['ag1->loud']);
  const held = a.allocationOf('loud');
  a.recover('loud', 'r', 'ag1', unreservedSet(held), { refuseSeconds: 60, now: 1 });
  t.deepEqual(a.allocateRound(2), []);
  a.revive('quiet');
  t.deepEqual(summary(a.allocateRound(3)), ['ag1->quiet']);
});

test('inactive frameworks and inactive agents get nothing until reactivated', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addFramework('fw', ['r']);
  a.setFrameworkActive('fw', false);
  t.deepEqual(a.allocateRound(0), []);
  a.setFrameworkActive('fw', true);
  a.setAgentActive('ag1', false);
  t.deepEqual(a.allocateRound(1), []);
  t.deepEqual(a.agentFree('ag1'), set(4, 1024), 'an inactive agent keeps its free resources');
  a.setAgentActive('ag1', true);
  t.deepEqual(summary(a.allocateRound(2)), ['ag1->fw']);
});

// ---- bookkeeping -----------------------------------------------------------------------------

test('recover never makes an agent’s free resources exceed its total', (t) => {
  const a = new Allocator();
  const total = set(4, 1024, {}, [[31000, 31009]]);
  a.addAgent('ag1', total);
  a.addFramework('fw', ['r']);
  const [offer] = a.allocateRound(0);
  a.recover('fw', 'r', 'ag1', offer.resources);
  a.recover('fw', 'r', 'ag1', offer.resources); // recovered twice by mistake
  t.deepEqual(a.agentFree('ag1'), total);
  // Resources the agent never had (more cpus, a gpu, foreign ports) are clamped away too.
  a.recover('fw', 'r', 'ag1', set(2, 0, { gpus: 1 }, [[31005, 31020], [40000, 40000]]));
  t.deepEqual(a.agentFree('ag1'), total);
  t.true(isEmpty(a.allocationOf('fw')));
});

test('an agent registered with resources in use offers only the rest', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024, {}, [[31000, 31009]]), set(1, 256, {}, [[31002, 31003]]));
  t.deepEqual(a.agentFree('ag1'), set(3, 768, {}, [[31000, 31001], [31004, 31009]]));
  t.deepEqual(a.clusterTotal().scalars, { cpus: 4, mem: 1024 });
});

test('removeAgent drops the agent, its share of the cluster total and every filter on it', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addAgent('ag2', set(4, 1024));
  t.deepEqual(a.clusterTotal().scalars, { cpus: 8, mem: 2048 });
  a.addFramework('fw', ['r']);
  for (const o of a.allocateRound(0)) a.recover('fw', o.role, o.agentId, o.resources, { refuseSeconds: 3600, now: 0 });
  a.removeAgent('ag1');
  t.false(a.hasAgent('ag1'));
  t.true(isEmptySet(a.agentFree('ag1')));
  t.deepEqual(a.clusterTotal().scalars, { cpus: 4, mem: 1024 });
  t.deepEqual(a.allocateRound(1, order('ag1', 'ag2')), [], 'ag2 is still filtered, ag1 is gone');
  // The agent comes back (re-registers): the old filter is gone with it.
  a.addAgent('ag1', set(4, 1024));
  t.deepEqual(summary(a.allocateRound(2, order('ag1', 'ag2'))), ['ag1->fw']);
  a.removeAgent('nope'); // unknown ids are ignored
  t.is(scalar(a.clusterTotal(), 'cpus'), 8);
});

test('re-adding an agent under the same id replaces it instead of counting it twice', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addAgent('ag1', set(8, 2048));
  t.deepEqual(a.clusterTotal().scalars, { cpus: 8, mem: 2048 });
  t.deepEqual(a.agentFree('ag1'), set(8, 2048));
});

test('removeFramework forgets the framework; removing a role’s last framework resets the role’s share', (t) => {
  const a = new Allocator();
  for (const id of ['ag1', 'ag2', 'ag3']) a.addAgent(id, set(4, 1024));
  a.addFramework('a1', ['alpha']);
  a.addFramework('b1', ['beta']);
  a.allocate('a1', 'alpha', 'ag1', set(4, 1024)); // alpha holds a third of the cluster
  a.allocate('b1', 'beta', 'ag2', set(1, 0)); // beta a twelfth
  t.deepEqual(a.rolesOf('a1'), ['alpha']);
  const roleAllocated = (role: string): Resources => a.roles().find((r) => r.role === role)?.allocated ?? EMPTY;
  t.true(scalar(roleAllocated('alpha'), 'cpus') > scalar(roleAllocated('beta'), 'cpus'));
  t.true(scalar(a.allocationOf('a1'), 'cpus') > scalar(a.allocationOf('b1'), 'cpus'));

  // The master recovers a framework's resources first, then removes it.
  a.recover('a1', 'alpha', 'ag1', set(4, 1024));
  a.removeFramework('a1');
  t.false(a.hasFramework('a1'));
  t.deepEqual(a.rolesOf('a1'), []);
  t.true(isEmpty(a.allocationOf('a1')));
  t.true(isEmpty(roleAllocated('alpha')));
  t.false(a.roles().some((r) => r.role === 'alpha'), 'a role with no framework, allocation or config is forgotten');
  t.deepEqual(a.agentFree('ag1'), set(4, 1024));

  // A new framework in the same role starts from zero, so it is ahead of beta.
  a.addFramework('a2', ['alpha']);
  t.deepEqual(summary(a.allocateRound(0, order('ag1'))), ['ag1->a2']);
  a.removeFramework('nope'); // unknown ids are ignored
});

test('resources recovered after their framework was removed still return to the agent', (t) => {
  const a = new Allocator();
  a.addAgent('ag1', set(4, 1024));
  a.addFramework('gone', ['r']);
  const [offer] = a.allocateRound(0);
  a.removeFramework('gone');
  a.recover('gone', 'r', 'ag1', offer.resources, { refuseSeconds: 60, now: 0 });
  t.deepEqual(a.agentFree('ag1'), set(4, 1024));
  a.addFramework('next', ['r']);
  t.deepEqual(summary(a.allocateRound(1)), ['ag1->next']);
});

// ---- randomized conservation -----------------------------------------------------------------

interface Holding { readonly fw: string; readonly agent: string; readonly res: Resources; readonly kind: 'offer' | 'task' }
interface ModelFilter { readonly res: Resources; readonly expiresAt: number }

test('randomized rounds: free plus held never exceeds an agent’s total and nothing is offered twice', (t) => {
  for (const seed of [7, 1234, 99991]) {
    const rand = prng(seed);
    const a = new Allocator({ fairnessExcluded: ['gpus'] });
    const totals = new Map<string, Resources>();
    const agentActive = new Map<string, boolean>();
    const removed = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const id = `ag${i}`;
      const base = 31000 + int(rand, 0, 3) * 10;
      const total = resources(
        { cpus: int(rand, 5, 80) / 10, mem: int(rand, 1, 32) * 128, disk: int(rand, 0, 3) * 1000, ...(i % 3 === 0 ? { gpus: int(rand, 1, 4) } : {}) },
        [[base, base + int(rand, 0, 20)], [base + 100, base + 100 + int(rand, 0, 5)]],
      );
      totals.set(id, total);
      agentActive.set(id, true);
      a.addAgent(id, unreservedSet(total));
    }
    const fws = [['f-a1', 'a'], ['f-a2', 'a'], ['f-a3', 'a'], ['f-b1', 'b'], ['f-c1', 'c']] as const;
    const roleOf = new Map<string, string>(fws);
    const fwState = new Map<string, { active: boolean; suppressed: boolean; filters: Map<string, ModelFilter> }>();
    for (const [id, role] of fws) {
      a.addFramework(id, [role]);
      fwState.set(id, { active: true, suppressed: false, filters: new Map() });
    }
    let held: Holding[] = [];
    let now = 0;
    let offersMade = 0;

    const heldOn = (agent: string): Holding[] => held.filter((h) => h.agent === agent);
    const modelFree = (agent: string): Resources => heldOn(agent).reduce((r, h) => subtract(r, h.res), totals.get(agent)!);
    const allocatable = (r: Resources): boolean => scalar(r, 'cpus') >= 0.01 || scalar(r, 'mem') >= 32;
    const filteredFor = (fw: string, agent: string, free: Resources): boolean => {
      const f = fwState.get(fw)!.filters.get(agent);
      return f !== undefined && f.expiresAt > now && contains(f.res, free);
    };
    const eligible = (fw: string, agent: string, free: Resources): boolean => {
      const s = fwState.get(fw)!;
      return s.active && !s.suppressed && !filteredFor(fw, agent, free);
    };
    const recover = (h: Holding, refuseSeconds?: number, res: Resources = h.res): void => {
      const role = roleOf.get(h.fw)!;
      if (refuseSeconds === undefined) a.recover(h.fw, role, h.agent, unreservedSet(res));
      else {
        a.recover(h.fw, role, h.agent, unreservedSet(res), { refuseSeconds, now });
        if (refuseSeconds > 0 && !isEmpty(res)) fwState.get(h.fw)!.filters.set(h.agent, { res, expiresAt: now + refuseSeconds * 1000 });
      }
    };
    const fail = (round: number, msg: string): void => { t.fail(`seed ${seed}, round ${round}: ${msg}`); };

    for (let round = 0; round < 400; round++) {
      // Occasional churn: framework (de)activation, suppress/revive, agent (de)activation, removal.
      if (rand() < 0.08) { const [id] = pick(rand, fws); const s = fwState.get(id)!; s.active = !s.active; a.setFrameworkActive(id, s.active); }
      if (rand() < 0.05) { const [id] = pick(rand, fws); fwState.get(id)!.suppressed = true; a.suppress(id); }
      if (rand() < 0.08) {
        const [id] = pick(rand, fws);
        const s = fwState.get(id)!;
        s.suppressed = false;
        s.filters.clear();
        a.revive(id);
      }
      if (rand() < 0.05) { const id = pick(rand, [...totals.keys()]); const v = !agentActive.get(id); agentActive.set(id, v); a.setAgentActive(id, v); }
      if (rand() < 0.03) {
        const id = pick(rand, [...totals.keys()]);
        if (removed.has(id)) {
          removed.delete(id);
          a.addAgent(id, unreservedSet(totals.get(id)!));
          agentActive.set(id, true);
        } else {
          // As the master does: rescind offers and lose tasks (recovering them), then remove.
          for (const h of heldOn(id)) recover(h);
          held = held.filter((h) => h.agent !== id);
          a.removeAgent(id);
          removed.add(id);
          for (const s of fwState.values()) s.filters.delete(id);
        }
      }

      const live = [...totals.keys()].filter((id) => !removed.has(id));
      const freeBefore = new Map(live.map((id) => [id, modelFree(id)]));
      const proposals = a.allocateRound(now, { agentOrder: shuffle(rand, [...totals.keys()]) });
      const offeredThisRound = new Set<string>();
      for (const p of proposals) {
        if (removed.has(p.agentId)) return fail(round, `offered removed agent ${p.agentId}`);
        if (offeredThisRound.has(p.agentId)) return fail(round, `agent ${p.agentId} offered twice in one round`);
        offeredThisRound.add(p.agentId);
        if (!agentActive.get(p.agentId)) return fail(round, `offered inactive agent ${p.agentId}`);
        if (!p.resources.every((b) => b.key === UNRESERVED_KEY)) return fail(round, `offer of ${p.agentId} is not all unreserved: ${formatSet(p.resources)}`);
        const offered = flatten(p.resources);
        const before = freeBefore.get(p.agentId)!;
        if (!equals(offered, before) || portCount(offered) !== portCount(before)) {
          return fail(round, `offer of ${p.agentId} is ${format(offered)}, its free resources were ${format(before)}`);
        }
        if (!eligible(p.frameworkId, p.agentId, before)) return fail(round, `${p.agentId} offered to ineligible ${p.frameworkId}`);
        if (p.role !== roleOf.get(p.frameworkId)) return fail(round, `wrong role ${p.role} for ${p.frameworkId}`);
        if (a.rolesOf(p.frameworkId).join() !== p.role) return fail(round, `allocator has roles ${a.rolesOf(p.frameworkId).join()} for ${p.frameworkId}`);
        held.push({ fw: p.frameworkId, agent: p.agentId, res: offered, kind: 'offer' });
        offersMade++;
      }
      // Any agent left with something allocatable had no framework that could take it.
      for (const id of live) {
        if (offeredThisRound.has(id) || !agentActive.get(id)) continue;
        const free = freeBefore.get(id)!;
        if (!allocatable(free)) continue;
        const could = fws.map(([fw]) => fw).filter((fw) => eligible(fw, id, free));
        if (could.length) return fail(round, `${id} (${format(free)}) was not offered although ${could.join(',')} could take it`);
      }

      // Invariants on every agent: the allocator's free matches, and free + held fits in the total
      // with no port held twice.
      for (const id of live) {
        const total = totals.get(id)!;
        const free = flatten(a.agentFree(id));
        const pieces = [free, ...heldOn(id).map((h) => h.res)];
        const sum = pieces.reduce((acc, r) => add(acc, r), EMPTY);
        const portsSum = pieces.reduce((n, r) => n + portCount(r), 0);
        if (!contains(total, sum)) return fail(round, `${id}: free + held ${format(sum)} exceeds total ${format(total)}`);
        if (portsSum !== portCount(sum)) return fail(round, `${id}: a port is both free and held, or held twice`);
        if (!equals(sum, total)) return fail(round, `${id}: resources leaked, free + held ${format(sum)} != total ${format(total)}`);
        if (!equals(free, modelFree(id))) return fail(round, `${id}: free ${format(free)} != expected ${format(modelFree(id))}`);
      }
      // The sorter's per-framework allocation equals what the framework holds.
      for (const [fw] of fws) {
        const want = held.filter((h) => h.fw === fw).reduce((acc, h) => add(acc, h.res), EMPTY);
        const got = a.allocationOf(fw);
        const keys = new Set([...Object.keys(want.scalars), ...Object.keys(got.scalars)]);
        for (const k of keys) {
          if (Math.abs(scalar(got, k) - scalar(want, k)) > 1e-9) return fail(round, `${fw} allocation ${format(got)} != held ${format(want)}`);
        }
      }

      // Frameworks respond: accept part (launch a task, decline the rest), decline, or sit on it.
      const next: Holding[] = [];
      for (const h of held) {
        const x = rand();
        if (h.kind === 'task') {
          if (x < 0.15) recover(h);
          else next.push(h);
          continue;
        }
        if (x < 0.3) {
          recover(h, pick(rand, [0, 1, 5, 30]));
        } else if (x < 0.7) {
          const cpus = Math.round(scalar(h.res, 'cpus') * rand() * 10) / 10;
          const mem = Math.floor(scalar(h.res, 'mem') * rand());
          const taskPorts: [number, number][] = [];
          if (h.res.ports.length && rand() < 0.6) {
            const [b, e] = pick(rand, h.res.ports);
            const s = int(rand, b, e);
            taskPorts.push([s, Math.min(e, s + int(rand, 0, 2))]);
          }
          const task = resources({ cpus, mem, ...(rand() < 0.3 && scalar(h.res, 'gpus') >= 1 ? { gpus: 1 } : {}) }, taskPorts);
          if (!contains(h.res, task)) return fail(round, `test bug: task ${format(task)} not in offer ${format(h.res)}`);
          if (isEmpty(task)) { recover(h, pick(rand, [0, 5])); continue; }
          const rest = subtract(h.res, task);
          recover(h, pick(rand, [undefined, 0, 5]), rest);
          next.push({ fw: h.fw, agent: h.agent, res: task, kind: 'task' });
        } else {
          next.push(h); // keep the offer outstanding for now
        }
      }
      held = next;
      now += int(rand, 0, 4000);
    }
    t.true(offersMade > 200, `seed ${seed}: only ${offersMade} offers were made`);
  }
});
