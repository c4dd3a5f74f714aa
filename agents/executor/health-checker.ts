// Mesos-native health checks of one task (TaskInfo.health_check: COMMAND, HTTP, TCP), run by its
// executor as Mesos' built-in executors run them (docs/health-checks.md): the first check after
// `delay_seconds`, then one every `interval_seconds`; a check not done within `timeout_seconds`
// failed; failures in the first `grace_period_seconds` after the task started are ignored until
// it was healthy once; every change of health is reported, and `consecutive_failures` failures in
// a row (outside the grace) have the task killed. COMMAND runs in the task's sandbox with its
// environment; HTTP (2xx–3xx is healthy) and TCP (a connection is healthy) go to 127.0.0.1.
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Logger } from 'pino';
import type { Clock } from '../../src/common/clock.ts';
import type { HealthCheck } from '../../src/mesos/scheduler-call.ts';
import { signalGroup } from './process-group.ts';

export interface HealthCheckerDeps {
  check: HealthCheck;
  clock: Clock;
  /** When the task started running (ms, the clock's): the grace period counts from here. */
  startedAt: number;
  /** The task's sandbox and environment, for COMMAND checks. */
  cwd: string;
  env: Record<string, string>;
  logger: Logger;
  /** Health changed (first result, or a flip). */
  onHealth(healthy: boolean, detail: string): void;
  /** `consecutive_failures` in a row: the task is to be killed. */
  onFailedTooOften(detail: string): void;
}

const seconds = (v: number | undefined, dflt: number): number => Math.max(0, v ?? dflt) * 1000;

export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private healthy: boolean | undefined;
  private everHealthy = false;
  private failures = 0;

  constructor(private readonly deps: HealthCheckerDeps) {}

  start(): void {
    this.schedule(seconds(this.deps.check.delay_seconds, 15));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round(), ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const c = this.deps.check;
    const timeoutMs = seconds(c.timeout_seconds, 20);
    const failure = await this.probe(timeoutMs).then(() => undefined, (e: unknown) => (e instanceof Error ? e.message : String(e)));
    if (this.stopped) return;
    if (failure === undefined) this.passed();
    else if (this.failed(failure)) return;
    this.schedule(seconds(c.interval_seconds, 10));
  }

  private passed(): void {
    this.failures = 0;
    this.everHealthy = true;
    if (this.healthy !== true) {
      this.healthy = true;
      this.deps.onHealth(true, 'health check passed');
    }
  }

  /** Returns true when the task is to be killed (no more checks). */
  private failed(detail: string): boolean {
    const c = this.deps.check;
    const inGrace = !this.everHealthy && this.deps.clock.now() - this.deps.startedAt < seconds(c.grace_period_seconds, 10);
    if (inGrace) {
      this.deps.logger.debug({ detail }, 'health check failed within the grace period; ignored');
      return false;
    }
    this.failures++;
    if (this.healthy !== false) {
      this.healthy = false;
      this.deps.onHealth(false, `health check failed: ${detail}`);
    }
    const limit = c.consecutive_failures ?? 3;
    if (limit > 0 && this.failures >= limit) {
      this.stop();
      this.deps.onFailedTooOften(`${this.failures} consecutive health check failures (last: ${detail})`);
      return true;
    }
    return false;
  }

  private probe(timeoutMs: number): Promise<void> {
    const c = this.deps.check;
    const type = c.type ?? (c.http ? 'HTTP' : c.tcp ? 'TCP' : 'COMMAND');
    if (type === 'HTTP') return this.http(timeoutMs);
    if (type === 'TCP') return this.tcp(timeoutMs);
    return this.command(timeoutMs);
  }

  private async http(timeoutMs: number): Promise<void> {
    const h = this.deps.check.http!;
    const path = h.path ? (h.path.startsWith('/') ? h.path : `/${h.path}`) : '/';
    const url = `${h.scheme ?? 'http'}://127.0.0.1:${h.port}${path}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).catch((e: Error) => {
      throw new Error(e.name === 'TimeoutError' ? `GET ${url}: no answer within ${timeoutMs / 1000} s` : `GET ${url}: ${(e.cause as Error | undefined)?.message ?? e.message}`);
    });
    await res.body?.cancel();
    if (res.status < 200 || res.status >= 400) throw new Error(`GET ${url}: ${res.status}`);
  }

  private tcp(timeoutMs: number): Promise<void> {
    const port = this.deps.check.tcp!.port;
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect 127.0.0.1:${port}: no answer within ${timeoutMs / 1000} s`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve(); });
      socket.once('error', (e) => { clearTimeout(timer); reject(new Error(`connect 127.0.0.1:${port}: ${e.message}`)); });
    });
  }

  private command(timeoutMs: number): Promise<void> {
    const cmd = this.deps.check.command ?? {};
    const argv = cmd.shell === false ? [cmd.value ?? '', ...(cmd.arguments ?? []).slice(1)] : ['sh', '-c', cmd.value ?? ''];
    return new Promise((resolve, reject) => {
      // Its own process group, so a check that hangs is killed with everything it started.
      const child = spawn(argv[0], argv.slice(1), { cwd: this.deps.cwd, env: this.deps.env, stdio: 'ignore', detached: true });
      const timer = setTimeout(() => { if (child.pid) signalGroup(child.pid, 'SIGKILL'); reject(new Error(`command did not finish within ${timeoutMs / 1000} s`)); }, timeoutMs);
      child.once('error', (e) => { clearTimeout(timer); reject(new Error(`command: ${e.message}`)); });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(signal ? `command killed by ${signal}` : `command exited with status ${code}`));
      });
    });
  }
}
