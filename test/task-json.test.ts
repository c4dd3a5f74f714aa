// The task record JSON built from cached pieces reads back as the same record — also after the
// record changed (new statuses, acknowledgements), which is when it is written again — and
// unacknowledged updates are not written twice.
import test from 'ava';
import { decodeTaskRecord, encodeTaskRecord, frozenJson } from '../src/master/task-json.ts';
import type { TaskRecord } from '../src/master/records.ts';
import type { TaskStatus } from '../src/mesos/task-status.ts';

const status = (state: TaskStatus['state'], uuid: string): TaskStatus => ({
  task_id: { value: 't-"1"' }, state, source: 'SOURCE_EXECUTOR', agent_id: { value: 'a' }, timestamp: 1.5, uuid, message: 'ünïcode ✓',
});

test('encodeTaskRecord reads back as the record, through the record\'s changes', (t) => {
  const r: TaskRecord = {
    frameworkId: 'fw', agentId: 'a', role: '*', state: 'TASK_STAGING', statuses: [], pending: [],
    info: { name: 'n', task_id: { value: 't-"1"' }, agent_id: { value: 'a' }, resources: [], command: { value: 'echo "hi"' } },
    resources: [],
  };
  const same = () => t.deepEqual(decodeTaskRecord(JSON.parse(encodeTaskRecord(r))), JSON.parse(JSON.stringify(r)));
  same();
  const running = status('TASK_RUNNING', 'u1');
  r.state = 'TASK_RUNNING'; r.statuses.push(running); r.pending.push(running);
  same();
  const finished = status('TASK_FINISHED', 'u2');
  r.state = 'TASK_FINISHED'; r.statuses.push(finished); r.pending.push(finished);
  same();
  t.deepEqual(JSON.parse(encodeTaskRecord(r)).pending, [0, 1], 'unacknowledged updates as indexes into statuses');
  const decoded = decodeTaskRecord(JSON.parse(encodeTaskRecord(r)));
  t.is(decoded.pending[1], decoded.statuses[1], 'the same object, so the next write finds it again');
  r.pending.shift(); r.killRequested = true;
  same();
  r.statuses.splice(0, 2); // a capped history that dropped an update still unacknowledged
  same();
  t.deepEqual(decodeTaskRecord(JSON.parse(JSON.stringify(r))), JSON.parse(JSON.stringify(r)), 'a record written whole (older versions) reads the same');
  t.is(frozenJson(running), JSON.stringify(running));
  t.is(frozenJson(running), frozenJson(running), 'serialised once');
});

test('a stored record whose unacknowledged update points past its statuses is refused with its task named', (t) => {
  const bad = { frameworkId: 'fw', agentId: 'a', role: '*', state: 'TASK_RUNNING', statuses: [], pending: [3], info: { name: 'n', task_id: { value: 't9' }, agent_id: { value: 'a' }, resources: [] }, resources: [] };
  t.throws(() => decodeTaskRecord(bad), { message: /task record fw\/t9: an unacknowledged update points past its 0 statuses/ });
});

test('a record field encodeTaskRecord does not spell out is still written, not lost', (t) => {
  const r = {
    frameworkId: 'fw', agentId: 'a', role: 'web', state: 'TASK_RUNNING', statuses: [], pending: [], resources: [],
    info: { name: 'n', task_id: { value: 't' }, agent_id: { value: 'a' }, resources: [] }, addedLater: { x: 1 },
  } as unknown as TaskRecord;
  t.deepEqual(JSON.parse(encodeTaskRecord(r)), JSON.parse(JSON.stringify(r)));
});
