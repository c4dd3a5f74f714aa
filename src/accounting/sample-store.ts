// Accounting in Redis (all keys under the cluster's `{spillway:<cluster>}:` hash tag):
//
//   acct:s:<hour>   hash  agent@intervalStart → sample JSON      expires hour + 1 h + sample retention
//   acct:h:<hour>   hash  all row dimensions → summed measures   expires hour + 1 h + retention
//   acct:pending    zset  hour → samples written since its rollup
//   acct:cursor     string  end of the last interval sampled (ms)
//   acct:waits      zset  satisfied-at → demand wait JSON         trimmed to the retention
//   acct:since      string  start of the first interval ever sampled (ms)
//   acct:gaps       zset  gap end → "from-to": stretches the sampler skipped   trimmed to the retention
//   acct:retention  zset  since → {retentionMs, sampleRetentionMs} the samplers wrote with  last 50
//
// Samples are written once (HSETNX: the first write of an (agent, interval) wins, so two masters or
// a restart never count an interval twice). An hour's rollup is a pure function of its samples,
// committed only if no sample arrived while it was computed, so rolling twice is rolling once.
// Reports read what the read plan names (coverage.ts): an hour's rollup when the hour lies wholly
// inside the window and is rolled up, and its samples otherwise (window edges, the current hour) —
// never both.
import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import { planRead, type ReadPlan, type ReadStep, type RetentionSetting, type Window } from './coverage.ts';
import { HOUR, HourRollup, hourOf, rollupRow, sampleRows, type RowDims, type UsageRow } from './rows.ts';
import type { Sample } from './sample.ts';
import type { WaitSample } from './summary.ts';

const WRITE_SAMPLES = readFileSync(new URL('./lua/write-samples.lua', import.meta.url), 'utf8');
const COMMIT_ROLLUP = readFileSync(new URL('./lua/commit-rollup.lua', import.meta.url), 'utf8');

declare module 'ioredis' {
  interface RedisCommander<Context> {
    acctWriteSamples(numKeys: number, ...args: (string | number)[]): Result<number, Context>;
    acctCommitRollup(numKeys: number, ...args: (string | number)[]): Result<number, Context>;
  }
}

export interface RetentionOptions {
  /** How long hourly rollups (what reports read) are kept, ms. */
  retentionMs: number;
  /** How long per-interval samples are kept, ms (window edges finer than an hour need them). */
  sampleRetentionMs: number;
}

const SAMPLES_PER_CALL = 2000;

/** Milliseconds from `now` until `at`, at least 1 (PEXPIRE with 0 or less would delete at once). */
const ttl = (at: number, now: number): number => Math.max(1, Math.round(at - now));

export class SampleStore {
  constructor(private readonly redis: Redis, private readonly prefix: string, readonly retention: RetentionOptions) {
    redis.defineCommand('acctWriteSamples', { lua: WRITE_SAMPLES });
    redis.defineCommand('acctCommitRollup', { lua: COMMIT_ROLLUP });
  }

  private key(name: string): string {
    return `${this.prefix}acct:${name}`;
  }

  sampleKey = (hour: number): string => this.key(`s:${hour}`);
  rollupKey = (hour: number): string => this.key(`h:${hour}`);

  async cursor(): Promise<number | undefined> {
    const v = await this.redis.get(this.key('cursor'));
    return v === null ? undefined : Number(v);
  }

  /**
   * Writes samples (each once) and moves the cursor to `cursor`; returns how many were new. Keys
   * expire relative to `now` (the master's clock), so retention follows the clock the samples use.
   */
  async writeSamples(samples: readonly Sample[], cursor: number, now: number): Promise<number> {
    let written = 0;
    for (let i = 0; i < samples.length || i === 0; i += SAMPLES_PER_CALL) {
      const chunk = samples.slice(i, i + SAMPLES_PER_CALL);
      const keys = [this.key('pending'), this.key('cursor')];
      const index = new Map<number, number>();
      const args: (string | number)[] = [i + SAMPLES_PER_CALL >= samples.length ? cursor : 0];
      for (const s of chunk) {
        const hour = hourOf(s.start);
        let k = index.get(hour);
        if (k === undefined) {
          keys.push(this.sampleKey(hour));
          index.set(hour, (k = keys.length));
        }
        args.push(k, `${s.agent}@${s.start}`, JSON.stringify(s), ttl(hour + HOUR + this.retention.sampleRetentionMs, now), String(hour));
      }
      written += await this.redis.acctWriteSamples(keys.length, ...keys, ...args);
    }
    return written;
  }

