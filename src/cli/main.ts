// The `spillway` command.
import { exitWhenWritten } from './output.ts';
import { Command } from 'commander';
import { VERSION } from '../common/version.ts';
import { registerAgentCommand } from './commands/agent.ts';
import { registerClusterCommands } from './commands/cluster.ts';
import { registerMasterCommand } from './commands/master.ts';
import { registerPolicyAdminCommands } from './commands/policy-admin.ts';
import { registerPolicyCommands } from './commands/policy.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerUpCommand } from './commands/up.ts';
import { registerInstancesCommand } from './commands/instances.ts';
import { registerMaintenanceCommands } from './commands/maintenance.ts';
import { registerScalingCommands } from './commands/scaling.ts';
import { registerReportCommands } from './commands/report.ts';
import { registerTokenCommands } from './commands/token.ts';

const program = new Command('spillway')
  .description('Spillway: one computer out of owned and rented machines — a Mesos-compatible master, agents and autoscaling')
  .version(VERSION)
  .showHelpAfterError()
  .enablePositionalOptions()
  .addHelpText('after', '\nStart here:\n  spillway up                 Redis + master + 2 agents on this machine\n  spillway run -- echo hi     run a command on the cluster\n');

registerUpCommand(program);
registerMasterCommand(program);
registerAgentCommand(program);
registerClusterCommands(program);
registerRunCommand(program);
registerInstancesCommand(program);
registerMaintenanceCommands(program);
registerTokenCommands(program);
registerPolicyAdminCommands(program);
registerPolicyCommands(program);
registerScalingCommands(program);
registerReportCommands(program);

await program.parseAsync(process.argv);

// Client commands are done once their action returns; do not wait for idle keep-alive sockets.
const SERVERS = new Set(['up', 'master', 'agent']);
if (!SERVERS.has(program.args[0] ?? '')) exitWhenWritten(Number(process.exitCode ?? 0));
