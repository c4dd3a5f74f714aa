// The agent on its own, without the rest of Spillway: the entry point of the agent bundle the
// master serves at /v1/agent/bundle (src/bootstrap/agent-bundle.ts bundles it into one file).
// Usage on a VM: `node spillway-agent.mjs agent --config /opt/spillway/etc/agent.json`.
import { Command } from 'commander';
import { VERSION } from '../src/common/version.ts';
import { registerAgentCommand } from '../src/cli/commands/agent.ts';

const program = new Command('spillway-agent')
  .description('the Spillway agent (bundled): offers this machine to a master and runs its tasks')
  .version(VERSION);
registerAgentCommand(program);
await program.parseAsync(process.argv);
