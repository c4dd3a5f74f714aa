// Resource arithmetic, Mesos JSON conversion and the agent --resources flag syntax. Pure: no I/O.
import test from 'ava';
import {
  add, contains, EMPTY, equals, format, isEmpty, normalizeRanges, portCount, resources, scalar, subtract,
  type Resources,
} from '../src/resources/resources.ts';
import {
  fromMesos, MesosResourceSchema, parseResourceFlag, toMesos, type MesosResource,
} from '../src/resources/mesos-resources.ts';

const ports = (...ranges: [number, number][]): Resources => resources({}, ranges);

function parsedOk(flag: string): Resources {
  const p = parseResourceFlag(flag);
  if (!p.ok) throw new Error(`expected '${flag}' to parse, got: ${p.error}`);
  return p.value;
}

function flagError(flag: string): string {
  const p = parseResourceFlag(flag);
  if (p.ok) throw new Error(`expected '${flag}' to be rejected, got ${format(p.value)}`);
  return p.error;
}

function mesosError(list: MesosResource[]): string {
  const p = fromMesos(list);
  if (p.ok) throw new Error(`expected rejection, got ${format(p.value)}`);
  return p.error;
}

// ---- port ranges -----------------------------------------------------------------------------

test('adding port ranges merges overlapping and adjacent ranges and keeps them sorted', (t) => {
  t.deepEqual(add(ports([31000, 31005]), ports([31006, 31010])).ports, [[31000, 31010]]);
  t.deepEqual(add(ports([31000, 31005]), ports([31003, 31008])).ports, [[31000, 31008]]);
  t.deepEqual(add(ports([32000, 32001]), ports([31000, 31001])).ports, [[31000, 31001], [32000, 32001]]);
  // A range that bridges two others fuses all three.
  t.deepEqual(add(ports([1, 3], [7, 9]), ports([4, 6])).ports, [[1, 9]]);
  t.deepEqual(normalizeRanges([[10, 12], [1, 2], [3, 4], [11, 20]]), [[1, 4], [10, 20]]);
});

test('subtracting ports from the middle of a range splits it in two', (t) => {
  const left = subtract(ports([31000, 31010]), ports([31003, 31005]));
  t.deepEqual(left.ports, [[31000, 31002], [31006, 31010]]);
  t.is(portCount(left), 8);
  // The hole is really gone: none of its ports is contained any more, the neighbours are.
  t.false(contains(left, ports([31004, 31004])));
  t.false(contains(left, ports([31002, 31003])));
  t.true(contains(left, ports([31006, 31010])));
});

test('subtracting ports at the edges, across several ranges, or ports that are not there', (t) => {
  t.deepEqual(subtract(ports([100, 110]), ports([100, 102])).ports, [[103, 110]]);
  t.deepEqual(subtract(ports([100, 110]), ports([108, 110])).ports, [[100, 107]]);
  t.deepEqual(subtract(ports([100, 110]), ports([100, 110])).ports, []);
  t.deepEqual(subtract(ports([100, 110], [200, 210]), ports([105, 205])).ports, [[100, 104], [206, 210]]);
  t.deepEqual(subtract(ports([100, 110]), ports([500, 600])).ports, [[100, 110]]);
  // Taking several holes out of one range.
  t.deepEqual(subtract(ports([1, 10]), ports([2, 2], [5, 6], [10, 10])).ports, [[1, 1], [3, 4], [7, 9]]);
});

test('a port range spanning a gap is not contained, even if both sides are', (t) => {
  const r = ports([31000, 31004], [31006, 31010]);
  t.false(contains(r, ports([31003, 31007])));
  t.true(contains(r, ports([31000, 31004], [31006, 31010])));
  t.true(contains(r, ports([31001, 31001], [31010, 31010])));
  t.false(contains(r, ports([31005, 31005])));
  // Splitting a range and adding the piece back restores the original exactly.
  const whole = ports([31000, 31010]);
  const piece = ports([31004, 31006]);
  t.true(equals(add(subtract(whole, piece), piece), whole));
  t.deepEqual(add(subtract(whole, piece), piece).ports, [[31000, 31010]]);
});

// ---- scalars ---------------------------------------------------------------------------------

test('scalars add and subtract by name; subtracting more than there is clamps at zero and drops the name', (t) => {
  const a = resources({ cpus: 2, mem: 1024 });
  const b = resources({ cpus: 0.5, disk: 100 });
  t.deepEqual(add(a, b).scalars, { cpus: 2.5, mem: 1024, disk: 100 });
  t.deepEqual(subtract(a, resources({ cpus: 0.5 })).scalars, { cpus: 1.5, mem: 1024 });
  const over = subtract(a, resources({ cpus: 5, mem: 1024 }));
  t.deepEqual(over.scalars, {});
  t.true(isEmpty(over));
  t.is(scalar(over, 'cpus'), 0);
});

