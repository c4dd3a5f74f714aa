// The master's maintenance state, Mesos-style (docs/maintenance.md): agent draining and
// deactivation (agent-drain.ts). The master holds one Maintenance and calls it from a few hooks
// (recovery, timers, agent subscription, agent status updates, offers, GET_AGENTS); the operator
// calls live in maintenance-calls.ts.
import { forbidden } from '../common/errors.ts';
import type { TaskStatus } from '../mesos/task-status.ts';
import { AgentDrains } from './agent-drain.ts';
import type { Master } from './master.ts';

export class Maintenance {
  readonly drains: AgentDrains;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(private readonly m: Master) {
    this.drains = new AgentDrains(m);
  }

  /** After the master rebuilt agents and tasks from Redis. */
  async recover(): Promise<void> {
    await this.drains.recover();
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), Math.max(50, this.m.config.allocationIntervalMs));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Throws 403 for an agent that may not (re)register: one marked gone. */
  admitAgent(agentId: string, _hostname: string): void {
    if (this.drains.gone.has(agentId)) throw forbidden(`Agent ${agentId} was marked gone and may not register again`);
  }

  /** After an agent's SUBSCRIBED went out. */
  agentSubscribed(agentId: string): void {
    this.drains.agentSubscribed(agentId);
  }

  /** An update from an agent, before the master records it. */
  rewriteStatus(agentId: string, status: TaskStatus): TaskStatus {
    return this.drains.rewriteStatus(agentId, status);
  }

  isDeactivated(agentId: string): boolean {
    return this.drains.isDeactivated(agentId);
  }

  /** Extra GET_AGENTS fields for one agent. */
  agentView(agentId: string): object {
    return this.drains.agentView(agentId);
  }

  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    this.drains.tick()
      .catch((e) => this.m.log.error({ err: e }, 'maintenance tick failed'))
      .finally(() => { this.ticking = false; });
  }
}
