// Listing commands: status, agents, frameworks, tasks — read through the operator API.
import type { Command } from 'commander';
import { MasterClient } from '../../client/master-client.ts';
import { addMasterOption } from '../master-option.ts';
import { fromMesos, type MesosResource } from '../../resources/mesos-resources.ts';
import { scalar } from '../../resources/resources.ts';
import { printJson, printTable, runOrFail } from '../output.ts';

interface ListOptions { master: string; json?: boolean }

const brief = (list: MesosResource[] | undefined): string => {
  const r = fromMesos(list ?? []);
  if (!r.ok) return '?';
  return `cpus ${scalar(r.value, 'cpus')} · mem ${scalar(r.value, 'mem')} MB`;
};

const nsToIso = (t?: { nanoseconds: number }): string => (t ? new Date(t.nanoseconds / 1e6).toISOString().replace(/\.\d+Z$/, 'Z') : '');

function withMaster(cmd: Command): Command {
  return addMasterOption(cmd).option('--json', 'print JSON instead of a table');
}

const run = (fn: () => Promise<void>): Promise<void> => runOrFail(fn);

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** DRAINING / DRAINED, deactivated (by an operator), disconnected, or up. */
const agentState = (a: Any): string => a.drain_info?.state ?? (a.deactivated ? 'deactivated' : a.active ? 'up' : 'disconnected');

/**
 * Task counts from GET_TASKS: `running_tasks` is TASK_RUNNING only (staging, starting and killing
 * tasks are not running yet or any more), `active_tasks` every task not yet terminal.
 */
export function taskCounts(t: Any): { running_tasks: number; active_tasks: number; unreachable_tasks: number; completed_tasks: number; tasks_by_state: Record<string, number> } {
  const byState: Record<string, number> = {};
  for (const task of t.tasks as Any[]) byState[task.state] = (byState[task.state] ?? 0) + 1;
  return {
    running_tasks: byState.TASK_RUNNING ?? 0,
    active_tasks: t.tasks.length,
    unreachable_tasks: t.unreachable_tasks?.length ?? 0,
    completed_tasks: t.completed_tasks.length,
    tasks_by_state: Object.fromEntries(Object.entries(byState).sort(([a], [b]) => a.localeCompare(b))),
  };
}

export function registerClusterCommands(program: Command): void {
  withMaster(program.command('status').description('health, version and a summary of the cluster')).action((o: ListOptions) => run(async () => {
    const c = new MasterClient(o.master);
    const [health, version, state] = await Promise.all([c.call<Any>('GET_HEALTH'), c.call<Any>('GET_VERSION'), c.call<Any>('GET_STATE')]);
    const s = state.get_state;
    const summary = {
      master: o.master,
      healthy: health.get_health.healthy,
      version: version.get_version.version_info.version,
      agents: s.get_agents.agents.length,
      frameworks: s.get_frameworks.frameworks.length,
      ...taskCounts(s.get_tasks),
    };
    if (o.json) return printJson(summary);
    const { tasks_by_state: byState, ...rest } = summary;
    printTable(['', ''], [
      ...Object.entries(rest).map(([k, v]) => [k, String(v)]),
      ['tasks_by_state', Object.entries(byState).map(([k, n]) => `${k} ${n}`).join(' · ') || 'none'],
    ]);
  }));

  withMaster(program.command('agents').description('list agents with their resources')).action((o: ListOptions) => run(async () => {
    const r = await new MasterClient(o.master).call<Any>('GET_AGENTS');
    const agents = r.get_agents.agents as Any[];
    if (o.json) return printJson(agents);
    printTable(['id', 'hostname', 'active', 'state', 'total', 'allocated', 'offered', 'registered'], agents.map((a) => [
      a.agent_info.id.value, `${a.agent_info.hostname}:${a.agent_info.port}`, a.active ? 'yes' : 'no', agentState(a),
      brief(a.total_resources), brief(a.allocated_resources), brief(a.offered_resources), nsToIso(a.registered_time),
    ]));
  }));

  withMaster(program.command('frameworks').description('list frameworks')).action((o: ListOptions) => run(async () => {
    const r = await new MasterClient(o.master).call<Any>('GET_FRAMEWORKS');
    const fws = r.get_frameworks.frameworks as Any[];
    if (o.json) return printJson(fws);
    printTable(['id', 'name', 'role', 'connected', 'allocated', 'registered'], fws.map((f) => [
      f.framework_info.id.value, f.framework_info.name, f.framework_info.roles?.[0] ?? f.framework_info.role ?? '*',
      f.connected ? 'yes' : 'no', brief(f.allocated_resources), nsToIso(f.registered_time),
    ]));
  }));

  withMaster(program.command('tasks').description('list tasks (running, then recently completed)'))
    .option('--all', 'include completed tasks')
    .action((o: ListOptions & { all?: boolean }) => run(async () => {
      const r = await new MasterClient(o.master).call<Any>('GET_TASKS');
      const t = r.get_tasks;
      const tasks = [...t.tasks, ...t.unreachable_tasks, ...(o.all ? t.completed_tasks : [])] as Any[];
      if (o.json) return printJson(tasks);
      printTable(['task', 'framework', 'agent', 'state', 'resources', 'message'], tasks.map((x) => [
        x.task_id.value, x.framework_id.value, x.agent_id.value, x.state, brief(x.resources),
        String(x.statuses?.[x.statuses.length - 1]?.message ?? '').slice(0, 60),
      ]));
    }));
}