test('zero-valued scalars are dropped, so a list of zeros is empty', (t) => {
  t.true(isEmpty(resources({ cpus: 0, mem: 0 })));
  t.true(isEmpty(EMPTY));
  t.false(isEmpty(ports([1, 1])));
  t.deepEqual(resources({ cpus: 0, mem: 5 }).scalars, { mem: 5 });
});

test('contains compares every scalar of the smaller side and treats a missing name as zero', (t) => {
  const agent = resources({ cpus: 4, mem: 2048 }, [[31000, 31010]]);
  t.true(contains(agent, resources({ cpus: 4, mem: 2048 })));
  t.true(contains(agent, resources({ cpus: 1 }, [[31000, 31000]])));
  t.false(contains(agent, resources({ cpus: 4.001 })));
  t.false(contains(agent, resources({ gpus: 1 })));
  t.false(contains(agent, resources({ cpus: 1 }, [[31011, 31011]])));
  t.true(contains(agent, EMPTY));
  t.false(contains(EMPTY, agent));
});

test('0.1 + 0.2 is exactly 0.3 and rounding is to three decimals like Mesos', (t) => {
  const sum = add(resources({ cpus: 0.1 }), resources({ cpus: 0.2 }));
  t.is(scalar(sum, 'cpus'), 0.3);
  t.true(equals(sum, resources({ cpus: 0.3 })));
  t.is(scalar(resources({ cpus: 1.23456 }), 'cpus'), 1.235);
  t.true(isEmpty(resources({ cpus: 0.0004 })));
  // 0.3 requested from 0.1 + 0.2 fits exactly.
  t.true(contains(sum, resources({ cpus: 0.3 })));
});

test('1000 add/subtract cycles of fractional amounts do not drift', (t) => {
  const start = resources({ cpus: 3.3, mem: 1000.7 });
  let r = start;
  const steps = [resources({ cpus: 0.1, mem: 0.3 }), resources({ cpus: 0.2, mem: 0.1 }), resources({ cpus: 0.7, mem: 33.3 })];
  for (let i = 0; i < 1000; i++) {
    for (const s of steps) r = add(r, s);
    for (const s of steps) r = subtract(r, s);
  }
  t.deepEqual(r.scalars, { cpus: 3.3, mem: 1000.7 });
  t.true(equals(r, start));

  // Accumulating 0.1 a thousand times gives exactly 100, and taking it away again gives nothing.
  let acc: Resources = EMPTY;
  for (let i = 0; i < 1000; i++) acc = add(acc, resources({ cpus: 0.1 }));
  t.is(scalar(acc, 'cpus'), 100);
  for (let i = 0; i < 1000; i++) acc = subtract(acc, resources({ cpus: 0.1 }));
  t.true(isEmpty(acc));
});

test('format renders the Mesos flag syntax and an empty set as (none)', (t) => {
  t.is(format(resources({ cpus: 2, mem: 1024 }, [[31000, 31010], [32000, 32000]])), 'cpus:2;mem:1024;ports:[31000-31010,32000]');
  t.is(format(EMPTY), '(none)');
});

// ---- Mesos JSON ------------------------------------------------------------------------------

test('fromMesos sums scalars of the same name, merges ports and infers a missing type', (t) => {
  const p = fromMesos([
    { name: 'cpus', type: 'SCALAR', scalar: { value: 1.5 } },
    { name: 'cpus', scalar: { value: 0.5 } },
    { name: 'mem', type: 'SCALAR', scalar: { value: 512 } },
    { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31004 }, { begin: 31005, end: 31009 }] } },
    { name: 'ports', ranges: { range: [{ begin: 32000, end: 32000 }] } },
  ]);
  if (!p.ok) return t.fail(p.error);
  t.deepEqual(p.value.scalars, { cpus: 2, mem: 512 });
  t.deepEqual(p.value.ports, [[31000, 31009], [32000, 32000]]);
});

test('fromMesos rejects a negative scalar and names the resource', (t) => {
  const err = mesosError([{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }, { name: 'mem', type: 'SCALAR', scalar: { value: -64 } }]);
  t.regex(err, /mem/);
  t.regex(err, /negative/);
});

test('fromMesos rejects non-finite scalars (Infinity, NaN)', (t) => {
  t.regex(mesosError([{ name: 'cpus', type: 'SCALAR', scalar: { value: Infinity } }]), /'cpus'.*non-finite/);
  t.regex(mesosError([{ name: 'mem', type: 'SCALAR', scalar: { value: Number.NaN } }]), /'mem'.*non-finite/);
  t.regex(mesosError([{ name: 'disk', type: 'SCALAR', scalar: { value: -Infinity } }]), /'disk'/);
});

test('fromMesos rejects a SCALAR without a value', (t) => {
  t.regex(mesosError([{ name: 'cpus', type: 'SCALAR' }]), /'cpus' is SCALAR but has no scalar.value/);
});

test('fromMesos rejects inverted and out-of-range port ranges, naming the range', (t) => {
  t.regex(mesosError([{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31010, end: 31000 }] } }]), /31010-31000/);
  t.regex(mesosError([{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 65000, end: 70000 }] } }]), /65000-70000/);
  t.regex(mesosError([{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: -1, end: 10 }] } }]), /invalid range/);
});

