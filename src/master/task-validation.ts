// Validation of a TaskInfo inside an ACCEPT, with Mesos' rules and wording. Pure: returns the
// parsed resources or the reason the task gets TASK_ERROR (REASON_TASK_INVALID).
import type { TaskInfo } from '../mesos/scheduler-call.ts';
import { fromMesosSet } from '../resources/mesos-resources.ts';
import { containsSet, formatSet, isEmptySet, type ResourceSet } from '../resources/resource-set.ts';

export interface TaskContext {
  readonly agentId: string;
  readonly available: ResourceSet;
  /** True when a non-terminal task with this id already exists for the framework. */
  readonly idInUse: (taskId: string) => boolean;
}

export type TaskCheck = { ok: true; resources: ResourceSet } | { ok: false; error: string };

export function validateIdValue(kind: string, v: string): string | undefined {
  if (v.length === 0) return `${kind} must not be empty`;
  if (v === '.' || v === '..') return `'${v}' is disallowed as ${kind}`;
  if (v.includes('/')) return `${kind} '${v}' contains a slash`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\s]/.test(v)) return `${kind} '${v}' contains whitespace or a control character`;
  return undefined;
}

export function validateTask(task: TaskInfo, ctx: TaskContext): TaskCheck {
  const id = task.task_id.value;
  const idError = validateIdValue('task ID', id);
  if (idError) return { ok: false, error: `Task ID is invalid: ${idError}` };
  if (ctx.idInUse(id)) return { ok: false, error: `Task has duplicate ID: ${id}` };
  if (task.agent_id.value !== ctx.agentId) {
    return { ok: false, error: `Task uses invalid agent: ${task.agent_id.value} (the offers are for agent ${ctx.agentId})` };
  }
  if (task.executor) return { ok: false, error: 'Custom executors are not supported: give the task a CommandInfo' };
  if (!task.command) return { ok: false, error: 'Task should have at least one (but not both) of CommandInfo or ExecutorInfo present' };
  if (task.command.shell !== false && !task.command.value) return { ok: false, error: 'Task command has no value to run' };
  const parsed = fromMesosSet(task.resources);
  if (!parsed.ok) return { ok: false, error: `Task uses invalid resources: ${parsed.error}` };
  if (isEmptySet(parsed.value)) return { ok: false, error: 'Task uses no resources' };
  if (!containsSet(ctx.available, parsed.value)) {
    return { ok: false, error: `Task uses more resources ${formatSet(parsed.value)} than available ${formatSet(ctx.available)}` };
  }
  return { ok: true, resources: parsed.value };
}
