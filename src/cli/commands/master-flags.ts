// Master tuning flags, shared by `spillway master` and `spillway up`; names follow Mesos' flags.
import type { Command } from 'commander';
import type { MasterConfig } from '../../master/master.ts';
import type { MasterProcessOptions } from '../../master/run-master.ts';
import { loadRateLimits, RateLimitsError } from '../../master/rate-limits.ts';
import { fail } from '../output.ts';
import { parseDurationSeconds } from '../duration.ts';
import { parseMinAllocatable, type MinAllocatable } from '../../../policies/allocation/min-allocatable.ts';
import { accountingFromFlags, addAccountingFlags, type AccountingFlags } from './accounting-flags.ts';
import { AGENT_AUTH_MODES, type AgentAuthMode } from '../../auth/agent-auth.ts';
import { IdentityError, IdentityVerifier } from '../../auth/instance-identity.ts';
import { gcpAudienceFor } from '../../bootstrap/bootstrap-service.ts';
import { systemClock } from '../../common/clock.ts';

export interface MasterFlags extends AccountingFlags {
  cluster: string;
  agentPingTimeout: string;
  maxAgentPingTimeouts: string;
  agentReregisterTimeout: string;
  allocationInterval: string;
  offerTimeout: string;
  heartbeatInterval: string;
  frameworkRecoveryTimeout: string;
  bodyLimit: string;
  rateLimits?: string;
  maxTaskLaunchesPerSecond?: string;
  fairSharingExcludedResourceNames: string;
  minAllocatableResources: string;
  optimisticOffers: string;
  maxAgentAge: string;
  maxUnreachableAgents: string;
  autoscaler: boolean;
  autoscalerInterval: string;
  autoscalerJobLock: string;
  providerStateDir?: string;
  agentAuth: string;
  awsIdentityCerts?: string;
  gcpIdentityJwks?: string;
}

export function addMasterFlags(cmd: Command): Command {
  return addAccountingFlags(cmd)
    .option('--cluster <name>', 'cluster name (namespaces Redis keys)', 'default')
    .option('--agent-ping-timeout <seconds>', 'interval at which agents must ping', '15')
    .option('--max-agent-ping-timeouts <n>', 'missed pings before an agent is removed', '5')
    .option('--max-agent-age <duration>', 'forget an agent unreachable this long (Mesos\' registry_max_agent_age); its PARTITION_AWARE tasks become TASK_GONE', '14d')
    .option('--max-unreachable-agents <n>', 'forget the oldest unreachable agents beyond this many (Mesos\' registry_max_agent_count)', '102400')
    .option('--agent-reregister-timeout <seconds>', 'after a master restart or failover, time agents get to re-register before they are removed', '600')
    .option('--allocation-interval <ms>', 'time between allocation rounds', '1000')
    .option('--offer-timeout <seconds>', 'rescind offers outstanding this long (0 = never)', '0')
    .option('--heartbeat-interval <seconds>', 'HEARTBEAT events to frameworks every', '15')
    .option('--framework-recovery-timeout <seconds>', 'after a restart, time frameworks get to re-subscribe', '120')
    .option('--body-limit <size>', 'largest accepted request body', '1mb')
    .option('--rate-limits <json>', "Mesos' --rate_limits: per-principal qps/capacity for scheduler calls, as JSON or file:///path")
    .option('--max-task-launches-per-second <n>', 'most task launches per second, master-wide (default unlimited)')
    .option('--fair-sharing-excluded-resource-names <names>', 'comma-separated resources left out of DRF shares, e.g. gpus', '')
    .option('--min-allocatable-resources <spec>', 'offer only when one alternative is free, e.g. "cpus:0.01|mem:32"', 'cpus:0.01|mem:32')
    .option('--optimistic-offers <n>', 'offer each free agent to up to n frameworks at once; first valid ACCEPT wins (0 = off)', '0')
    .option('--no-autoscaler', 'do not run the autoscaler (its loop and its job workers) in this master')
    .option('--autoscaler-interval <seconds>', 'time between autoscaler evaluations (it also evaluates soon after demand changes)', '10')
    .option('--autoscaler-job-lock <ms>', 'a provisioning job whose worker died is handed to another worker after about this long', '30000')
    .option('--provider-state-dir <dir>', 'where the local and static providers keep their state and instance work dirs (default .spillway/providers)')
    .option('--agent-auth <mode>', 'agents without a join token or credential: required = refused, loopback = only from loopback, optional = admitted', 'loopback')
    .option('--aws-identity-certs <file>', 'PEM certificates (AWS\'s per-region RSA certs) to verify EC2 instance identity documents of joining agents')
    .option('--gcp-identity-jwks <file|url>', 'JWKS (Google\'s, e.g. https://www.googleapis.com/oauth2/v3/certs) to verify GCE instance identity tokens of joining agents');
}

