// Prometheus metrics of the master, on its own registry (served at /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class MasterMetrics {
  readonly registry = new Registry();
  readonly tasksLaunched = new Counter({ name: 'spillway_tasks_launched_total', help: 'Tasks sent to agents', registers: [this.registry] });
  readonly taskStates = new Counter({
    name: 'spillway_task_status_updates_total', help: 'Task status updates recorded, by state', labelNames: ['state'], registers: [this.registry],
  });
  readonly offersSent = new Counter({ name: 'spillway_offers_sent_total', help: 'Offers sent to frameworks', registers: [this.registry] });
  readonly offersRescinded = new Counter({ name: 'spillway_offers_rescinded_total', help: 'Offers rescinded', registers: [this.registry] });
  readonly invalidCalls = new Counter({
    name: 'spillway_scheduler_calls_rejected_total', help: 'Scheduler calls answered with a 4xx', labelNames: ['status'], registers: [this.registry],
  });
  readonly operationsDropped = new Counter({
    name: 'spillway_offer_operations_dropped_total', help: 'ACCEPT operations dropped as invalid or unsupported (the framework gets no event, as in Mesos)',
    labelNames: ['type'], registers: [this.registry],
  });
  readonly agentsRemoved = new Counter({ name: 'spillway_agents_removed_total', help: 'Agents removed after missing pings', registers: [this.registry] });
  readonly interruptionNotices = new Counter({
    name: 'spillway_agent_interruption_notices_total', help: 'Interruption notices agents read from their cloud (Spot interruption, preemption); each agent counted once',
    labelNames: ['provider', 'action'], registers: [this.registry],
  });
  readonly allocationRound = new Histogram({
    name: 'spillway_allocation_round_seconds', help: 'Duration of one allocation round (pure engine)',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [this.registry],
  });
  readonly agents = new Gauge({ name: 'spillway_agents', help: 'Registered agents by state', labelNames: ['state'], registers: [this.registry] });
  readonly frameworks = new Gauge({ name: 'spillway_frameworks', help: 'Frameworks by connection', labelNames: ['state'], registers: [this.registry] });
  readonly tasks = new Gauge({ name: 'spillway_tasks', help: 'Tasks the master tracks (not yet completed)', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'spillway_master_' });
  }
}
