// The tiny shell wrapper every task runs under. It becomes the process-group leader, runs the
// command in the foreground and writes the command's exit status to `${sandbox}/.exit_status`
// (write to a temp file, then rename, so a reader never sees half a number). Because the status is
// on disk, an agent that crashed and restarted still learns how its task ended.
//
// Why `trap : TERM INT HUP`: the kill path signals the whole group, wrapper included. A *handler*
// (not an ignore, which children would inherit) keeps the wrapper alive; POSIX sh defers traps while
// a foreground command runs, so it first collects the command's status, then writes it. SIGKILL
// cannot be trapped: a SIGKILLed group leaves no .exit_status (the agent knows it killed the task).
//
// Status encoding is the shell's: 0‥128 a normal exit, 128+N death by signal N. A command that
// exits on its own with a status above 128 is therefore reported as a signal death (documented).
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';

export const EXIT_STATUS_FILE = '.exit_status';

const WRAPPER_SCRIPT = [
  'trap : TERM INT HUP',
  'f=$1; shift',
  '"$@"',
  's=$?',
  'printf \'%s\\n\' "$s" > "$f.tmp" && mv -f "$f.tmp" "$f"',
  'exit $s',
].join('\n');

export interface CommandSpec {
  value?: string;
  shell?: boolean;
  arguments?: string[];
}

/** argv for spawn('/bin/sh', …): the wrapper, its status file, then the task's own argv. */
export function wrapperArgv(command: CommandSpec, sandbox: string): string[] {
  const value = command.value ?? '';
  // Mesos: shell=false means execve(value, arguments) where arguments[0] is argv[0]; sh cannot set
  // argv[0], so the program is `value` and the rest of `arguments` follow it.
  const taskArgv = command.shell === false ? [value, ...(command.arguments ?? []).slice(1)] : ['/bin/sh', '-c', value];
  return ['-c', WRAPPER_SCRIPT, 'spillway-wrapper', join(sandbox, EXIT_STATUS_FILE), ...taskArgv];
}

export type ExitInfo =
  | { kind: 'exited'; status: number }
  | { kind: 'signaled'; signal: string }
  | { kind: 'unknown' };

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** Interprets a shell exit status (as written to .exit_status or as the wrapper's exit code). */
export function fromShellStatus(status: number): ExitInfo {
  if (status > 128 && SIGNAL_NAMES.has(status - 128)) return { kind: 'signaled', signal: SIGNAL_NAMES.get(status - 128)! };
  return { kind: 'exited', status };
}

/** How the wrapper process itself ended, as Node's 'exit' event reports it. */
export function fromWrapperExit(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
  if (signal) return { kind: 'signaled', signal };
  if (code === null) return { kind: 'unknown' };
  return fromShellStatus(code);
}

/** The message Mesos' command executor uses for the terminal update. */
export function describeExit(exit: ExitInfo): string {
  if (exit.kind === 'exited') return `Command exited with status ${exit.status}`;
  if (exit.kind === 'signaled') return `Command terminated by signal ${exit.signal}`;
  return 'Command exit status unknown';
}

/** Reads the status the wrapper left in the sandbox; `unknown` if it never wrote one (e.g. SIGKILL). */
export async function readExitStatus(sandbox: string): Promise<ExitInfo> {
  const { readFile } = await import('node:fs/promises');
  try {
    const text = (await readFile(join(sandbox, EXIT_STATUS_FILE), 'utf8')).trim();
    const status = Number(text);
    return text !== '' && Number.isInteger(status) ? fromShellStatus(status) : { kind: 'unknown' };
  } catch {
    return { kind: 'unknown' };
  }
}
