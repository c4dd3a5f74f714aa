// The contract between the autoscaler and anything that can get or give back machines. One file,
// like Cluster Autoscaler's cloud_provider.go: every method says whether it is required and what
// the autoscaler may rely on. Implementations live one folder each: local/, static/, aws-ec2/,
// gcp-compute/. Errors are the typed ones in errors.ts, so the planner can reason about them.

export type CapacityType = 'on-demand' | 'spot' | 'owned';
export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'terminated' | 'unknown';

export interface Instance {
  /** Provider-unique id (EC2 instance id, GCE instance name, static machine name, local pid-based id). */
  readonly id: string;
  readonly pool: string;
  readonly provider: string;
  readonly instanceType: string;
  readonly capacityType: CapacityType;
  readonly zone: string;
  readonly state: InstanceState;
  /** Milliseconds since the epoch. */
  readonly launchedAt: number;
  readonly privateAddress?: string;
}

export interface LaunchSpec {
  /** Caller-given idempotency token: the same token never launches twice, even across crashes. */
  readonly token: string;
  readonly instanceType: string;
  readonly capacityType?: 'on-demand' | 'spot';
  readonly zone?: string;
  /** cloud-init user-data (plain text; providers encode it as their API needs). */
  readonly userData?: string;
  /**
   * The single-use join token inside `userData`, for providers that start agents themselves
   * rather than booting user-data (local): they hand it to the agent directly.
   */
  readonly joinToken?: string;
}

export interface Price {
  readonly instanceType: string;
  readonly zone: string;
  readonly capacityType: CapacityType;
  /** Currency units per hour. */
  readonly hourly: number;
}

export interface InterruptionNotice {
  readonly instanceId: string;
  readonly pool: string;
  /** When the provider will take the instance back (ms since epoch). */
  readonly deadline: number;
  readonly reason: string;
}

export interface Provider {
  /** Provider kind, e.g. 'aws-ec2'. */
  readonly kind: string;

  /**
   * REQUIRED. Starts `count` instances for `pool`. Idempotent under `spec.token`: calling again with
   * the same token returns the same instances and starts nothing new. Throws typed errors
   * (InsufficientCapacityError, QuotaExceededError, AuthError, InvalidConfigError …).
   */
  launch(pool: string, count: number, spec: LaunchSpec): Promise<Instance[]>;

  /** REQUIRED. Stops (gives back) instances. Idempotent: unknown or already gone ids are fine. */
  terminate(ids: readonly string[]): Promise<void>;

  /**
   * REQUIRED. Every instance this cluster owns in `pool` (tagged/labelled for this cluster and
   * pool), across all pages. Instances of other clusters or pools never appear.
   */
  list(pool: string): Promise<Instance[]>;

  /** REQUIRED. On-demand and spot (or owned) prices per instance type and zone for the pool. */
  prices(pool: string): Promise<Price[]>;

  /** OPTIONAL. Interruption notices (spot reclaim) currently known for the pool. */
  interruptions?(pool: string): Promise<InterruptionNotice[]>;
}
