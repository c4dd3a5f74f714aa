// Accounting metrics, on the master's registry (served at /metrics).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class AccountingMetrics {
  readonly samples: Counter;
  readonly gapSeconds: Counter;
  readonly pendingHours: Gauge;
  readonly roundSeconds: Histogram;
  readonly demandWaits: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.samples = new Counter({ name: 'spillway_accounting_samples_total', help: 'Accounting samples written (one per agent and interval)', registers });
    this.gapSeconds = new Counter({ name: 'spillway_accounting_gap_seconds_total', help: 'Seconds not sampled because they were older than the backfill limit', registers });
    this.pendingHours = new Gauge({ name: 'spillway_accounting_pending_hours', help: 'Hours with samples not yet rolled up', registers });
    this.roundSeconds = new Histogram({ name: 'spillway_accounting_round_seconds', help: 'Duration of one accounting round', buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    this.demandWaits = new Counter({ name: 'spillway_demand_units_satisfied_total', help: 'REQUEST demand units satisfied by launches (their waits are recorded)', registers });
  }
}
