// Runs a command without blocking this process (a master under test may live in it), collecting
// its output; killed after a minute so a hung child fails the test instead of the suite.
import { spawn } from 'node:child_process';
import { BIN } from './cluster.ts';

export interface ProcessResult { code: number | null; stdout: string; stderr: string }

export function runProcess(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000, cwd?: string): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')} timed out`)); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** `spillway ARGS` from this checkout. */
export const spillway = (args: string[], env?: NodeJS.ProcessEnv): Promise<ProcessResult> => runProcess([BIN, ...args], env);
