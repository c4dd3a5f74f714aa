// TaskInfo validation inside ACCEPT: each way a task is refused (TASK_ERROR) and what is accepted.
import test from 'ava';
import { validateIdValue, validateTask, type TaskCheck, type TaskContext } from '../src/master/task-validation.ts';
import type { TaskInfo } from '../src/mesos/scheduler-call.ts';
import { TaskInfoSchema } from '../src/mesos/scheduler-call.ts';
import { equals, resources } from '../src/resources/resources.ts';
import { flatten, unreservedSet, UNRESERVED_KEY } from '../src/resources/resource-set.ts';

const AVAILABLE = unreservedSet(resources({ cpus: 4, mem: 2048, disk: 1000 }, [[31000, 31009]]));

function ctx(overrides: Partial<TaskContext> = {}): TaskContext {
  return { agentId: 'agent-1', available: AVAILABLE, idInUse: () => false, ...overrides };
}

function task(overrides: Partial<TaskInfo> = {}): TaskInfo {
  return {
    name: 'sleepy',
    task_id: { value: 'task-1' },
    agent_id: { value: 'agent-1' },
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 128 } },
    ],
    command: { value: 'sleep 10' },
    ...overrides,
  };
}

function rejection(check: TaskCheck): string {
  if (check.ok) throw new Error('expected the task to be rejected');
  return check.error;
}

test('a well-formed task that fits the offer is accepted with its parsed resources', (t) => {
  const check = validateTask(task({
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: { value: 4 } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 2048 } },
      { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31001 }, { begin: 31009, end: 31009 }] } },
    ],
  }), ctx());
  if (!check.ok) return t.fail(check.error);
  t.true(check.resources.every((b) => b.key === UNRESERVED_KEY), 'plain resources parse as unreserved');
  t.true(equals(flatten(check.resources), resources({ cpus: 4, mem: 2048 }, [[31000, 31001], [31009, 31009]])));
});

test('a task parsed from scheduler JSON (looseObject, extra fields) is accepted', (t) => {
  const info = TaskInfoSchema.parse({
    name: 'web', task_id: { value: 'web.1:a_b-c' }, agent_id: { value: 'agent-1' },
    resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 }, role: '*' }],
    command: { shell: false, value: '/bin/true', arguments: ['true'] }, labels: { labels: [] }, discovery: { visibility: 'FRAMEWORK' },
  });
  t.true(validateTask(info, ctx()).ok);
});

test('a task id already used by a live task of the framework is rejected as a duplicate', (t) => {
  const seen: string[] = [];
  const err = rejection(validateTask(task(), ctx({ idInUse: (id) => { seen.push(id); return id === 'task-1'; } })));
  t.is(err, 'Task has duplicate ID: task-1');
  t.deepEqual(seen, ['task-1']);
  t.true(validateTask(task({ task_id: { value: 'task-2' } }), ctx({ idInUse: (id) => id === 'task-1' })).ok);
});

test('a task for another agent than the offers’ is rejected, naming both agents', (t) => {
  const err = rejection(validateTask(task({ agent_id: { value: 'agent-9' } }), ctx()));
  t.regex(err, /^Task uses invalid agent: agent-9/);
  t.regex(err, /agent-1/);
});

test('a task without a CommandInfo is rejected', (t) => {
  const { command: _omit, ...noCommand } = task();
  t.regex(rejection(validateTask(noCommand as TaskInfo, ctx())), /at least one \(but not both\) of CommandInfo or ExecutorInfo/);
});

test('a shell command with no value to run is rejected', (t) => {
  t.is(rejection(validateTask(task({ command: {} }), ctx())), 'Task command has no value to run');
  t.is(rejection(validateTask(task({ command: { value: '' } }), ctx())), 'Task command has no value to run');
});

test('a task with a custom executor is rejected, with or without a command', (t) => {
  const executor = { executor_id: { value: 'exec-1' }, command: { value: './my-executor' } };
  t.regex(rejection(validateTask(task({ executor }), ctx())), /Custom executors are not supported/);
  t.regex(rejection(validateTask(task({ executor, command: undefined }), ctx())), /Custom executors are not supported/);
});

test('a task asking for negative resources is rejected as invalid', (t) => {
  const err = rejection(validateTask(task({ resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: -1 } }] }), ctx()));
  t.regex(err, /^Task uses invalid resources: /);
  t.regex(err, /cpus/);
  t.regex(err, /negative/);
});

test('a task with malformed resources (inverted port range, SET) is rejected as invalid', (t) => {
  t.regex(rejection(validateTask(task({
    resources: [{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31005, end: 31001 }] } }],
  }), ctx())), /^Task uses invalid resources: .*31005-31001/);
  t.regex(rejection(validateTask(task({
    resources: [{ name: 'disks', type: 'SET', set: { item: ['a'] } }],
  }), ctx())), /^Task uses invalid resources: .*SET/);
});

test('a task with no resources (none listed, or only zeros) is rejected', (t) => {
  t.is(rejection(validateTask(task({ resources: [] }), ctx())), 'Task uses no resources');
  t.is(rejection(validateTask(task({ resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0 } }] }), ctx())), 'Task uses no resources');
});

test('a task asking for more than the offers hold is rejected, showing both amounts', (t) => {
  const err = rejection(validateTask(task({ resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 4.5 } }] }), ctx()));
  t.is(err, 'Task uses more resources cpus:4.5 than available cpus:4;mem:2048;disk:1000;ports:[31000-31009]');
  t.regex(rejection(validateTask(task({ resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 1 } }] }), ctx())), /more resources gpus:1/);
  t.regex(rejection(validateTask(task({
    resources: [{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31009, end: 31010 }] } }],
  }), ctx())), /more resources ports:\[31009-31010\]/);
});

test('task ids "." and ".." are rejected', (t) => {
  for (const id of ['.', '..']) {
    t.is(rejection(validateTask(task({ task_id: { value: id } }), ctx())), `Task ID is invalid: '${id}' is disallowed as task ID`);
  }
});

test('task ids with a slash are rejected', (t) => {
  for (const id of ['a/b', '/abs', 'trailing/']) {
    t.regex(rejection(validateTask(task({ task_id: { value: id } }), ctx())), /^Task ID is invalid: .*contains a slash/, id);
  }
});

test('task ids with whitespace or control characters are rejected', (t) => {
  for (const id of ['has space', 'tab\there', 'new\nline', ' lead', 'bell\u0007', 'del\u007f', 'nbsp\u00a0x']) {
    t.regex(rejection(validateTask(task({ task_id: { value: id } }), ctx())), /^Task ID is invalid: .*whitespace or a control character/s, JSON.stringify(id));
  }
});

test('the task id is checked before anything else, even a duplicate or a wrong agent', (t) => {
  const err = rejection(validateTask(task({ task_id: { value: '..' }, agent_id: { value: 'elsewhere' }, command: undefined }), ctx({ idInUse: () => true })));
  t.regex(err, /^Task ID is invalid/);
});

test('validateIdValue accepts ordinary ids and rejects empty ones', (t) => {
  for (const id of ['task-1', 'a.b', '...', 'x_y:z', 'ünïcødé', '.hidden']) t.is(validateIdValue('task ID', id), undefined, id);
  t.is(validateIdValue('framework ID', ''), 'framework ID must not be empty');
  t.is(validateIdValue('framework ID', '..'), "'..' is disallowed as framework ID");
});
