// Master tuning flags, shared by `spillway master` and `spillway up`; names follow Mesos' flags.
import type { Command } from 'commander';
import type { MasterConfig } from '../../master/master.ts';
import { fail } from '../output.ts';

export interface MasterFlags {
  cluster: string;
  agentPingTimeout: string;
  maxAgentPingTimeouts: string;
  allocationInterval: string;
  offerTimeout: string;
  heartbeatInterval: string;
  frameworkRecoveryTimeout: string;
  bodyLimit: string;
}

export function addMasterFlags(cmd: Command): Command {
  return cmd
    .option('--cluster <name>', 'cluster name (namespaces Redis keys)', 'default')
    .option('--agent-ping-timeout <seconds>', 'interval at which agents must ping', '15')
    .option('--max-agent-ping-timeouts <n>', 'missed pings before an agent is removed', '5')
    .option('--allocation-interval <ms>', 'time between allocation rounds', '1000')
    .option('--offer-timeout <seconds>', 'rescind offers outstanding this long (0 = never)', '0')
    .option('--heartbeat-interval <seconds>', 'HEARTBEAT events to frameworks every', '15')
    .option('--framework-recovery-timeout <seconds>', 'after a restart, time frameworks get to re-subscribe', '120')
    .option('--body-limit <size>', 'largest accepted request body', '1mb');
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
    allocationIntervalMs: positive('allocation-interval', o.allocationInterval),
    offerTimeoutSeconds: positive('offer-timeout', o.offerTimeout, true),
    heartbeatIntervalSeconds: positive('heartbeat-interval', o.heartbeatInterval),
    frameworkRecoverySeconds: positive('framework-recovery-timeout', o.frameworkRecoveryTimeout, true),
  };
}