test('fromMesos rejects SET resources and RANGES other than ports', (t) => {
  t.regex(mesosError([{ name: 'disks', type: 'SET', set: { item: ['sda'] } }]), /'disks' of type SET is not supported/);
  // No type and no value at all falls to SET as well.
  t.regex(mesosError([{ name: 'mystery' }]), /SET is not supported/);
  t.regex(mesosError([{ name: 'cores', type: 'RANGES', ranges: { range: [{ begin: 0, end: 3 }] } }]), /'cores' is not supported \(only 'ports'\)/);
});

test('toMesos tags every resource with allocation_info and fromMesos reads it back unchanged', (t) => {
  const r = resources({ cpus: 2.5, mem: 1024, gpus: 1 }, [[31000, 31010], [31020, 31020]]);
  const json = toMesos(r, 'analytics');
  t.is(json.length, 4);
  for (const entry of json) t.deepEqual(entry.allocation_info, { role: 'analytics' });
  t.deepEqual(json.find((e) => e.name === 'ports'), {
    name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31010 }, { begin: 31020, end: 31020 }] }, allocation_info: { role: 'analytics' },
  });
  t.deepEqual(json.find((e) => e.name === 'cpus'), { name: 'cpus', type: 'SCALAR', scalar: { value: 2.5 }, allocation_info: { role: 'analytics' } });
  // The JSON is valid input for the schema a scheduler's ACCEPT is parsed with, and round-trips.
  const back = fromMesos(MesosResourceSchema.array().parse(json));
  if (!back.ok) return t.fail(back.error);
  t.true(equals(back.value, r));
  t.deepEqual(back.value, r);
});

test('toMesos without a role leaves allocation_info out; empty resources give an empty list', (t) => {
  const json = toMesos(resources({ cpus: 1 }));
  t.deepEqual(json, [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }]);
  t.false('allocation_info' in json[0]);
  t.deepEqual(toMesos(EMPTY, 'r'), []);
});

// ---- agent --resources flag ------------------------------------------------------------------

test('the agent flag parses scalars and a ports range list', (t) => {
  const r = parsedOk('cpus:4;mem:2048;disk:10000;ports:[31000-32000]');
  t.deepEqual(r.scalars, { cpus: 4, mem: 2048, disk: 10000 });
  t.deepEqual(r.ports, [[31000, 32000]]);
});

test('the agent flag accepts port lists with single ports, spaces and overlapping pieces', (t) => {
  const r = parsedOk(' cpus:0.5 ; ports:[31000-31004, 31005, 32000-32010,32005-32020] ;gpus:2');
  t.deepEqual(r.scalars, { cpus: 0.5, gpus: 2 });
  t.deepEqual(r.ports, [[31000, 31005], [32000, 32020]]);
  t.is(portCount(r), 6 + 21);
});

test('the agent flag accepts the default role (*) as unreserved', (t) => {
  t.deepEqual(parsedOk('cpus(*):4;mem(*):512'), parsedOk('cpus:4;mem:512'));
});

test('the agent flag rejects static reservations to a named role for now, naming the role', (t) => {
  const err = flagError('cpus:2;mem(web):512');
  t.regex(err, /mem\(web\):512/);
  t.regex(err, /role 'web'/);
  t.regex(err, /not supported/);
});

test('agent flag errors name the part that is wrong', (t) => {
  t.regex(flagError('cpus:4;mem'), /cannot parse 'mem'/);
  t.regex(flagError('cpus:4;mem:lots'), /'mem': 'lots' is not a non-negative number/);
  t.regex(flagError('cpus:-1'), /'cpus': '-1'/);
  t.regex(flagError('cpus:Infinity'), /'cpus'/);
  t.regex(flagError('disk:[1-2]'), /'disk': only ports may be a range/);
  t.regex(flagError('ports:[31000-31010,abc]'), /cannot parse range 'abc'/);
  t.regex(flagError('ports:[32000-31000]'), /invalid range '32000-31000'/);
  t.regex(flagError('ports:[65000-65536]'), /invalid range '65000-65536'/);
  t.regex(flagError('ports:[31000-31010]]'), /ports/);
  t.regex(flagError(':4'), /cannot parse ':4'/);
});

test('an empty agent flag gives no resources', (t) => {
  t.true(isEmpty(parsedOk('')));
  t.true(isEmpty(parsedOk(' ; ')));
});

// Mesos' values::parse rejects "Mismatched brackets"; a typo like a missing ']' must not be
// silently accepted as if it were well formed.
test('the agent flag rejects a ports list with a missing closing bracket', (t) => {
  const p = parseResourceFlag('cpus:4;ports:[31000-32000');
  t.false(p.ok, 'ports:[31000-32000 (no closing bracket) was accepted');
  if (!p.ok) t.regex(p.error, /ports/);
});
