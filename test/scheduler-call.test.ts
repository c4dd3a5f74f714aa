// The ACKNOWLEDGE fast path must parse exactly what CallSchema parses, and leave everything else
// (and every error message) to CallSchema.
import test from 'ava';
import { CallSchema, parsePlainAcknowledge } from '../src/mesos/scheduler-call.ts';
import { parseCall } from '../src/http/scheduler-route.ts';
import { parseProtoJson } from '../src/mesos/proto-json.ts';

const ack = { agent_id: { value: 'a1' }, task_id: { value: 't1' }, uuid: 'dXVpZA==' };

test('a plain ACKNOWLEDGE parses to what CallSchema gives', (t) => {
  for (const body of [
    { type: 'ACKNOWLEDGE', framework_id: { value: 'f1' }, acknowledge: ack },
    { type: 'ACKNOWLEDGE', acknowledge: ack },
    { acknowledge: { uuid: '', task_id: { value: 'x' }, agent_id: { value: 'y' } }, type: 'ACKNOWLEDGE', framework_id: { value: 'f' } },
  ]) {
    const fast = parsePlainAcknowledge(JSON.parse(JSON.stringify(body)));
    t.truthy(fast);
    t.deepEqual(fast, CallSchema.parse(body));
  }
});

test('anything but the plain shape goes to CallSchema, which answers it', (t) => {
  const cases: unknown[] = [
    null, [], 'ACKNOWLEDGE', { type: 'ACCEPT' },
    { type: 'ACKNOWLEDGE' },
    { type: 'ACKNOWLEDGE', acknowledge: [] },
    { type: 'ACKNOWLEDGE', acknowledge: { ...ack, uuid: 7 } },
    { type: 'ACKNOWLEDGE', acknowledge: { ...ack, task_id: { value: '' } } },
    { type: 'ACKNOWLEDGE', acknowledge: { ...ack, task_id: { value: 't', extra: 1 } } },
    { type: 'ACKNOWLEDGE', acknowledge: { ...ack, extra: true } },
    { type: 'ACKNOWLEDGE', acknowledge: ack, framework_id: { value: '' } },
    { type: 'ACKNOWLEDGE', acknowledge: ack, framework_id: 'f1' },
    { type: 'ACKNOWLEDGE', acknowledge: ack, kill: { task_id: { value: 't' } } },
    JSON.parse('{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"u"},"__proto__":{"x":1}}'),
  ];
  for (const body of cases) t.is(parsePlainAcknowledge(body), undefined, JSON.stringify(body));
  // The errors are CallSchema's, field and reason named.
  t.throws(() => parseCall({ type: 'ACKNOWLEDGE', acknowledge: { ...ack, uuid: 7 } }), { message: /acknowledge\.uuid/ });
  t.throws(() => parseCall({ type: 'ACKNOWLEDGE' }), { message: /Expecting 'acknowledge' to be present/ });
  // Extra fields are kept, as a protobuf parser keeps unknown ones.
  t.like(parseCall({ type: 'ACKNOWLEDGE', acknowledge: { ...ack, extra: true } }).acknowledge, { extra: true });
});

test('protobuf JSON: nulls are left out — fields deleted, list elements dropped — and text that only mentions null is untouched', (t) => {
  t.deepEqual(parseProtoJson('{"type":"SUBSCRIBE","framework_id":null,"subscribe":{"framework_info":{"user":"u","name":"n","id":null,"roles":["a",null,"b"],"labels":null}}}'),
    { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'n', roles: ['a', 'b'] } } });
  const call = parseCall(parseProtoJson('{"type":"SUBSCRIBE","framework_id":null,"subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":null}}}'));
  t.deepEqual(call.subscribe?.framework_info, { user: 'u', name: 'n' });
  t.deepEqual(parseProtoJson('{"command":{"value":"run > /dev/null ; echo null"}}'), { command: { value: 'run > /dev/null ; echo null' } });
  // A "__proto__" field stays an own property; nothing reaches Object.prototype.
  const o = parseProtoJson('{"__proto__":{"polluted":true},"x":null}') as object;
  t.deepEqual(Object.keys(o), ['__proto__']);
  t.is(Object.getPrototypeOf(o), Object.prototype);
  t.is((({}) as { polluted?: boolean }).polluted, undefined);
});
