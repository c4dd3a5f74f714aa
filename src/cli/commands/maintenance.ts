// Maintenance commands over the operator API: drain, deactivate and reactivate agents
// (DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT).
import type { Command } from 'commander';
import { MasterClient, defaultMasterUrl } from '../../client/master-client.ts';
import { parseDurationSeconds } from '../duration.ts';
import { fail } from '../output.ts';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface MasterOptions { master: string }

async function run(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    fail((e as Error).message);
  }
}

function withMaster(cmd: Command): Command {
  return cmd.option('--master <url>', 'master URL ($SPILLWAY_MASTER)', defaultMasterUrl());
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
}
