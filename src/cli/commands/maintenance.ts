// Maintenance commands over the operator API: drain, deactivate and reactivate agents
// (DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT) and the maintenance schedule
// (GET/UPDATE_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_STATUS, START/STOP_MAINTENANCE).
import type { Command } from 'commander';
import { MasterClient } from '../../client/master-client.ts';
import { addMasterOption } from '../master-option.ts';
import { parseDurationSeconds } from '../duration.ts';
import { fail, printJson, printTable, runOrFail } from '../output.ts';
import { loadScheduleFile } from '../schedule-file.ts';
import { masterOf } from './policy-admin.ts';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface MasterOptions { master: string }
interface ListOptions extends MasterOptions { json?: boolean }
interface MachineId { hostname?: string; ip?: string }

const machineName = (id: MachineId): string => [id.hostname, id.ip].filter(Boolean).join('@');
const nsToIso = (t?: { nanoseconds: number }): string => (t ? new Date(t.nanoseconds / 1e6).toISOString().replace(/\.\d+Z$/, 'Z') : '');
const nsToDuration = (d?: { nanoseconds: number }): string => {
  if (!d) return '—';
  const s = d.nanoseconds / 1e9;
  return s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
};

/**
 * Machines named on the command line, as the schedule spells them: an argument matches a
 * scheduled machine by hostname (any case), by ip, or as `hostname@ip`.
 */
function resolveMachines(args: string[], schedule: Any): MachineId[] {
  const scheduled = (schedule.windows as Any[]).flatMap((w) => w.machine_ids as MachineId[]);
  return args.map((arg) => {
    const hits = scheduled.filter((id) => machineName(id) === arg || id.ip === arg || (id.hostname ?? '').toLowerCase() === arg.toLowerCase());
    if (hits.length === 0) fail(`'${arg}' is not a machine in the maintenance schedule (see \`spillway maintenance schedule\`)`);
    if (hits.length > 1) fail(`'${arg}' names ${hits.length} machines in the schedule (${hits.map(machineName).join(', ')}); use hostname@ip`);
    return hits[0];
  });
}

const run = (fn: () => Promise<void>): Promise<void> => runOrFail(fn);

function withMaster(cmd: Command): Command {
  return addMasterOption(cmd);
}

/** Sends a call that answers 200 with no body. */
async function send(master: string, type: string, extra: object): Promise<void> {
  await new MasterClient(master).request('/api/v1', { type, ...extra });
}

/** The agent's drain state and how many of its tasks still run, or undefined once it is gone. */
async function drainProgress(c: MasterClient, agentId: string): Promise<{ state: string; tasks: number } | undefined> {
  const [agents, tasks] = await Promise.all([c.call<Any>('GET_AGENTS'), c.call<Any>('GET_TASKS')]);
  const a = (agents.get_agents.agents as Any[]).find((x) => x.agent_info.id.value === agentId);
  if (!a) return undefined;
  const left = (tasks.get_tasks.tasks as Any[]).filter((t) => t.agent_id.value === agentId).length;
  return { state: a.drain_info?.state ?? 'UNKNOWN', tasks: left };
}

