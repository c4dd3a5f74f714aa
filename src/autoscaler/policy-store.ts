// Versioned autoscaling policies in the master's Redis. Every apply validates first and, only if
// the text is valid, writes a new version through the Store's fenced batch: the capped list
// `policy_versions` (newest first) holds the last MAX_POLICY_VERSIONS versions, each with its
// number, the validated policy (defaults filled in), when it was applied, a digest and the exact
// source text. Its head is the current policy; version numbers only go up.
import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../common/clock.ts';
import type { Store, WriteOp } from '../store/store.ts';
import { formatProblem, validatePolicy, type Policy, type PolicyProblem } from './policy-schema.ts';

export const POLICY_LIST = 'policy_versions' as const;
/** Versions kept (the current one included). */
export const MAX_POLICY_VERSIONS = 20;

export interface PolicyVersion {
  version: number;
  /** ISO 8601, when the master stored it. */
  appliedAt: string;
  /** sha256 of the source text, hex. */
  sha256: string;
  /** The file name the client gave, if any (informational). */
  file?: string;
  /** The text exactly as applied (YAML or JSON). */
  source: string;
  /** The validated policy, defaults filled in: what the planner uses. */
  policy: Policy;
  /** Warnings the validation gave when this version was applied. */
  warnings: PolicyProblem[];
}

/** A line of `GET /v1/policies`: a version without its source and policy. */
export interface PolicyVersionSummary {
  version: number;
  appliedAt: string;
  sha256: string;
  file?: string;
  pools: string[];
  current: boolean;
}

export class InvalidPolicyError extends Error {
  constructor(readonly problems: PolicyProblem[]) {
    super(`invalid policy:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'InvalidPolicyError';
  }
}

export interface PolicyStoreOptions {
  /** How to write (the master passes its fenced `persist`); default `store.write`. */
  write?: (ops: WriteOp[]) => Promise<void>;
  clock?: Clock;
}

/** Applies are serialised per Store so two at once cannot take the same version number. */
const applying = new WeakMap<Store, Promise<unknown>>();

export const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

export class PolicyStore {
  private readonly write: (ops: WriteOp[]) => Promise<void>;
  private readonly clock: Clock;

  constructor(private readonly store: Store, opts: PolicyStoreOptions = {}) {
    this.write = opts.write ?? ((ops) => store.write(ops));
    this.clock = opts.clock ?? systemClock;
  }

  /** The current policy version, or undefined if none was ever applied. */
  async current(): Promise<PolicyVersion | undefined> {
    const [head] = await this.store.readList(POLICY_LIST, 1);
    return head as PolicyVersion | undefined;
  }

  /** The versions kept, newest first. */
  async history(): Promise<PolicyVersion[]> {
    return (await this.store.readList(POLICY_LIST, MAX_POLICY_VERSIONS)) as PolicyVersion[];
  }

  /** One kept version; undefined if it never existed or is older than the versions kept. */
  async version(n: number): Promise<PolicyVersion | undefined> {
    return (await this.history()).find((v) => v.version === n);
  }

  async summaries(): Promise<PolicyVersionSummary[]> {
    return (await this.history()).map((v, i) => summarise(v, i === 0));
  }

  /**
   * Validates `text` and stores it as the next version. Throws InvalidPolicyError (nothing
   * written) when the text does not validate. `file` names the text in error messages.
   */
  apply(text: string, opts: { file?: string; errorFile?: string } = {}): Promise<PolicyVersion> {
    const checked = validatePolicy(text, opts.errorFile ?? opts.file ?? '(policy)');
    if (!checked.valid) return Promise.reject(new InvalidPolicyError(checked.errors));
    const previous = applying.get(this.store) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(async () => {
      const current = await this.current();
      const record: PolicyVersion = {
        version: (current?.version ?? 0) + 1,
        appliedAt: new Date(this.clock.now()).toISOString(),
        sha256: digest(text),
        ...(opts.file ? { file: opts.file } : {}),
        source: text,
        policy: checked.policy,
        warnings: checked.warnings,
      };
      await this.write([{ op: 'append', list: POLICY_LIST, value: record, max: MAX_POLICY_VERSIONS }]);
      return record;
    });
    applying.set(this.store, next);
    return next;
  }
}

export function summarise(v: PolicyVersion, current: boolean): PolicyVersionSummary {
  return { version: v.version, appliedAt: v.appliedAt, sha256: v.sha256, ...(v.file ? { file: v.file } : {}), pools: v.policy.pools.map((p) => p.name), current };
}

/** The policy in force (for the planner), or undefined when none has been applied. */
export async function currentPolicy(store: Store): Promise<PolicyVersion | undefined> {
  return new PolicyStore(store).current();
}
