// The agent starts task processes through one long-lived `/bin/sh` (a "fork server") instead of
// calling child_process.spawn per task. Node's spawn forks the whole agent process — page tables
// of a ~100 MB heap — and blocks the event loop for ~10 ms each time on this class of VM; a tiny
// shell forks in a fraction of that and never blocks the agent (docs/BENCHMARKS.md, e2e mode).
//
// Protocol (launcher.sh). The agent writes one line per task to the launcher's stdin, `T <n>` then
// shell assignments (`spw_dir`, the task's exported variables, `set --` argv) and `start`, every
// value single-quoted so nothing in it is interpreted. The launcher runs each in a background
// subshell (so assignments never leak between tasks), which:
//   - enters the sandbox, starts the command with `setsid` (a new session: the task's process
//     group, pgid = pid, receives the kill signals; neither the agent nor the launcher does),
//     stdout/stderr to the sandbox files, stdin from /dev/null;
//   - prints `S <id> <pid>`, writes the pid to `.pid` (recovery finds a task spawned just before
//     an agent crash), waits for it, writes the exit status to `.exit_status`, prints `E <id> <status>`;
//   - or prints `F <id> <reason>` when the sandbox cannot be entered.
// Status encoding is the shell's: 0‥128 a normal exit, 128+N death by signal N. Once the agent
// has read a task's end it sends `R <n>…` so the launcher reaps that waiter (dash keeps ended
// background children as zombies until asked).
//
// The launcher leads its own session, so a Ctrl-C meant for the agent's terminal does not reach
// it, and it ignores SIGPIPE: if the agent dies, the waiting subshells still record each task's
// exit status in its sandbox for the restarted agent to read. Closing its stdin ends the launcher
// once the lines already sent were started; running tasks are not touched.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';

// The script itself, with its own header; `.pid` and `.exit_status` are exit-status.ts's names.
const LAUNCHER_SCRIPT = readFileSync(new URL('./launcher.sh', import.meta.url), 'utf8');

/** A task to start: its sandbox (which must exist), variables to set on top of the launcher's own, argv. */
export interface LaunchRequest {
  sandbox: string;
  variables: Record<string, string>;
  argv: string[];
}

export interface LaunchEvents {
  /** The process exists: its pid is also its process group id. */
  onStarted(pid: number): void;
  /** It ended with this shell status (see above). */
  onExited(status: number): void;
  /** It could not be started. */
  onFailed(reason: string): void;
  /**
   * The launcher died before reporting the end (the task may still run: its end must now be
   * learnt from /proc and the sandbox's `.pid` and `.exit_status`).
   */
  onLauncherGone(reason: string): void;
}

/** Single-quotes a value for sh; newlines become `$nl` so a request stays on one line. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`).replace(/\n/g, `'"$nl"'`)}'`;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The request line for one task (exported for tests). */
export function requestLine(id: number, req: LaunchRequest): string {
  const names = Object.keys(req.variables);
  let argv = req.argv;
  let exports = '';
  if (names.every((n) => IDENTIFIER.test(n))) {
    if (names.length) exports = `export ${names.map((n) => `${n}=${shellQuote(req.variables[n])}`).join(' ')}; `;
  } else {
    // A variable name sh cannot assign (Mesos allows any): pass them all through env(1).
    argv = ['env', ...names.map((n) => `${n}=${req.variables[n]}`), ...argv];
  }
  return `T ${id} spw_dir=${shellQuote(req.sandbox)}; ${exports}set -- ${argv.map(shellQuote).join(' ')}; start "$@"`;
}

export class Launcher {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, LaunchEvents>();
  private nextId = 1;
  private dead: string | undefined;
  /** Ended tasks whose waiters the launcher should reap; sent once per tick. */
  private toReap: number[] = [];
  private readonly exited: Promise<void>;

  /** `env` is the environment every task inherits (already stripped of the agent's secrets). */
  constructor(env: Record<string, string>, private readonly logger: Logger) {
    this.child = spawn('/bin/sh', ['-c', LAUNCHER_SCRIPT], { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.unref();
    this.child.stdin.on('error', () => { /* reported through 'exit' */ });
    // The waiting subshells hold the pipe too: their lines arrive even after the launcher itself
    // died. Only when every writer is gone are the tasks still pending orphans.
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line)).on('close', () => this.orphanPending());
    createInterface({ input: this.child.stderr }).on('line', (line) => this.logger.warn({ launcher: line }, 'task launcher wrote to stderr'));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.dead ??= `task launcher exited (${signal ?? `code ${code}`})`;
        resolve();
      });
      this.child.once('error', (err) => {
        this.dead ??= `task launcher failed: ${err.message}`;
        resolve();
      });
    });
  }

  /** False once the launcher process is gone (or closed): start another for new tasks. */
  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Starts a task; `events` hears when it started and ended. */
  launch(req: LaunchRequest, events: LaunchEvents): void {
    if (this.dead) return events.onFailed(this.dead);
    const id = this.nextId++;
    this.pending.set(id, events);
    this.child.stdin.write(`${requestLine(id, req)}\n`);
  }

  /** Stops accepting tasks; running ones keep running (and their waiters keep recording). */
  async close(): Promise<void> {
    this.dead ??= 'task launcher closed';
    this.child.stdin.end();
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    // Held (ref'd) while it exits, so a caller awaiting close() is not left behind by the event loop.
    this.child.ref();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => { timer = setTimeout(r, 2000); })]);
    clearTimeout(timer);
    this.child.unref();
  }

  private onLine(line: string): void {
    const [kind, idText, rest] = splitLine(line);
    const id = Number(idText);
    const events = this.pending.get(id);
    if (!events) return;
    if (kind === 'S') return events.onStarted(Number(rest));
    if (kind !== 'E' && kind !== 'F') return;
    this.pending.delete(id);
    this.reap(id);
    if (kind === 'E') events.onExited(Number(rest));
    else events.onFailed(rest);
  }

  private reap(id: number): void {
    this.toReap.push(id);
    if (this.toReap.length > 1) return;
    setImmediate(() => {
      const ids = this.toReap;
      this.toReap = [];
      if (this.child.stdin.writable) this.child.stdin.write(`R ${ids.join(' ')}\n`);
    });
  }

  private orphanPending(): void {
    this.dead ??= 'task launcher exited';
    const orphans = [...this.pending.values()];
    this.pending.clear();
    if (orphans.length) this.logger.error({ reason: this.dead, tasks: orphans.length }, 'task launcher died; watching its tasks through /proc');
    for (const events of orphans) events.onLauncherGone(this.dead ?? 'task launcher exited');
  }
}

function splitLine(line: string): [string, string, string] {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  return b < 0 ? [line.slice(0, a), line.slice(a + 1), ''] : [line.slice(0, a), line.slice(a + 1, b), line.slice(b + 1)];
}
