// The environment a task command sees: the agent's own environment minus secret-looking variables
// (the agent may hold credentials a task must not inherit), then the Mesos variables, then the
// task's `command.environment.variables` (last wins, so a task can override anything).
import type { TaskInfo } from '../../src/mesos/scheduler-call.ts';

export interface EnvContext {
  task: TaskInfo;
  frameworkId: string;
  agentId: string;
  sandbox: string;
  host: string;
}

/** Every port of the task's `ports` resource(s), ranges expanded in the order they were given. */
export function taskPorts(task: TaskInfo): number[] {
  const out: number[] = [];
  for (const r of task.resources) {
    if (r.name !== 'ports') continue;
    for (const { begin, end } of r.ranges?.range ?? []) for (let p = begin; p <= end; p++) out.push(p);
  }
  return out;
}

/** The task's `mem` resource in MB (summed over roles), or undefined when it asked for none. */
export function taskMemMb(task: TaskInfo): number | undefined {
  let total = 0;
  let found = false;
  for (const r of task.resources) {
    if (r.name === 'mem' && r.scalar) {
      total += r.scalar.value;
      found = true;
    }
  }
  return found && total > 0 ? total : undefined;
}

const SECRET_LIKE = /SECRET|TOKEN|PASSW(OR)?D|CREDENTIAL|PRIVATE_KEY|API_KEY|REDIS_URL/i;

/** What every task inherits from the agent: its environment without secret-looking variables. */
export function inheritedEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SECRET_LIKE.test(k)) env[k] = v;
  return env;
}

/** The variables a task gets on top of the inherited ones: Mesos' own, then the task's (last wins). */
export function taskVariables(ctx: EnvContext): Record<string, string> {
  const env: Record<string, string> = {};
  env.MESOS_SANDBOX = ctx.sandbox;
  env.MESOS_DIRECTORY = ctx.sandbox;
  env.MESOS_TASK_ID = ctx.task.task_id.value;
  env.MESOS_FRAMEWORK_ID = ctx.frameworkId;
  env.MESOS_AGENT_ID = ctx.agentId;
  env.HOST = ctx.host;
  const ports = taskPorts(ctx.task);
  ports.forEach((p, i) => { env[`PORT${i}`] = String(p); });
  if (ports.length > 0) {
    env.PORT = String(ports[0]);
    env.PORTS = ports.join(','); // Marathon's convenience variable
  }
  for (const v of ctx.task.command?.environment?.variables ?? []) {
    // Only plain VALUE variables: SECRET-typed ones would need a secret resolver Spillway lacks.
    if (v.type === undefined || v.type === 'VALUE') env[v.name] = v.value ?? '';
  }
  return env;
}

/** The whole environment a task sees. */
export function taskEnvironment(ctx: EnvContext): Record<string, string> {
  return { ...inheritedEnvironment(), ...taskVariables(ctx) };
}
