// Prometheus metrics of the autoscaler, on the master's registry (served at /metrics). Made once
// per registry, so the loop and the workers of one process share them.
import { Counter, type Registry } from 'prom-client';

export interface AutoscalerMetrics {
  evaluations: Counter<'outcome'>;
  launches: Counter<'pool'>;
  launchFailures: Counter<'pool' | 'reason'>;
  bootTimeouts: Counter<'pool'>;
  drains: Counter<'pool' | 'why'>;
  releases: Counter<'pool'>;
  findings: Counter<'kind'>;
  interruptions: Counter<'pool' | 'source'>;
}

const byRegistry = new WeakMap<Registry, AutoscalerMetrics>();

export function autoscalerMetrics(registry: Registry): AutoscalerMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const registers = [registry];
  const m: AutoscalerMetrics = {
    evaluations: new Counter({ name: 'spillway_autoscaler_evaluations_total', help: 'Autoscaler evaluations, by outcome (changed, unchanged, failed)', labelNames: ['outcome'], registers }),
    launches: new Counter({ name: 'spillway_autoscaler_launches_total', help: 'Instances launched or powered on, by pool', labelNames: ['pool'], registers }),
    launchFailures: new Counter({ name: 'spillway_autoscaler_launch_failures_total', help: 'Launch jobs that failed, by pool and error kind', labelNames: ['pool', 'reason'], registers }),
    bootTimeouts: new Counter({ name: 'spillway_autoscaler_boot_timeouts_total', help: 'Instances terminated because no agent registered in time, by pool', labelNames: ['pool'], registers }),
    drains: new Counter({ name: 'spillway_autoscaler_drains_total', help: 'Agents drained, by pool and why (scale-down, interruption)', labelNames: ['pool', 'why'], registers }),
    releases: new Counter({ name: 'spillway_autoscaler_releases_total', help: 'Instances released (terminated or powered off), by pool', labelNames: ['pool'], registers }),
    findings: new Counter({ name: 'spillway_autoscaler_reconciler_findings_total', help: 'Reconciler findings, by kind', labelNames: ['kind'], registers }),
    interruptions: new Counter({ name: 'spillway_autoscaler_interruptions_total', help: 'Spot interruption notices handled, by pool and source', labelNames: ['pool', 'source'], registers }),
  };
  byRegistry.set(registry, m);
  return m;
}