export function registerMaintenanceCommands(program: Command): void {
  withMaster(program.command('drain').description('drain an agent (DRAIN_AGENT): no new offers, its tasks are killed, then it is DRAINED')
    .argument('<AGENT_ID>', 'the agent to drain (see `spillway agents`)')
    .option('--grace <duration>', 'upper bound on each task\'s kill grace period, e.g. 30s (default: each task\'s own)')
    .option('--mark-gone', 'mark the agent gone once drained: it is removed for good and may not register again')
    .option('--wait', 'wait until the agent is DRAINED (or gone), printing progress'))
    .action((agentId: string, o: MasterOptions & { grace?: string; markGone?: boolean; wait?: boolean }) => run(async () => {
      let grace: number | undefined;
      if (o.grace !== undefined) {
        const g = parseDurationSeconds(o.grace);
        if (typeof g === 'string') fail(`--grace: ${g}`);
        grace = g;
      }
      await send(o.master, 'DRAIN_AGENT', {
        drain_agent: {
          agent_id: { value: agentId },
          ...(grace !== undefined ? { max_grace_period: { nanoseconds: Math.round(grace * 1e9) } } : {}),
          ...(o.markGone ? { mark_gone: true } : {}),
        },
      });
      process.stdout.write(`agent ${agentId} is draining${grace !== undefined ? ` (kill grace at most ${grace} s)` : ''}${o.markGone ? '; it will be marked gone when drained' : ''}\n`);
      if (!o.wait) return;
      const c = new MasterClient(o.master);
      let last = '';
      for (;;) {
        const p = await drainProgress(c, agentId);
        const line = p ? `${p.state}, ${p.tasks} task(s) left` : 'gone';
        if (line !== last) process.stderr.write(`• ${agentId}: ${line}\n`);
        last = line;
        if (!p || p.state === 'DRAINED') return;
        await new Promise((r) => setTimeout(r, 500));
      }
    }));

  withMaster(program.command('deactivate').description('stop offers for an agent (DEACTIVATE_AGENT); its tasks keep running')
    .argument('<AGENT_ID>', 'the agent to deactivate'))
    .action((agentId: string, o: MasterOptions) => run(async () => {
      await send(o.master, 'DEACTIVATE_AGENT', { deactivate_agent: { agent_id: { value: agentId } } });
      process.stdout.write(`agent ${agentId} is deactivated: no new offers until \`spillway reactivate ${agentId}\`\n`);
    }));

  withMaster(program.command('reactivate').description('resume offers for a deactivated or DRAINED agent (REACTIVATE_AGENT)')
    .argument('<AGENT_ID>', 'the agent to reactivate'))
    .action((agentId: string, o: MasterOptions) => run(async () => {
      await send(o.master, 'REACTIVATE_AGENT', { reactivate_agent: { agent_id: { value: agentId } } });
      process.stdout.write(`agent ${agentId} is active again\n`);
    }));

  const maintenance = program.command('maintenance').description('maintenance schedule and machine modes (Mesos maintenance primitives)');

  const schedule = withMaster(maintenance.command('schedule').description('show the maintenance schedule; `schedule set FILE` replaces it'))
    .option('--json', 'print the schedule as Mesos JSON')
    .action((o: ListOptions) => run(async () => {
      const r = await new MasterClient(o.master).call<Any>('GET_MAINTENANCE_SCHEDULE');
      const sched = r.get_maintenance_schedule.schedule;
      if (o.json) return printJson(sched);
      const status = (await new MasterClient(o.master).call<Any>('GET_MAINTENANCE_STATUS')).get_maintenance_status.status;
      const down = new Set((status.down_machines as MachineId[]).map(machineName));
      printTable(['machine', 'mode', 'unavailable from', 'for'], (sched.windows as Any[]).flatMap((w) => (w.machine_ids as MachineId[]).map((id) => [
        machineName(id), down.has(machineName(id)) ? 'DOWN' : 'DRAINING', nsToIso(w.unavailability.start), nsToDuration(w.unavailability.duration),
      ])));
    }));

  withMaster(schedule.command('set').description('replace the maintenance schedule with the windows in FILE (YAML or JSON); machines left out go back UP')
    .argument('<FILE>', 'windows: [{machine_ids: [{hostname, ip}], unavailability: {start: ISO date | {nanoseconds}, duration: 2h | {nanoseconds}}}]'))
    .action((file: string, o: MasterOptions, cmd: Command) => run(async () => {
      const sched = loadScheduleFile(file);
      await send(masterOf(o, cmd), 'UPDATE_MAINTENANCE_SCHEDULE', { update_maintenance_schedule: { schedule: sched } });
      const machines = sched.windows.reduce((n, w) => n + w.machine_ids.length, 0);
      process.stdout.write(`maintenance schedule set: ${sched.windows.length} window(s), ${machines} machine(s) in DRAINING mode (or still DOWN)\n`);
    }));

  withMaster(maintenance.command('status').description('machines in DRAINING and DOWN mode, with the frameworks\' answers to inverse offers'))
    .option('--json', 'print Mesos\' ClusterStatus JSON')
    .action((o: ListOptions, cmd: Command) => run(async () => {
      const status = (await new MasterClient(masterOf(o, cmd)).call<Any>('GET_MAINTENANCE_STATUS')).get_maintenance_status.status;
      if (o.json) return printJson(status);
      const rows: string[][] = [];
      for (const d of status.draining_machines as Any[]) {
        const answers = (d.statuses ?? []) as Any[];
        if (answers.length === 0) rows.push([machineName(d.id), 'DRAINING', '—', '—', '']);
        for (const a of answers) rows.push([machineName(d.id), 'DRAINING', a.framework_id.value, a.status, nsToIso(a.timestamp)]);
      }
      for (const id of status.down_machines as MachineId[]) rows.push([machineName(id), 'DOWN', '', '', '']);
      printTable(['machine', 'mode', 'framework', 'answer', 'answered'], rows);
    }));

  for (const [verb, type, field, what] of [
    ['start', 'START_MAINTENANCE', 'start_maintenance', 'bring DRAINING machines DOWN: their agents are removed (tasks TASK_LOST) and kept out'],
    ['stop', 'STOP_MAINTENANCE', 'stop_maintenance', 'bring DOWN machines back UP and out of the schedule: their agents may register again'],
  ] as const) {
    withMaster(maintenance.command(verb).description(what).argument('<MACHINE...>', 'hostname, ip, or hostname@ip of a scheduled machine'))
      .action((args: string[], o: MasterOptions, cmd: Command) => run(async () => {
        const master = masterOf(o, cmd);
        const sched = (await new MasterClient(master).call<Any>('GET_MAINTENANCE_SCHEDULE')).get_maintenance_schedule.schedule;
        const machines = resolveMachines(args, sched);
        await send(master, type, { [field]: { machines } });
        process.stdout.write(`${machines.map(machineName).join(', ')}: ${verb === 'start' ? 'DOWN' : 'UP'}\n`);
      }));
  }
}
