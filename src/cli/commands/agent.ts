// `spillway agent`: runs tasks on this machine for a master. `--config FILE` reads the settings
// cloud-init writes (agents/agent-config.ts); flags given on the command line win over the file.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLogger } from '../../common/logger.ts';
import { parseDurationSeconds } from '../duration.ts';
import { addMasterOption } from '../master-option.ts';
import { fail } from '../output.ts';
import { registerUserDataCommand } from './agent-user-data.ts';
import { MasterUrlError, parseMasterUrls } from '../../client/master-urls.ts';

interface AgentFlags {
  master: string; port: string; workDir: string; resources?: string; attributes?: string; hostname: string;
  killTasksOnExit?: boolean; exitWithParent?: boolean;
  oversubscription?: boolean; oversubscriptionInterval: string; qosLoadThreshold: string;
  config?: string; caFile?: string; caPin?: string; joinTokenFile?: string; pool?: string;
  identity?: 'aws-ec2' | 'gcp-compute'; metadataUrl?: string;
  gcDelay: string; gcDiskHeadroom: string; diskWatchInterval: string;
  interruptionNotices?: string; interruptionPollInterval: string;
}

export function registerAgentCommand(program: Command): void {
  const agent = addMasterOption(program.command('agent')
    .description('run an agent that offers this machine to a master and runs its tasks'))
    .option('--config <file>', 'agent config file (JSON, as cloud-init writes it); flags override it')
    .option('--port <port>', 'port for the agent\'s own HTTP endpoints (sandbox files)', '5051')
    .option('--work-dir <dir>', 'where sandboxes and the agent\'s checkpoints live', '.spillway/agent')
    .option('--resources <spec>', 'override detected resources, Mesos syntax: "cpus:4;mem:2048;ports:[31000-32000]"')
    .option('--attributes <spec>', 'attributes offered with this agent: "rack:r1;zone:a"')
    .option('--pool <name>', 'the pool this machine belongs to (attribute pool; a join token is for one pool)')
    .option('--hostname <host>', 'address the agent listens on and advertises; "auto": the address it reaches the master from', '127.0.0.1')
    .option('--join-token-file <file>', 'file holding a single-use join token for the first registration ($SPILLWAY_JOIN_TOKEN)')
    .option('--ca-file <file>', 'trust only this CA for an https master')
    .option('--ca-pin <sha256:hex>', 'refuse a --ca-file whose certificate is not this one')
    .option('--identity <provider>', 'present this cloud\'s instance identity proof when joining: aws-ec2 or gcp-compute')
    .option('--metadata-url <url>', 'metadata server for --identity and --interruption-notices (default: the cloud\'s own)')
    .option('--kill-tasks-on-exit', 'kill running tasks when the agent stops (default: they keep running and are recovered)')
    .option('--oversubscription', 'offer the unused part of tasks\' allocations as revocable resources and preempt revocable tasks under load (Mesos oversubscription)')
    .option('--oversubscription-interval <ms>', 'how often to re-estimate the slack and run QoS checks', '5000')
    .option('--qos-load-threshold <x>', '1-minute load average per cpu above which revocable tasks are preempted', '0.9')
    .option('--interruption-notices <provider>', 'watch the metadata server for a Spot interruption / preemption notice and have the master drain this agent: aws-ec2, gcp-compute or off (default: the --identity provider, else off)')
    .option('--interruption-poll-interval <duration>', 'how often the metadata server is asked for a notice', '2s')
    .option('--gc-delay <duration>', 'longest a finished task\'s sandbox is kept (shorter as the disk fills: gc-delay × max(0, 1 − headroom − disk usage))', '7d')
    .option('--gc-disk-headroom <fraction>', 'disk fraction to keep free when working out how long sandboxes stay (0–1)', '0.1')
    .option('--disk-watch-interval <duration>', 'how often disk usage is checked and old sandboxes removed', '1m')
    .option('--exit-with-parent', 'stop when the parent process goes away (used by `spillway up`)')
    .action(async (o: AgentFlags, cmd: Command) => {
      // Loaded on demand so client commands do not pay for the agent's modules.
      const { loadAgentConfig, loadPinnedCa, AgentConfigError } = await import('../../../agents/agent-config.ts');
      let config: Awaited<ReturnType<typeof loadAgentConfig>> | undefined;
      try {
        config = o.config ? loadAgentConfig(o.config) : undefined;
      } catch (e) {
        if (e instanceof AgentConfigError) fail(`--config: ${e.message}`);
        throw e;
      }
      /** A flag typed on the command line, else the config file's value, else the flag's default. */
      const pick = <T>(flag: string, fromFile: T | undefined, flagValue: T): T =>
        (cmd.getOptionValueSource(flag) === 'cli' || fromFile === undefined ? flagValue : fromFile);
      const masterUrl = pick('master', config?.masterUrl, o.master);
      const port = Number(pick('port', config?.port === undefined ? undefined : String(config.port), o.port));
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: '${o.port}' is not a port number`);
      const intervalMs = Number(o.oversubscriptionInterval);
      if (!Number.isFinite(intervalMs) || intervalMs < 10) fail(`--oversubscription-interval: '${o.oversubscriptionInterval}' is not a number of milliseconds (at least 10)`);
      const loadThreshold = Number(o.qosLoadThreshold);
      if (!Number.isFinite(loadThreshold) || loadThreshold <= 0) fail(`--qos-load-threshold: '${o.qosLoadThreshold}' is not a positive number`);
      const gcDelay = parseDurationSeconds(o.gcDelay);
      if (typeof gcDelay === 'string') fail(`--gc-delay: ${gcDelay}`);
      const diskWatch = parseDurationSeconds(o.diskWatchInterval);
      if (typeof diskWatch === 'string' || diskWatch < 1 || diskWatch > 86_400) fail(`--disk-watch-interval: ${typeof diskWatch === 'string' ? diskWatch : `'${o.diskWatchInterval}' is not from 1s to 1d`}`);
      const headroom = Number(o.gcDiskHeadroom);
      if (o.gcDiskHeadroom.trim() === '' || !Number.isFinite(headroom) || headroom < 0 || headroom > 1) fail(`--gc-disk-headroom: '${o.gcDiskHeadroom}' is not a fraction from 0 to 1`);
      const notices = o.interruptionNotices ?? o.identity ?? config?.identity?.provider ?? 'off';
      if (notices !== 'off' && notices !== 'aws-ec2' && notices !== 'gcp-compute') fail(`--interruption-notices: '${notices}' is not aws-ec2, gcp-compute or off`);
      const noticePoll = parseDurationSeconds(o.interruptionPollInterval);
      if (typeof noticePoll === 'string' || noticePoll < 0.1 || noticePoll > 60) fail(`--interruption-poll-interval: ${typeof noticePoll === 'string' ? noticePoll : `'${o.interruptionPollInterval}' is not from 100ms to 1m (GCE gives 30 s of warning)`}`);
      let masters: string[] = [];
      try {
        masters = parseMasterUrls(masterUrl);
      } catch (e) {
        if (e instanceof MasterUrlError) fail(`--master: ${e.message}`);
        throw e;
      }
      if (o.identity !== undefined && o.identity !== 'aws-ec2' && o.identity !== 'gcp-compute') fail(`--identity: '${o.identity}' is not aws-ec2 or gcp-compute`);
      const pool = o.pool ?? config?.pool;
      const attributes = [
        ...Object.entries(config?.attributes ?? {}).map(([k, v]) => `${k}:${v}`),
        ...(o.attributes ? [o.attributes] : []),
        ...(pool ? [`pool:${pool}`] : []),
      ].join(';') || undefined;
      let joinToken = process.env.SPILLWAY_JOIN_TOKEN || config?.joinToken;
      if (o.joinTokenFile) {
        try {
          joinToken = readFileSync(o.joinTokenFile, 'utf8').trim();
        } catch (e) {
          fail(`--join-token-file: ${(e as Error).message}`);
        }
      }
      const caFile = o.caFile ?? config?.caFile;
      let ca: string | undefined;
      try {
        ca = caFile ? loadPinnedCa(caFile, o.caPin ?? config?.caPin) : undefined;
      } catch (e) {
        if (e instanceof AgentConfigError) fail(e.message);
        throw e;
      }
      if (masters.some((u) => u.startsWith('https:')) && !ca) process.stderr.write('spillway agent: warning: https master without --ca-file: trusting the system\'s CAs\n');
      const identityProvider = o.identity ?? config?.identity?.provider;
      const identity = identityProvider
        ? { provider: identityProvider, metadataUrl: o.metadataUrl ?? config?.identity?.metadataUrl, audience: config?.identity?.audience }
        : undefined;
      let hostname = pick('hostname', config?.hostname, o.hostname);
      if (hostname === 'auto') {
        const { addressTowards } = await import('../../../agents/agent-address.ts');
        hostname = await addressTowards(masters[0]).catch((e: Error) => fail(`--hostname auto: cannot tell the address towards ${masters[0]}: ${e.message}`));
      }
      const log = createLogger('agent');
      const { startAgent } = await import('../../../agents/agent.ts');
      const handle = await startAgent({
        masterUrl, port, advertiseHost: hostname, workDir: resolve(pick('workDir', config?.workDir, o.workDir)),
        resources: pick('resources', config?.resources, o.resources), attributes, logger: log, ca, joinToken, identity,
        ...(o.oversubscription ? { oversubscription: { enabled: true, intervalMs, loadThreshold } } : {}),
        gc: { gcDelayMs: gcDelay * 1000, diskHeadroom: headroom, intervalMs: diskWatch * 1000 },
        ...(notices !== 'off' ? { interruptionNotices: { provider: notices, metadataUrl: o.metadataUrl ?? config?.identity?.metadataUrl, intervalMs: noticePoll * 1000 } } : {}),
      })
        .catch((e: unknown) => fail(`agent failed to start: ${(e as Error).message}`));
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        handle.stop({ killTasks: Boolean(o.killTasksOnExit) }).finally(() => process.exit(0));
      };
      // SIGHUP (its terminal closed) stops it as cleanly as SIGTERM, --kill-tasks-on-exit included.
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, stop);
      if (o.exitWithParent) {
        const parent = process.ppid;
        setInterval(() => { if (process.ppid !== parent) stop(); }, 500).unref();
      }
    });
  agent.enablePositionalOptions();
  registerUserDataCommand(agent);
}
