// Work that runs now and then every interval, never twice at once: a tick that finds the previous
// run still going is skipped rather than queued behind it (a slow disk or metadata server must not
// build a backlog). The timer does not keep the process alive.
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;

  /**
   * `run` handles its own errors; a rejection is dropped. `immediately: false` waits one interval
   * for the first run (work whose first run needs time to have passed, such as a rate).
   */
  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly opts: { immediately?: boolean } = {},
  ) {}

  /** Whether ticks are scheduled (between start and cancel/stop). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer) return;
    if (this.opts.immediately ?? true) this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** No more ticks (a run in progress goes on). */
  cancel(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** No more ticks; resolves once a run in progress has ended. */
  async stop(): Promise<void> {
    this.cancel();
    await this.current;
  }

  private tick(): void {
    if (this.current) return;
    this.current = this.run().catch(() => undefined).finally(() => { this.current = undefined; });
  }
}
