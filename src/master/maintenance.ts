// The master's maintenance state, Mesos-style (docs/maintenance.md): agent draining and
// deactivation (agent-drain.ts), the maintenance schedule with machine modes
// (maintenance-schedule.ts) and inverse offers (inverse-offers.ts). The master holds one
// Maintenance and calls it from a few hooks (recovery, timers, agent subscription, agent status
// updates, offers, GET_AGENTS / GET_FRAMEWORKS); the operator calls live in maintenance-calls.ts.
import { forbidden } from '../common/errors.ts';
import type { TaskStatus } from '../mesos/task-status.ts';
import { AgentDrains } from './agent-drain.ts';
import { removeAgent } from './agent-removal.ts';
import { InverseOffers } from './inverse-offers.ts';
import { machineKey, machineText, type MachineId } from './machine-id.ts';
import { MaintenanceSchedule, type MachineRecord, type Unavailability } from './maintenance-schedule.ts';
import type { Master } from './master.ts';
import type { AgentRecord } from './records.ts';

export class Maintenance {
  readonly drains: AgentDrains;
  readonly schedule: MaintenanceSchedule;
  readonly inverseOffers: InverseOffers;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(private readonly m: Master) {
    this.drains = new AgentDrains(m);
    this.schedule = new MaintenanceSchedule(m);
    this.inverseOffers = new InverseOffers(m);
  }

  /** After the master rebuilt agents and tasks from Redis. */
  async recover(): Promise<void> {
    await Promise.all([this.drains.recover(), this.schedule.recover(), this.inverseOffers.recover()]);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), Math.max(50, this.m.config.allocationIntervalMs));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Throws 403 for an agent that may not (re)register: one marked gone, or on a machine that is DOWN. */
  admitAgent(agentId: string, hostname: string): void {
    if (this.drains.gone.has(agentId)) throw forbidden(`Agent ${agentId} was marked gone and may not register again`);
    const machine = this.schedule.machineOf({ hostname });
    if (machine?.mode === 'DOWN') {
      throw forbidden(`Agent ${agentId} is on machine '${machineText(machine.id)}', which is DOWN for maintenance; it may register after STOP_MAINTENANCE`);
    }
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

  /** The machine's unavailability for an agent on a scheduled machine. */
  unavailabilityOf(agentId: string): Unavailability | undefined {
    if (this.schedule.machines.size === 0) return undefined;
    const a = this.m.state.agents.get(agentId);
    return a ? this.schedule.machineOf(a.record)?.unavailability : undefined;
  }

  /** Unavailability of an agent on a DRAINING machine (the ones that get inverse offers). */
  private drainingUnavailability(agentId: string): Unavailability | undefined {
    const a = this.m.state.agents.get(agentId);
    const machine = a ? this.schedule.machineOf(a.record) : undefined;
    return machine?.mode === 'DRAINING' ? machine.unavailability : undefined;
  }

  /** An offer's JSON gains `unavailability` when its agent's machine is scheduled for maintenance. */
  decorateOffer<T extends object>(offer: T, agentId: string): T {
    const unavailability = this.unavailabilityOf(agentId);
    return unavailability ? { ...offer, unavailability } : offer;
  }

  /** Extra GET_AGENTS fields for one agent. */
  agentView(agentId: string): object {
    return this.drains.agentView(agentId);
  }

  /** The scheduled machine of a registered agent (DRAIN_AGENT refuses those, as Mesos does). */
  scheduledMachineOf(agentId: string): MachineId | undefined {
    const a = this.m.state.agents.get(agentId);
    return a && !a.record.unreachableSince ? this.schedule.machineOf(a.record)?.id : undefined;
  }

  /** UPDATE_MAINTENANCE_SCHEDULE: offers and inverse offers on changed machines are made afresh. */
  async updateSchedule(input: Parameters<MaintenanceSchedule['update']>[0]): Promise<void> {
    const keyOf = (r: AgentRecord): string | undefined => {
      const machine = this.schedule.machineOf(r);
      return machine ? machineKey(machine.id) : undefined;
    };
    const before = new Map([...this.m.state.agents.values()].map((a) => [a.record.id, keyOf(a.record)]));
    const changed = new Set(await this.schedule.update(input));
    const affected = this.agentsWhere((r) => {
      const was = before.get(r.id);
      const now = keyOf(r);
      return (was !== undefined && changed.has(was)) || (now !== undefined && changed.has(now));
    });
    // Machines that went back UP keep no answers; offers are re-sent with the new unavailability.
    const up = new Set([...affected].filter((id) => keyOf(this.m.state.agents.get(id)!.record) === undefined));
    await this.m.persist(this.inverseOffers.forgetStatusOps(up));
    this.inverseOffers.rescindOn(affected);
    for (const id of affected) for (const o of this.m.state.offersOfAgent(id)) this.m.rescind(o);
    this.m.scheduleAllocation();
  }

  /** START_MAINTENANCE: the machines' agents are removed (TASK_LOST, as Mesos) and kept out. */
  async startMaintenance(ids: MachineId[]): Promise<void> {
    const down = await this.schedule.start(ids);
    for (const machine of down) {
      for (const id of this.agentsOn(machine)) {
        const a = this.m.state.agents.get(id);
        if (!a) continue;
        this.inverseOffers.rescindOn(new Set([id]));
        const { ops, notify } = removeAgent(this.m, a, {
          state: 'TASK_LOST', partitionAwareState: 'TASK_DROPPED', reason: 'REASON_SLAVE_REMOVED',
          message: `Agent ${a.record.hostname} removed: Operator initiated 'Machine DOWN' for ${machineText(machine.id)}`,
        });
        ops.push(...this.drains.forgetOps(id), ...this.inverseOffers.forgetStatusOps(new Set([id])));
        await this.m.persist(ops);
        notify();
      }
    }
  }

  /** STOP_MAINTENANCE: the machines are UP again and out of the schedule; their agents may register. */
  async stopMaintenance(ids: MachineId[]): Promise<void> {
    await this.schedule.stop(ids);
  }

  /** GET_MAINTENANCE_STATUS: draining machines with the frameworks' answers, and down machines. */
  status(): object {
    const draining: object[] = [];
    const down: MachineId[] = [];
    for (const r of this.schedule.machines.values()) {
      if (r.mode === 'DOWN') { down.push(r.id); continue; }
      const statuses = [...this.agentsOn(r)].flatMap((id) => this.inverseOffers.statusesOf(id));
      draining.push({ id: r.id, ...(statuses.length ? { statuses } : {}) });
    }
    return { draining_machines: draining, down_machines: down };
  }

  private agentsOn(machine: MachineRecord): Set<string> {
    return this.agentsWhere((r) => this.schedule.machineOf(r) === machine);
  }

  private agentsWhere(pred: (r: AgentRecord) => boolean): Set<string> {
    const out = new Set<string>();
    for (const a of this.m.state.agents.values()) if (pred(a.record)) out.add(a.record.id);
    return out;
  }

  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    if (this.schedule.machines.size > 0) this.inverseOffers.send((id) => this.drainingUnavailability(id));
    this.drains.tick()
      .catch((e) => this.m.log.error({ err: e }, 'maintenance tick failed'))
      .finally(() => { this.ticking = false; });
  }
}