  /** Hours with samples not yet rolled up, with the pending score the roll must match. */
  async pendingHours(): Promise<{ hour: number; score: string }[]> {
    const flat = await this.redis.zrange(this.key('pending'), '0', '-1', 'WITHSCORES');
    const out: { hour: number; score: string }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ hour: Number(flat[i]), score: String(Number(flat[i + 1])) });
    return out.sort((a, b) => a.hour - b.hour);
  }

  /** Streams an hour's samples. */
  async *samples(hour: number): AsyncGenerator<Sample> {
    const stream = this.redis.hscanStream(this.sampleKey(hour), { count: 1000 });
    for await (const batch of stream as AsyncIterable<string[]>) {
      for (let i = 1; i < batch.length; i += 2) yield JSON.parse(batch[i]) as Sample;
    }
  }

  /**
   * Rolls an hour up from its samples. Returns false when samples arrived meanwhile (try again),
   * true when committed; an hour whose samples have expired is dropped from the pending set.
   */
  async roll(hour: number, score: string, now: number): Promise<boolean> {
    const rollup = new HourRollup(hour);
    for await (const s of this.samples(hour)) rollup.addSample(s);
    const fields = rollup.fields().flat();
    const expire = ttl(hour + HOUR + this.retention.retentionMs, now);
    const committed = await this.redis.acctCommitRollup(2, this.key('pending'), this.rollupKey(hour), String(hour), score, expire, ...fields);
    return committed === 1;
  }

  /** Notes when sampling began, once for the cluster (the first sampler ever calls it). */
  async markSince(t: number): Promise<void> {
    await this.redis.set(this.key('since'), String(t), 'NX');
  }

  /**
   * Notes the retention this store writes with, when it differs from the last noted (a master
   * started with other settings): keys already written keep the expiry they were given, and read
   * plans must know it (coverage.ts).
   */
  async noteRetention(now: number): Promise<void> {
    const key = this.key('retention');
    const [last] = await this.redis.zrange(key, '-1', '-1');
    const mine = JSON.stringify({ retentionMs: this.retention.retentionMs, sampleRetentionMs: this.retention.sampleRetentionMs });
    if (last !== undefined && last.slice(last.indexOf('|') + 1) === mine) return;
    await this.redis.zadd(key, now, `${now}|${mine}`);
    await this.redis.zremrangebyrank(key, 0, -51);
  }

  private async retentionHistory(): Promise<RetentionSetting[]> {
    const raw = await this.redis.zrange(this.key('retention'), '0', '-1');
    return raw.map((m) => {
      const bar = m.indexOf('|');
      return { at: Number(m.slice(0, bar)), ...(JSON.parse(m.slice(bar + 1)) as Omit<RetentionSetting, 'at'>) };
    });
  }

  /** Records a stretch the sampler skipped, so reports can say they lack it. */
  async addGap(from: number, to: number): Promise<void> {
    await this.redis.zadd(this.key('gaps'), to, `${from}-${to}`);
  }

  /** What a report of the window can read, and which part of the window that covers. */
  /** `lagMs`: how far the sampler trails now in normal running (coverage.ts StoreState). */
  async plan(w: Window, now: number, lagMs: number): Promise<ReadPlan> {
    const [pending, cursor, since, gaps, retentionHistory] = await Promise.all([
      this.pendingHours(), this.cursor(), this.redis.get(this.key('since')),
      this.redis.zrangebyscore(this.key('gaps'), `(${hourOf(w.from)}`, '+inf'), // from the hour: a floating start may move back to it
      this.retentionHistory(),
    ]);
    return planRead(w, {
      now, lagMs, ...this.retention, retentionHistory, pending: new Set(pending.map((p) => p.hour)), cursor,
      ...(since !== null ? { since: Number(since) } : {}),
      gaps: gaps.map((g) => g.split('-').map(Number)).map(([from, to]) => ({ from, to })).filter((g) => g.from < w.to),
    });
  }

  /** The rows of a plan's steps, oldest first. */
  async *rows(steps: readonly ReadStep[]): AsyncGenerator<UsageRow[]> {
    const dims = new Map<string, RowDims>();
    for (const step of steps) {
      if (step.source === 'rollup') {
        const rows = await this.rollupRows(step.hour, dims);
        if (rows.length) yield rows;
        continue;
      }
      let rows: UsageRow[] = [];
      for await (const s of this.samples(step.hour)) {
        if (s.start < step.from || s.start >= step.to) continue;
        rows.push(...sampleRows(s));
        if (rows.length >= 5000) { yield rows; rows = []; }
      }
      if (rows.length) yield rows;
    }
  }

  private async rollupRows(hour: number, dims: Map<string, RowDims>): Promise<UsageRow[]> {
    const out: UsageRow[] = [];
    const stream = this.redis.hscanStream(this.rollupKey(hour), { count: 1000 });
    for await (const batch of stream as AsyncIterable<string[]>) {
      for (let i = 0; i < batch.length; i += 2) out.push(rollupRow(hour, batch[i], batch[i + 1], dims));
    }
    return out;
  }

  // ---- demand waits ---------------------------------------------------------------------------

  async addWaits(waits: readonly (WaitSample & { unit: string })[]): Promise<void> {
    if (!waits.length) return;
    const args: (string | number)[] = [];
    for (const w of waits) args.push(w.at, JSON.stringify([w.frameworkId, w.role, w.unit, w.since, w.at, w.units]));
    await this.redis.zadd(this.key('waits'), 'NX', ...args);
  }

  async waits(from: number, to: number): Promise<WaitSample[]> {
    const raw = await this.redis.zrangebyscore(this.key('waits'), from, `(${to}`);
    return raw.map((v) => {
      const [frameworkId, role, , since, at, units] = JSON.parse(v) as [string, string, string, number, number, number];
      return { frameworkId, role, since, at, units };
    });
  }

  /** Drops demand waits and recorded gaps that ended before `before`. */
  async trim(before: number): Promise<void> {
    await this.redis.zremrangebyscore(this.key('waits'), '-inf', `(${before}`);
    await this.redis.zremrangebyscore(this.key('gaps'), '-inf', `(${before}`);
  }
}
