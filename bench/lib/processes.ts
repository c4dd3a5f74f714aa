// Child processes of the benchmarks: `bin/spillway` commands with their output in a log file,
// stopped gracefully (then killed), and waits that fail early when a child died.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/spillway', import.meta.url));

const childEnv = (): NodeJS.ProcessEnv => ({ ...process.env, SPILLWAY_LOG_LEVEL: process.env.SPILLWAY_LOG_LEVEL ?? 'warn' });

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); done(); });
    child.kill(signal);
  });
}

export function spawnLogged(args: string[], logFile: string, execArgv: string[] = []): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(process.execPath, [...execArgv, BIN, ...args], { stdio: ['ignore', fd, fd], env: childEnv() });
  } finally {
    closeSync(fd);
  }
}

export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, dead?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const why = dead?.();
    if (why) throw new Error(`${why} while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Why a child is gone (with the end of its log), or undefined while it runs. */
export function exited(c: ChildProcess, name: string, logFile: string): string | undefined {
  if (c.exitCode === null && c.signalCode === null) return undefined;
  let tail = '';
  try {
    tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    // no log
  }
  return `${name} (pid ${c.pid}) exited with ${c.exitCode ?? c.signalCode}${tail ? `; end of ${logFile}:\n${tail}\n` : ''}`;
}
