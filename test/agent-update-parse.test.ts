// The agent UPDATE fast path must parse exactly what AgentCallSchema parses, and leave everything
// else (and every error message) to the schema.
import test from 'ava';
import { AgentCallSchema, parsePlainUpdate } from '../src/master/agent-calls.ts';

const status = { task_id: { value: 't1' }, state: 'TASK_RUNNING', uuid: 'dXVpZA==', source: 'SOURCE_EXECUTOR' };
const update = { framework_id: { value: 'f1' }, status };
const call = (updates: unknown[], extra: Record<string, unknown> = {}) => ({ type: 'UPDATE', agent_id: { value: 'a1' }, updates, ...extra });

test('a batch of plain status updates parses to what AgentCallSchema gives', (t) => {
  for (const body of [
    call([update]),
    { type: 'UPDATE', updates: [update] },
    call([update, { framework_id: { value: 'f2' }, status: { ...status, state: 'TASK_FINISHED', message: 'Command exited with status 0', timestamp: 1.5, reason: 'REASON_COMMAND_EXECUTOR_FAILED', healthy: true } }]),
    call(Array.from({ length: 500 }, (_, i) => ({ framework_id: { value: 'f' }, status: { ...status, task_id: { value: `t${i}` } } }))),
  ]) {
    const wire = JSON.parse(JSON.stringify(body)) as unknown;
    const fast = parsePlainUpdate(wire);
    t.truthy(fast);
    t.deepEqual(fast, AgentCallSchema.parse(wire));
  }
});

test('anything but the plain shape goes to AgentCallSchema, which answers it', (t) => {
  const cases: unknown[] = [
    null, [], 'UPDATE', { type: 'PING' },
    { type: 'UPDATE' },
    call([]),
    call(Array.from({ length: 501 }, () => update)),
    call([update], { update }),
    call([update], { agent_id: { value: '' } }),
    call([{ ...update, extra: 1 }]),
    call([{ ...update, framework_id: 'f1' }]),
    call([{ ...update, status: { ...status, state: 'TASK_BOGUS' } }]),
    call([{ ...update, status: { ...status, uuid: '' } }]),
    call([{ ...update, status: { ...status, source: 'SOURCE_ELSEWHERE' } }]),
    call([{ ...update, status: { ...status, timestamp: '1' } }]),
    call([{ ...update, status: { ...status, healthy: 'yes' } }]),
    call([{ ...update, status: { ...status, task_id: { value: 't', extra: 1 } } }]),
    call([{ ...update, status: { ...status, labels: { labels: [] } } }]),
    JSON.parse('{"type":"UPDATE","updates":[{"framework_id":{"value":"f"},"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"u","__proto__":{"x":1}}}]}'),
  ];
  for (const body of cases) t.is(parsePlainUpdate(body), undefined, JSON.stringify(body));
  // Extra fields are the schema's to keep, as a protobuf parser keeps unknown ones.
  const labelled = AgentCallSchema.parse(call([{ ...update, status: { ...status, labels: { labels: [] } } }]));
  t.like(labelled.updates?.[0].status, { labels: { labels: [] } });
  t.false(AgentCallSchema.safeParse(call([{ ...update, status: { ...status, state: 'TASK_BOGUS' } }])).success);
});
