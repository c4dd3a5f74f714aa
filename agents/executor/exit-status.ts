// How a task ended, as the launcher (launcher.ts) records it: the shell's exit status of the
// command, written to `${sandbox}/.exit_status` after the command is reaped. Because the status is
// on disk, an agent that crashed and restarted still learns how its task ended. The task's pid
// (= its process group) is in `${sandbox}/.pid` from the moment it exists.
//
// Status encoding is the shell's: 0‥128 a normal exit, 128+N death by signal N. A command that
// exits on its own with a status above 128 is therefore reported as a signal death (documented).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';

export const EXIT_STATUS_FILE = '.exit_status';
export const PID_FILE = '.pid';

export interface CommandSpec {
  value?: string;
  shell?: boolean;
  arguments?: string[];
}

/** argv of a task's command, as Mesos' command executor runs it. */
export function commandArgv(command: CommandSpec): string[] {
  const value = command.value ?? '';
  // Mesos: shell=false means execve(value, arguments) where arguments[0] is argv[0]; sh cannot set
  // argv[0], so the program is `value` and the rest of `arguments` follow it.
  return command.shell === false ? [value, ...(command.arguments ?? []).slice(1)] : ['/bin/sh', '-c', value];
}

export type ExitInfo =
  | { kind: 'exited'; status: number }
  | { kind: 'signaled'; signal: string }
  | { kind: 'unknown' };

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** Interprets a shell exit status (as written to .exit_status or reported by the launcher). */
export function fromShellStatus(status: number): ExitInfo {
  if (!Number.isInteger(status) || status < 0) return { kind: 'unknown' };
  if (status > 128 && SIGNAL_NAMES.has(status - 128)) return { kind: 'signaled', signal: SIGNAL_NAMES.get(status - 128)! };
  return { kind: 'exited', status };
}

/** The message Mesos' command executor uses for the terminal update. */
export function describeExit(exit: ExitInfo): string {
  if (exit.kind === 'exited') return `Command exited with status ${exit.status}`;
  if (exit.kind === 'signaled') return `Command terminated by signal ${exit.signal}`;
  return 'Command exit status unknown';
}

async function readNumber(sandbox: string, file: string): Promise<number | undefined> {
  try {
    const text = (await readFile(join(sandbox, file), 'utf8')).trim();
    const n = Number(text);
    return text !== '' && Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the status the launcher left in the sandbox; `unknown` if it never wrote one (e.g. SIGKILL of the waiter). */
export async function readExitStatus(sandbox: string): Promise<ExitInfo> {
  const status = await readNumber(sandbox, EXIT_STATUS_FILE);
  return status === undefined ? { kind: 'unknown' } : fromShellStatus(status);
}

/** Whether the launcher's waiter recorded the command's exit (checked on every recovery poll). */
export function hasExitStatus(sandbox: string): boolean {
  return existsSync(join(sandbox, EXIT_STATUS_FILE));
}

/** The task's pid as the launcher recorded it, if it was started. */
export function readPid(sandbox: string): Promise<number | undefined> {
  return readNumber(sandbox, PID_FILE);
}
