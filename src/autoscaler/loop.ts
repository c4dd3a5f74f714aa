// The leader's autoscaler loop: every `intervalMs` — and soon after the demand changes — gather
// the inputs, evaluate (evaluate.ts, pure), act on the result and append the decision record.
// Acting means writing records and queueing jobs; the jobs themselves run in the WorkerPool of
// any replica. `dryRun()` gathers and evaluates the same way and changes nothing (GET /v1/plan).
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { Instance, InterruptionNotice, Price } from '../../providers/provider.ts';
import type { ClusterSource } from './cluster-source.ts';
import { DecisionLog } from './decision-log.ts';
import { evaluate, typePrice, type Evaluation, type EvaluationInputs } from './evaluate.ts';
import { LeaderClient } from './leader-client.ts';
import { autoscalerMetrics, type AutoscalerMetrics } from './metrics.ts';
import type { PolicyProviders } from './providers.ts';
import type { AutoscalerQueues } from './queues.ts';
import { AutoscalerRecords, type InterruptionRecord } from './records.ts';

export interface LoopDeps {
  source: ClusterSource;
  redis: Redis;
  cluster: string;
  clock: Clock;
  providers: PolicyProviders;
  queues: AutoscalerQueues;
  /** The leader's base URL: the loop's own operator calls (REACTIVATE_AGENT) go through its API. */
  leaderUrl: () => string;
  log: Logger;
  metrics: Registry;
  /** Time between evaluations (default 10 s). */
  intervalMs?: number;
  /** How often the demand is checked for changes (default 500 ms). */
  demandCheckMs?: number;
  /** Provider price lists are fetched again after this long (default 10 min). */
  priceTtlMs?: number;
}

