// `spillway run -- CMD`: runs a command as N tasks through the batch framework, streaming their
// output, and exits non-zero when any task did not finish successfully.
import type { Command } from 'commander';
import { addMasterOption } from '../master-option.ts';
import { isTerminal } from '../../mesos/task-status.ts';
import { BatchJob, type TaskResult } from '../../sdk/batch-job.ts';
import { SandboxReader, sandboxPath } from '../../sdk/sandbox-reader.ts';
import { exitWhenWritten, fail, printJson } from '../output.ts';

interface RunOptions { master: string; count: string; cpus: string; mem: string; name: string; role: string; json?: boolean; connectTimeout: string }

export function registerRunCommand(program: Command): void {
  addMasterOption(program.command('run')
    .description('run a shell command as N tasks on the cluster, streaming their output'))
    .option('-n, --count <n>', 'number of tasks', '1')
    .option('--cpus <c>', 'cpus per task', '0.1')
    .option('--mem <mb>', 'memory per task in MB', '32')
    .option('--name <name>', 'framework name', 'spillway-run')
    .option('--role <role>', 'role to run under', '*')
    .option('--json', 'print the results as JSON instead of streaming output')
    .option('--connect-timeout <seconds>', 'give up when no master has taken the framework\'s SUBSCRIBE within this long', '30')
    .argument('<command...>', 'the command (put it after --)')
    .addHelpText('after', '\nExample:\n  spillway run --count 4 -- \'echo hello from $MESOS_TASK_ID\'\n')
    .action(async (words: string[], o: RunOptions) => {
      const count = Number(o.count);
      const cpus = Number(o.cpus);
      const mem = Number(o.mem);
      if (!Number.isInteger(count) || count < 1) fail('--count must be a whole number ≥ 1');
      if (!(cpus > 0)) fail('--cpus must be a number > 0');
      if (!(mem > 0)) fail('--mem must be a number > 0');
      const connectTimeout = Number(o.connectTimeout);
      if (!(connectTimeout > 0)) fail('--connect-timeout must be a number of seconds > 0');
      const stamp = Date.now().toString(36);
      const command = words.join(' ');
      const tasks = Array.from({ length: count }, (_, i) => ({ id: `${o.name}-${stamp}-${i}`, command, cpus, mem }));
      const job = new BatchJob({ master: o.master, name: o.name, role: o.role, tasks });
      const streams = new Map<string, { out: SandboxReader; err: SandboxReader }>();
      const prefix = (id: string): string => (count > 1 ? `[${id.slice(id.lastIndexOf('-') + 1)}] ` : '');
      /** Prints what is new of a task's stdout and stderr; true when there was something. */
      const pump = async (id: string): Promise<boolean> => {
        const s = streams.get(id);
        if (!s) return false;
        const [out, err] = await Promise.all([s.out.readNew(), s.err.readNew()]);
        if (!o.json && out) process.stdout.write(indent(out, prefix(id)));
        if (!o.json && err) process.stderr.write(indent(err, prefix(id)));
        return Boolean(out || err);
      };
      // An ended task's files no longer grow: read them to the end (one read is at most 1 MiB).
      const pumpToEnd = async (id: string): Promise<void> => { while (await pump(id)); };
      const poller = setInterval(() => { for (const id of streams.keys()) pump(id).catch(() => {}); }, 300);
      job.on('update', (status, result) => {
        const id = status.task_id.value;
        if (!streams.has(id) && result.agentAddress && job.client.frameworkId) {
          const fid = job.client.frameworkId;
          streams.set(id, { out: new SandboxReader(result.agentAddress, sandboxPath(fid, id, 'stdout')), err: new SandboxReader(result.agentAddress, sandboxPath(fid, id, 'stderr')) });
        }
        if (isTerminal(status.state)) {
          pumpToEnd(id).catch(() => {}).finally(() => {
            streams.delete(id);
            if (!o.json && status.state !== 'TASK_FINISHED') process.stderr.write(`${prefix(id)}${status.state}: ${status.message ?? ''}\n`);
          });
        }
      });
      job.client.on('error', (m) => process.stderr.write(`spillway run: master says: ${m}\n`));
      process.stderr.write(`• running ${count} task(s) on ${o.master}: ${command}\n`);
      // The SDK retries an unreachable master for ever (right for a framework that must stay up);
      // a command line gives up and says why.
      let lastProblem = 'no answer';
      job.client.on('retrying', (e: Error) => { lastProblem = e.message; });
      const unreachable = setTimeout(() => {
        clearInterval(poller);
        fail(`no master at ${o.master} took the SUBSCRIBE within ${connectTimeout} s (${lastProblem}); is the master running? (--master, $SPILLWAY_MASTER)`);
      }, connectTimeout * 1000);
      job.client.once('subscribed', () => clearTimeout(unreachable));
      let results: TaskResult[];
      try {
        results = await job.run();
      } catch (e) {
        clearInterval(poller);
        return fail((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 350));
      await Promise.all([...streams.keys()].map(pumpToEnd));
      clearInterval(poller);
      const failed = results.filter((r) => r.state !== 'TASK_FINISHED');
      if (o.json) printJson(results);
      else process.stderr.write(`• ${results.length - failed.length}/${results.length} task(s) finished${failed.length ? `, ${failed.length} did not` : ''}\n`);
      exitWhenWritten(failed.length ? 1 : 0);
    });
}

function indent(text: string, prefix: string): string {
  if (!prefix) return text;
  return text.split(/(?<=\n)/).map((l) => prefix + l).join('');
}
