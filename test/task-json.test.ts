// The task record JSON built from cached pieces is the same value JSON.stringify gives — also after
// the record changed (new statuses, acknowledgements), which is when it is written again.
import test from 'ava';
import { encodeTaskRecord, frozenJson } from '../src/master/task-json.ts';
import type { TaskRecord } from '../src/master/records.ts';
import type { TaskStatus } from '../src/mesos/task-status.ts';

const status = (state: TaskStatus['state'], uuid: string): TaskStatus => ({
  task_id: { value: 't-"1"' }, state, source: 'SOURCE_EXECUTOR', agent_id: { value: 'a' }, timestamp: 1.5, uuid, message: 'ünïcode ✓',
});

test('encodeTaskRecord equals JSON.stringify as a value, through the record\'s changes', (t) => {
  const r: TaskRecord = {
    frameworkId: 'fw', agentId: 'a', role: '*', state: 'TASK_STAGING', statuses: [], pending: [],
    info: { name: 'n', task_id: { value: 't-"1"' }, agent_id: { value: 'a' }, resources: [], command: { value: 'echo "hi"' } },
    resources: [],
  };
  const same = () => t.deepEqual(JSON.parse(encodeTaskRecord(r)), JSON.parse(JSON.stringify(r)));
  same();
  const running = status('TASK_RUNNING', 'u1');
  r.state = 'TASK_RUNNING'; r.statuses.push(running); r.pending.push(running);
  same();
  r.pending.shift(); r.killRequested = true;
  same();
  t.is(frozenJson(running), JSON.stringify(running));
  t.is(frozenJson(running), frozenJson(running), 'serialised once');
});