/** Records whose last change is older than this are pruned. */
const KEEP_FINISHED_MS = 24 * 3_600_000;
const PROVIDER_CALL_TIMEOUT_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`${what} took longer than ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

export class AutoscalerLoop {
  readonly records: AutoscalerRecords;
  readonly decisions: DecisionLog;
  private readonly m: AutoscalerMetrics;
  private readonly leader: LeaderClient;
  private timers: NodeJS.Timeout[] = [];
  private dueTimer: NodeJS.Timeout | undefined;
  private running: Promise<Evaluation | undefined> | undefined;
  private again = false;
  private lastSignature = '';
  private prices = new Map<string, { at: number; prices: Price[] }>();
  private started = false;

  constructor(private readonly deps: LoopDeps) {
    this.records = new AutoscalerRecords(deps.redis, deps.cluster);
    this.decisions = new DecisionLog(deps.redis, deps.cluster);
    this.m = autoscalerMetrics(deps.metrics);
    this.leader = new LeaderClient(deps.leaderUrl);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.lastSignature = this.deps.source.demandSignature();
    this.timers.push(setInterval(() => this.poke(), this.deps.intervalMs ?? 10_000));
    this.timers.push(setInterval(() => {
      const sig = this.deps.source.demandSignature();
      if (sig !== this.lastSignature) {
        this.lastSignature = sig;
        this.poke();
      }
    }, this.deps.demandCheckMs ?? 500));
    this.poke();
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.dueTimer) clearTimeout(this.dueTimer);
    await this.running?.catch(() => {});
  }

  /** Evaluates soon (once; a call while one runs makes one more run after it). */
  poke(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.evaluateOnce().catch((e) => this.deps.log.error({ err: e }, 'autoscaler evaluation failed'));
  }

  /** One evaluation that acts: gather, evaluate, execute, record. */
  evaluateOnce(): Promise<Evaluation | undefined> {
    if (this.running) return this.running.then(() => this.evaluateOnce());
    const run = (async () => {
      try {
        const { inputs, providerNotices } = await this.gather();
        const ev = evaluate(inputs);
        await this.execute(ev, inputs, providerNotices);
        this.m.evaluations.inc({ outcome: ev.launches.length || ev.drains.length || ev.findings.some((f) => f.kind !== 'registered') ? 'changed' : 'unchanged' });
        this.scheduleDue(ev.nextDueAt);
        return ev;
      } catch (e) {
        this.m.evaluations.inc({ outcome: 'failed' });
        throw e;
      }
    })();
    this.running = run;
    return run.finally(() => {
      this.running = undefined;
      if (this.again && this.started) {
        this.again = false;
        this.poke();
      }
    });
  }

  /** What an evaluation would do now; writes nothing, queues nothing. */
  async dryRun(): Promise<Evaluation> {
    const { inputs } = await this.gather();
    return evaluate(inputs);
  }

  private scheduleDue(at: number | undefined): void {
    if (at === undefined || !this.started) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = setTimeout(() => { this.dueTimer = undefined; this.poke(); }, Math.max(10, at - this.deps.clock.now() + 10));
  }

  // ---- gather ----------------------------------------------------------------------------------------

  /** Reads everything an evaluation needs. Writes nothing. */
  async gather(): Promise<{ inputs: EvaluationInputs; providerNotices: InterruptionRecord[] }> {
    const now = this.deps.clock.now();
    const cur = await this.deps.providers.current();
    const r = this.records;
    const [records, launches, backoff, launchesInLastMinute, meta, generations, notices] = await Promise.all([
      r.instances(), r.launches(), r.backoff(), r.launchesSince(now - 60_000), r.meta(), r.generations(), r.notices(),
    ]);
    const inventory: Record<string, Instance[]> = {};
    const inventoryErrors: Record<string, string> = {};
    const prices: Record<string, Price[]> = {};
    const providerNotices: InterruptionRecord[] = [];
    if (cur) {
      await Promise.all(cur.policy.policy.pools.map(async (pool) => {
        const provider = cur.providers.forPool(pool.name);
        try {
          inventory[pool.name] = await withTimeout(provider.list(pool.name), PROVIDER_CALL_TIMEOUT_MS, `listing pool ${pool.name}`);
        } catch (e) {
          inventoryErrors[pool.name] = (e as Error).message;
        }
        const cached = this.prices.get(pool.name);
        if (cached && now - cached.at < (this.deps.priceTtlMs ?? 600_000)) prices[pool.name] = cached.prices;
        else {
          try {
            prices[pool.name] = await withTimeout(provider.prices(pool.name), PROVIDER_CALL_TIMEOUT_MS, `prices of pool ${pool.name}`);
            this.prices.set(pool.name, { at: now, prices: prices[pool.name] });
          } catch { /* the pool file's price book is used */ }
        }
        if (provider.interruptions) {
          try {
            const list: InterruptionNotice[] = await withTimeout(provider.interruptions(pool.name), PROVIDER_CALL_TIMEOUT_MS, `interruptions of pool ${pool.name}`);
            for (const n of list) {
              if (notices.some((x) => x.instanceId === n.instanceId)) continue;
              providerNotices.push({ instanceId: n.instanceId, pool: n.pool, deadline: n.deadline, reason: n.reason, source: 'provider', receivedAt: now });
            }
          } catch { /* asked again next time */ }
        }
      }));
    }
    const inputs: EvaluationInputs = {
      now, policy: cur?.policy.policy, ...(cur ? { policyVersion: cur.policy.version } : {}),
      demands: this.deps.source.demands(), agents: this.deps.source.agents(), heldAgents: this.deps.source.heldAgents(),
      records, launches, inventory, inventoryErrors, prices, backoff, launchesInLastMinute,
      lastScaleUpAt: meta.lastScaleUpAt, ...(meta.lastScaleDownAt !== undefined ? { lastScaleDownAt: meta.lastScaleDownAt } : {}),
      unneeded: meta.unneeded, generations, notices: [...notices, ...providerNotices],
    };
    return { inputs, providerNotices };
  }

  // ---- execute -----------------------------------------------------------------------------------------

  private async execute(ev: Evaluation, inputs: EvaluationInputs, providerNotices: InterruptionRecord[]): Promise<void> {
    const { now } = ev;
    const r = this.records;
    const log = this.deps.log;
    for (const x of ev.registered) {
      // Reactivated first: if that fails, the record stays booting and the next evaluation tries again.
      if (x.reactivate) {
        try {
          await this.leader.reactivate(x.agentId);
        } catch (e) {
          log.warn({ agentId: x.agentId, instance: x.instanceId, err: (e as Error).message }, 'reactivating a powered-on machine\'s agent failed; tried again next evaluation');
          continue;
        }
      }
      await r.updateInstance(x.instanceId, (rec) => (rec.state === 'booting' ? { ...rec, state: 'running', agentId: x.agentId, registeredAt: now, updatedAt: now } : undefined));
    }
    for (const n of providerNotices) {
      if (!(await r.recordNotice(n))) continue;
      this.m.interruptions.inc({ pool: n.pool, source: n.source });
      await this.decisions.append({
        kind: 'interruption', at: now, summary: `interruption notice for instance ${n.instanceId} of pool ${n.pool} from the provider: ${n.reason}`,
        actions: [], notes: [`taken back at ${new Date(n.deadline).toISOString()}`],
      });
    }
    await this.actOnFindings(ev, now);
    for (const l of ev.launches) {
      if (!(await r.recordLaunch(l, now))) continue;
      await this.deps.queues.addLaunch(l);
      await r.setScaledUp(l.pool, now);
      log.info({ pool: l.pool, instanceType: l.instanceType, count: l.count, jobId: l.jobId }, 'launch queued');
    }
    // A launch recorded by a loop that died before queueing it is queued now (same id: one job).
    for (const l of inputs.launches) if (l.state === 'queued' && now - l.createdAt > 5_000) await this.deps.queues.addLaunch(l);
    let scaledDown = false;
    for (const d of ev.drains) {
      if (d.instanceId) {
        await r.updateInstance(d.instanceId, (rec) => (['booting', 'running'].includes(rec.state) ? { ...rec, state: 'draining', updatedAt: now } : undefined));
      }
      const pool = inputs.policy?.pools.find((p) => p.name === d.pool);
      await this.deps.queues.addDrain({ ...d, markGone: pool?.ownership === 'rented' });
      if (!d.urgent) scaledDown = true;
      log.info({ agentId: d.agentId, instance: d.instanceId, urgent: d.urgent }, 'drain queued');
    }
    if (scaledDown) await r.setScaledDown(now);
    await r.setUnneeded(ev.unneeded);
    await this.decisions.append(ev.decision);
    if (Math.random() < 0.05) {
      await r.pruneLaunches(now - KEEP_FINISHED_MS);
      await r.pruneInstances(now - KEEP_FINISHED_MS);
    }
  }

  private async actOnFindings(ev: Evaluation, now: number): Promise<void> {
    const r = this.records;
    const cur = await this.deps.providers.current();
    for (const f of ev.findings) {
      if (f.kind === 'registered') continue;
      this.m.findings.inc({ kind: f.kind });
      try {
        if (f.kind === 'boot-timeout') {
          await cur?.providers.forPool(f.pool).terminate([f.instanceId]);
          const next = await r.updateInstance(f.instanceId, (x) => (x.state === 'booting' ? { ...x, state: 'failed', reason: f.reason, updatedAt: now } : undefined));
          if (!next) continue;
          const b = await r.backOff(f.pool, f.instanceType, 'boot timeout: no agent registered', now);
          this.m.bootTimeouts.inc({ pool: f.pool });
          await this.decisions.append({
            kind: 'boot-timeout', at: now, summary: f.reason,
            actions: [{ type: 'terminate', pool: f.pool, instanceType: f.instanceType, instanceId: f.instanceId, reason: f.reason }],
            notes: [`pool ${f.pool} type ${f.instanceType} backs off until ${new Date(b.until).toISOString()}`],
          });
        } else if (f.kind === 'vanished') {
          // Stopped, not gone: terminated first (a failure leaves the record live, to try again).
          if (f.terminate) await cur?.providers.forPool(f.pool).terminate([f.instanceId]);
          await r.updateInstance(f.instanceId, (x) => ({ ...x, state: f.terminate ? 'released' : 'vanished', ...(f.terminate ? { releasedAt: now } : {}), reason: f.reason, updatedAt: now }));
          if (f.agentId) await this.deps.source.markAgentGone(f.agentId, f.reason);
          await r.dropNotice(f.instanceId);
          await this.decisions.append({
            kind: 'vanished', at: now, summary: f.reason,
            actions: [
              ...(f.terminate ? [{ type: 'terminate', pool: f.pool, instanceId: f.instanceId, reason: f.reason }] : []),
              { type: 'mark-gone', pool: f.pool, instanceId: f.instanceId, ...(f.agentId ? { agentId: f.agentId } : {}), reason: f.reason },
            ],
            notes: ['its tasks are reported lost; the demand they leave is planned again'],
          });
        } else {
          const i = f.instance;
          if (f.action === 'terminate') await cur?.providers.forPool(i.pool).terminate([i.id]);
          else {
            const pool = cur?.policy.policy.pools.find((p) => p.name === i.pool);
            // Priced like its type, so that it counts against the budget and scale-down ranks it right.
            const unitPrice = pool ? typePrice(pool, i.instanceType, this.prices.get(pool.name)?.prices) : 0;
            await r.putInstances([{
              instanceId: i.id, pool: i.pool, instanceType: i.instanceType, ownership: pool?.ownership ?? 'rented',
              capacityType: i.capacityType, unitPrice, jobId: '', state: 'booting', launchedAt: now, updatedAt: now, reason: 'adopted by the reconciler',
            }]);
          }
          await this.decisions.append({
            kind: 'unknown-instance', at: now, summary: f.reason,
            actions: [{ type: f.action, pool: i.pool, instanceId: i.id, reason: f.reason }], notes: [],
          });
        }
      } catch (e) {
        this.deps.log.warn({ finding: f.kind, err: (e as Error).message }, 'reconciler action failed; it is tried again next evaluation');
      }
    }
  }
}
