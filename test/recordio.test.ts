// RecordIO framing of Mesos streaming responses: "<byte length>\n<JSON>" per record.
import test from 'ava';
import { prng } from '../src/common/seeded-random.ts';
import { encodeRecord, RecordIODecoder } from '../src/mesos/recordio.ts';


const EVENTS: unknown[] = [
  { type: 'SUBSCRIBED', subscribed: { framework_id: { value: 'fw-1' }, heartbeat_interval_seconds: 15 } },
  { type: 'HEARTBEAT' },
  { type: 'MESSAGE', message: { data: 'héllo wörld — ✓ 日本語 🚀🚀' } },
  { type: 'UPDATE', status: { task_id: { value: 'tâche-1' }, state: 'TASK_RUNNING', message: '' } },
  [1, 2, 3],
  'just a string with an emoji 😀',
  { nested: { deeper: { deepest: ['ä', 'ö', 'ü', '€', '𝄞'] } }, n: 12.5, ok: true, nothing: null },
];

test('the length header counts UTF-8 bytes, not characters', (t) => {
  const event = { data: 'é✓🚀' };
  const json = JSON.stringify(event);
  const frame = encodeRecord(event);
  const nl = frame.indexOf(0x0a);
  const header = frame.subarray(0, nl).toString('ascii');
  t.is(Number(header), Buffer.byteLength(json, 'utf8'));
  t.not(Number(header), json.length, 'multi-byte characters make bytes and characters differ');
  t.is(frame.length, nl + 1 + Buffer.byteLength(json, 'utf8'));
  t.is(frame.subarray(nl + 1).toString('utf8'), json);
});

test('encode then decode round-trips every record, multi-byte text included', (t) => {
  for (const e of EVENTS) {
    const out = new RecordIODecoder().push(encodeRecord(e));
    t.deepEqual(out, [e]);
  }
});

test('several records in one chunk all come out, in order', (t) => {
  const d = new RecordIODecoder();
  t.deepEqual(d.push(Buffer.concat(EVENTS.map(encodeRecord))), EVENTS);
  t.deepEqual(d.push(Buffer.alloc(0)), []);
});

test('a partial record yields nothing until the rest arrives', (t) => {
  const frame = encodeRecord({ type: 'HEARTBEAT' });
  const d = new RecordIODecoder();
  t.deepEqual(d.push(frame.subarray(0, 1)), []); // half a length header
  t.deepEqual(d.push(frame.subarray(1, frame.length - 1)), []); // all but the last byte
  t.deepEqual(d.push(frame.subarray(frame.length - 1)), [{ type: 'HEARTBEAT' }]);
});

test('a record followed by the start of the next yields the first and keeps the rest', (t) => {
  const a = encodeRecord({ n: 1 });
  const b = encodeRecord({ n: 2, s: '🚀' });
  const d = new RecordIODecoder();
  t.deepEqual(d.push(Buffer.concat([a, b.subarray(0, b.length - 3)])), [{ n: 1 }]);
  t.deepEqual(d.push(b.subarray(b.length - 3)), [{ n: 2, s: '🚀' }]);
});

test('records split at random chunk boundaries (inside headers and multi-byte characters) decode unchanged', (t) => {
  const stream = Buffer.concat(EVENTS.map(encodeRecord));
  for (let seed = 1; seed <= 200; seed++) {
    const rand = prng(seed);
    const d = new RecordIODecoder();
    const out: unknown[] = [];
    let at = 0;
    while (at < stream.length) {
      const size = 1 + Math.floor(rand() * (rand() < 0.5 ? 4 : 60));
      // Copy, as a socket would hand over fresh buffers.
      out.push(...d.push(Buffer.from(stream.subarray(at, at + size))));
      at += size;
    }
    if (JSON.stringify(out) !== JSON.stringify(EVENTS)) {
      t.fail(`seed ${seed}: decoded ${JSON.stringify(out)}`);
      return;
    }
  }
  t.pass();
});

test('feeding one byte at a time decodes every record', (t) => {
  const stream = Buffer.concat(EVENTS.map(encodeRecord));
  const d = new RecordIODecoder();
  const out: unknown[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
  t.deepEqual(out, EVENTS);
});

test('a length header that is not a non-negative integer throws', (t) => {
  t.throws(() => new RecordIODecoder().push(Buffer.from('abc\n{}')), { message: /bad record length 'abc'/ });
  t.throws(() => new RecordIODecoder().push(Buffer.from('-2\n{}')), { message: /bad record length '-2'/ });
  t.throws(() => new RecordIODecoder().push(Buffer.from('1.5\n{}')), { message: /bad record length '1.5'/ });
  // A bad header later in a stream throws too, after the good records before it came out.
  const d = new RecordIODecoder();
  t.deepEqual(d.push(encodeRecord({ ok: 1 })), [{ ok: 1 }]);
  t.throws(() => d.push(Buffer.from('12x\n')), { message: /bad record length/ });
});