function durationFlag(flag: string, v: string): number {
  const seconds = parseDurationSeconds(v);
  if (typeof seconds === 'string') fail(`--${flag}: ${seconds}`);
  return seconds as number;
}

function wholeNumber(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--${flag}: '${v}' is not a whole number ≥ 0`);
  return n;
}

function minAllocatable(v: string): MinAllocatable {
  try {
    return parseMinAllocatable(v);
  } catch (e) {
    return fail(`--min-allocatable-resources: ${(e as Error).message}`);
  }
}

function positive(flag: string, v: string, allowZero = false): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) fail(`--${flag}: '${v}' is not a ${allowZero ? 'non-negative' : 'positive'} number`);
  return n;
}

export function masterConfigFromFlags(o: MasterFlags): Partial<MasterConfig> {
  if (!/^[A-Za-z0-9_.-]+$/.test(o.cluster)) fail(`--cluster: '${o.cluster}' may contain only letters, digits, '.', '_' and '-'`);
  return {
    cluster: o.cluster,
    agentPingIntervalSeconds: positive('agent-ping-timeout', o.agentPingTimeout),
    maxAgentPingTimeouts: positive('max-agent-ping-timeouts', o.maxAgentPingTimeouts),
    agentReregisterSeconds: positive('agent-reregister-timeout', o.agentReregisterTimeout, true),
    allocationIntervalMs: positive('allocation-interval', o.allocationInterval),
    offerTimeoutSeconds: positive('offer-timeout', o.offerTimeout, true),
    heartbeatIntervalSeconds: positive('heartbeat-interval', o.heartbeatInterval),
    frameworkRecoverySeconds: positive('framework-recovery-timeout', o.frameworkRecoveryTimeout, true),
    fairnessExcluded: o.fairSharingExcludedResourceNames.split(',').map((s) => s.trim()).filter(Boolean),
    minAllocatable: minAllocatable(o.minAllocatableResources),
    optimisticOffers: wholeNumber('optimistic-offers', o.optimisticOffers),
    maxAgentAgeSeconds: durationFlag('max-agent-age', o.maxAgentAge),
    maxUnreachableAgents: wholeNumber('max-unreachable-agents', o.maxUnreachableAgents),
  };
}

/** The process-level options (not MasterConfig) the flags set; exits with a message naming the field on error. */
export function masterProcessOptionsFromFlags(o: MasterFlags): Pick<MasterProcessOptions, 'rateLimits' | 'maxTaskLaunchesPerSecond' | 'autoscaler' | 'accounting' | 'agentAuth'> {
  const out: Pick<MasterProcessOptions, 'rateLimits' | 'maxTaskLaunchesPerSecond' | 'autoscaler' | 'accounting' | 'agentAuth'> = { accounting: accountingFromFlags(o) };
  out.autoscaler = o.autoscaler === false ? false : {
    intervalSeconds: positive('autoscaler-interval', o.autoscalerInterval),
    lockDurationMs: positive('autoscaler-job-lock', o.autoscalerJobLock),
    ...(o.providerStateDir ? { stateDir: o.providerStateDir } : {}),
  };
  if (!AGENT_AUTH_MODES.includes(o.agentAuth as AgentAuthMode)) fail(`--agent-auth: '${o.agentAuth}' is not one of ${AGENT_AUTH_MODES.join(', ')}`);
  try {
    const identity = o.awsIdentityCerts || o.gcpIdentityJwks
      ? IdentityVerifier.fromFiles({ awsCertsFile: o.awsIdentityCerts, gcpJwks: o.gcpIdentityJwks, gcpAudience: gcpAudienceFor(o.cluster), clock: systemClock })
      : undefined;
    out.agentAuth = { mode: o.agentAuth as AgentAuthMode, ...(identity ? { identity } : {}) };
  } catch (e) {
    if (e instanceof IdentityError) fail(e.message);
    throw e;
  }
  if (o.rateLimits !== undefined) {
    try {
      out.rateLimits = loadRateLimits(o.rateLimits);
    } catch (e) {
      if (e instanceof RateLimitsError) fail(`--rate-limits: ${e.message}`);
      throw e;
    }
  }
  if (o.maxTaskLaunchesPerSecond !== undefined) out.maxTaskLaunchesPerSecond = positive('max-task-launches-per-second', o.maxTaskLaunchesPerSecond);
  return out;
}
