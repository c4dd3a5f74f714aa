// Benchmark of the pure accounting engines (no Redis): the write path — cost model, sample and
// hourly rollup for every agent every interval — and a report over the rollups of a month.
//
//   npm run bench:report                                  # 1,000 agents × 30 days of 60 s samples, by pool,day
//   npm run bench:report -- --agents 200 --days 7 --by ownership,hour
//
// The agents are spread over 10 pools (owned static racks, owned amortised, rented on-demand and
// spot), with 0–3 (role, framework) allocations that change every hour (seeded, reproducible).
// Samples stream hour by hour and are never held: only one hour's rollup lives at a time, as in
// the master. The month's rollups are kept in their stored (string) form, standing in for Redis;
// reports parse them back row by row, as the master does from Redis, and hold only the groups.
// Prints one JSON line.
import { cpus } from 'node:os';
import { PolicySchema } from '../src/autoscaler/policy-schema.ts';
import { prng, int, pick } from '../src/common/seeded-random.ts';
import { classifyAgent } from '../src/accounting/pool-match.ts';
import { buildSample, type AgentSnapshot, type TaskSnapshot } from '../src/accounting/sample.ts';
import { HOUR, HourRollup, rollupRow } from '../src/accounting/rows.ts';
import { ReportBuilder } from '../src/accounting/report-engine.ts';
import { parseGroupings } from '../src/accounting/report-query.ts';
import { costModelOf } from '../src/accounting/sampler.ts';
import { selfCpuMs } from './lib/cpu.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const AGENTS = Number(arg('agents', '1000'));
const DAYS = Number(arg('days', '30'));
const INTERVAL = Number(arg('interval', '60'));
const BY = parseGroupings(arg('by', 'pool,day'));

const policy = PolicySchema.parse({
  pools: [
    ...[0, 1, 2].map((i) => ({
      name: `rack-${i}`, provider: 'local', ownership: 'owned', max: 200, costPerHour: 0.2 + i * 0.05,
      instanceTypes: [{ name: 'metal-32', cpus: 32, mem: 131072 }],
    })),
    { name: 'dc-gpu', provider: 'local', ownership: 'owned', max: 50, amortisation: { purchasePrice: 40000, lifeYears: 4, powerPerHour: 0.3, spacePerHour: 0.1 }, instanceTypes: [{ name: 'gpu-box', cpus: 32, mem: 262144, gpus: 4 }] },
    ...['us-east-1', 'eu-west-1', 'ap-south-1'].map((region) => ({
      name: `od-${region}`, provider: 'aws-ec2', ownership: 'rented', max: 200, aws: { region, amiId: 'ami-1' },
      instanceTypes: [{ name: 'm5.xlarge', cpus: 4, mem: 16384, price: 0.192 }, { name: 'm5.4xlarge', cpus: 16, mem: 65536, price: 0.768 }],
    })),
    ...['us-east-1', 'eu-west-1', 'ap-south-1'].map((region) => ({
      name: `spot-${region}`, provider: 'aws-ec2', ownership: 'rented', capacityType: 'spot', max: 200, aws: { region, amiId: 'ami-1' },
      instanceTypes: [{ name: 'm5.xlarge', cpus: 4, mem: 16384, price: 0.192, spotPrice: 0.07 }, { name: 'm5.4xlarge', cpus: 16, mem: 65536, price: 0.768, spotPrice: 0.28 }],
    })),
  ],
  budget: { perHour: 1000 },
});
const model = costModelOf(policy);
const rand = prng(42);
const ROLES = ['web', 'batch', 'ml', 'etl', 'ads/backend', 'ads/frontend'];
const start = Date.UTC(2026, 9, 1);

const agents: AgentSnapshot[] = Array.from({ length: AGENTS }, (_, i) => {
  const pool = policy.pools[i % policy.pools.length];
  const type = pick(rand, pool.instanceTypes);
  return {
    id: `agent-${i}`, hostname: `host-${i}`, attributes: { pool: pool.name, instance_type: type.name, instance: `i-${i.toString(16)}` },
    total: { cpus: type.cpus, mem: type.mem, gpus: type.gpus ?? 0 }, registeredAt: start - HOUR, tasks: [],
  };
});
const classes = agents.map((a) => classifyAgent(a, policy.pools));

/** This hour's allocations of an agent: 0–3 (role, framework) groups, at most the agent. */
function tasksFor(a: AgentSnapshot): TaskSnapshot[] {
  const n = int(rand, 0, 3);
  const out: TaskSnapshot[] = [];
  for (let k = 0; k < n; k++) {
    const role = pick(rand, ROLES);
    out.push({ role, frameworkId: `fw-${role}`, frameworkName: role, running: true, allocated: { cpus: a.total.cpus / 4, mem: a.total.mem / 4, gpus: a.total.gpus ? 1 : 0 } });
  }
  return out;
}

const heap = (): number => process.memoryUsage().heapUsed / 2 ** 20;
let peakHeap = heap();
const stored: { hour: number; fields: [string, string][] }[] = [];
const hours = DAYS * 24;
const perHour = 3600 / INTERVAL;
let samples = 0;
let rollupRows = 0;

const writeCpu0 = selfCpuMs();
const write0 = performance.now();
for (let h = 0; h < hours; h++) {
  const hour = start + h * HOUR;
  const rollup = new HourRollup(hour);
  const snaps = agents.map((a) => ({ ...a, tasks: tasksFor(a) }));
  for (let k = 0; k < perHour; k++) {
    const s0 = hour + k * INTERVAL * 1000;
    for (let i = 0; i < snaps.length; i++) {
      const s = buildSample(snaps[i], classes[i], s0, INTERVAL, model);
      if (!s) continue;
      samples++;
      rollup.addSample(s);
    }
  }
  const fields = rollup.fields();
  rollupRows += fields.length;
  stored.push({ hour, fields });
  if (h % 24 === 0) peakHeap = Math.max(peakHeap, heap());
}
const writeMs = performance.now() - write0;
const writeCpuMs = selfCpuMs() - writeCpu0;
const storedBytes = stored.reduce((a, h) => a + h.fields.reduce((b, [k, v]) => b + k.length + v.length, 0), 0);

const runs: number[] = [];
let groups = 0;
let total = 0;
for (let run = 0; run < 3; run++) {
  const t0 = performance.now();
  const b = new ReportBuilder({ from: start, to: start + hours * HOUR, by: BY });
  const dims = new Map();
  for (const h of stored) for (const [k, v] of h.fields) b.add(rollupRow(h.hour, k, v, dims));
  const r = b.result();
  runs.push(performance.now() - t0);
  groups = r.groups.length;
  total = r.total.cost;
  peakHeap = Math.max(peakHeap, heap());
}
runs.sort((a, b) => a - b);

process.stdout.write(`${JSON.stringify({
  bench: 'report',
  agents: AGENTS, days: DAYS, intervalSeconds: INTERVAL, by: BY,
  samples, rollupRows, rollupBytes: storedBytes, bytesPerRollupRow: Math.round(storedBytes / Math.max(1, rollupRows)),
  write: { ms: Math.round(writeMs), cpuMs: Math.round(writeCpuMs), samplesPerSecond: Math.round(samples / (writeMs / 1000)), usPerSample: Number((writeMs * 1000 / samples).toFixed(3)) },
  report: { runs: 3, minMs: Math.round(runs[0]), medianMs: Math.round(runs[1]), rowsPerSecond: Math.round(rollupRows / (runs[1] / 1000)), groups, totalCost: Number(total.toFixed(2)) },
  peakHeapMB: Math.round(peakHeap),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  date: new Date().toISOString(),
})}\n`);
