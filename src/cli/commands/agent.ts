// `spillway agent`: runs tasks on this machine for a master.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { createLogger } from '../../common/logger.ts';
import { addMasterOption } from '../master-option.ts';
import { fail } from '../output.ts';
import { MasterUrlError, parseMasterUrls } from '../../client/master-urls.ts';

interface AgentFlags {
  master: string; port: string; workDir: string; resources?: string; attributes?: string; hostname: string;
  killTasksOnExit?: boolean; exitWithParent?: boolean;
  oversubscription?: boolean; oversubscriptionInterval: string; qosLoadThreshold: string;
}

export function registerAgentCommand(program: Command): void {
  addMasterOption(program.command('agent')
    .description('run an agent that offers this machine to a master and runs its tasks'))
    .option('--port <port>', 'port for the agent\'s own HTTP endpoints (sandbox files)', '5051')
    .option('--work-dir <dir>', 'where sandboxes and the agent\'s checkpoints live', '.spillway/agent')
    .option('--resources <spec>', 'override detected resources, Mesos syntax: "cpus:4;mem:2048;ports:[31000-32000]"')
    .option('--attributes <spec>', 'attributes offered with this agent: "rack:r1;zone:a"')
    .option('--hostname <host>', 'address the agent listens on and advertises', '127.0.0.1')
    .option('--kill-tasks-on-exit', 'kill running tasks when the agent stops (default: they keep running and are recovered)')
    .option('--oversubscription', 'offer the unused part of tasks\' allocations as revocable resources and preempt revocable tasks under load (Mesos oversubscription)')
    .option('--oversubscription-interval <ms>', 'how often to re-estimate the slack and run QoS checks', '5000')
    .option('--qos-load-threshold <x>', '1-minute load average per cpu above which revocable tasks are preempted', '0.9')
    .option('--exit-with-parent', 'stop when the parent process goes away (used by `spillway up`)')
    .action(async (o: AgentFlags) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: '${o.port}' is not a port number`);
      const intervalMs = Number(o.oversubscriptionInterval);
      if (!Number.isFinite(intervalMs) || intervalMs < 10) fail(`--oversubscription-interval: '${o.oversubscriptionInterval}' is not a number of milliseconds (at least 10)`);
      const loadThreshold = Number(o.qosLoadThreshold);
      if (!Number.isFinite(loadThreshold) || loadThreshold <= 0) fail(`--qos-load-threshold: '${o.qosLoadThreshold}' is not a positive number`);
      try {
        parseMasterUrls(o.master);
      } catch (e) {
        if (e instanceof MasterUrlError) fail(`--master: ${e.message}`);
        throw e;
      }
      const log = createLogger('agent');
      // Loaded on demand so client commands do not pay for the agent's modules.
      const { startAgent } = await import('../../../agents/agent.ts');
      const handle = await startAgent({
        masterUrl: o.master, port, advertiseHost: o.hostname, workDir: resolve(o.workDir),
        resources: o.resources, attributes: o.attributes, logger: log,
        ...(o.oversubscription ? { oversubscription: { enabled: true, intervalMs, loadThreshold } } : {}),
      })
        .catch((e: unknown) => fail(`agent failed to start: ${(e as Error).message}`));
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        handle.stop({ killTasks: Boolean(o.killTasksOnExit) }).finally(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (o.exitWithParent) {
        const parent = process.ppid;
        setInterval(() => { if (process.ppid !== parent) stop(); }, 500).unref();
      }
    });
}
