// The Spillway agent daemon: serves its sandboxes over HTTP, subscribes to the master, runs the
// tasks the master launches and reports their states at least once. Everything it must remember
// across a restart lives in `workDir` (agent id, task checkpoints, status journal), so an agent
// restarted with the same work dir re-registers under the same id and keeps its running tasks.
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createLogger, redactUrl } from '../src/common/logger.ts';
import { VERSION } from '../src/common/version.ts';
import { toMesosSet } from '../src/resources/mesos-resources.ts';
import { DEFAULT_KILL_GRACE_MS } from '../src/mesos/task-status.ts';
import { agentResources, parseAttributes } from './agent-resources.ts';
import { startFilesServer } from './files-server.ts';
import { MasterConnection, type MasterEvent } from './master-connection.ts';
import { OversubscriptionMonitor, resolveOversubscription, type OversubscriptionOptions } from './oversubscription/monitor.ts';
import type { SlackEstimate } from './oversubscription/slack-estimator.ts';
import { loadAgentId, saveAgentId } from './recovery.ts';
import { credentialAgentId, loadCredential, saveCredential } from './agent-credential.ts';
import { identityProofWithRetries, type IdentitySource } from './instance-identity.ts';
import { fetchPlacement } from './metadata-server.ts';
import type { MesosAttribute } from '../src/master/records.ts';
import { StatusJournal, type JournaledUpdate } from './status-journal.ts';
import { TaskManager } from './task-manager.ts';
import { backoffMs } from '../src/client/master-urls.ts';
import { DEFAULT_DISK_WATCH_INTERVAL_MS, DEFAULT_GC_DELAY_MS, DEFAULT_GC_DISK_HEADROOM, SandboxGc, type SandboxGcOptions, type SweepResult } from './sandbox-gc.ts';
import { systemClock, type Clock } from '../src/common/clock.ts';
import { InterruptionWatcher, type InterruptionNotice, type NoticeProvider } from './interruption-notice.ts';

export interface AgentOptions {
  /** The master's URL, or every master replica's (a list, or comma-separated). */
  masterUrl: string | readonly string[];
  /** 0 picks a free port. */
  port: number;
  advertiseHost?: string;
  workDir: string;
  /** Mesos flag syntax (`cpus:4;mem:2048;ports:[31000-32000]`); overrides detection name by name. */
  resources?: string;
  /** `rack:r1;zone:a`; numeric values become SCALAR attributes. */
  attributes?: string;
  defaultPorts?: string;
  killGracePeriodMs?: number;
  logger?: Logger;
  reconnectMaxDelayMs?: number;
  /**
   * Mesos-style oversubscription: estimate the slack of non-revocable tasks, report it to the
   * master as revocable resources (UPDATE_OVERSUBSCRIBED) and preempt revocable tasks when the host
   * is loaded or the slack shrinks. Off unless `enabled`.
   */
  oversubscription?: OversubscriptionOptions;
  /** PEM of the only CA trusted for an https master (`--ca-file`, already checked against its pin). */
  ca?: string;
  /**
   * A single-use join token for the first registration. The master trades it for a credential kept
   * in `workDir`; from then on the agent registers with the credential, never the token again.
   */
  joinToken?: string;
  /** Where to get the instance identity proof presented with the join token (cloud VMs). */
  identity?: IdentitySource;
  /** Garbage collection of finished tasks' sandboxes (agents/sandbox-gc.ts); Mesos' defaults. */
  gc?: Partial<Pick<SandboxGcOptions, 'gcDelayMs' | 'diskHeadroom' | 'intervalMs' | 'diskUsage'>>;
  /**
   * Watch this cloud's metadata server for a Spot interruption / preemption notice and, when one
   * comes, ask the master to drain this agent before the VM goes (agents/interruption-notice.ts).
   */
  interruptionNotices?: { provider: NoticeProvider; metadataUrl?: string; intervalMs?: number };
  clock?: Clock;
}

/** How often the metadata server is asked for an interruption notice (GCE gives 30 s of warning). */
export const DEFAULT_NOTICE_POLL_MS = 2000;

export type { OversubscriptionOptions } from './oversubscription/monitor.ts';
export type { UsageSampler, SampledTask, TaskUsage } from './oversubscription/usage-sampler.ts';
export type { LoadProbe, HostLoad } from './oversubscription/load-probe.ts';

export interface OversubscriptionHandle {
  /** Runs one estimate/report/QoS round now (after any round in progress); resolves when done. */
  tick(): Promise<void>;
  /** The latest slack estimate, undefined before the first round. */
  estimate(): SlackEstimate | undefined;
}

export interface AgentHandle {
  agentId(): string | undefined;
  port: number;
  url: string;
  /** Present when oversubscription is enabled. */
  oversubscription?: OversubscriptionHandle;
  /** Runs a sandbox garbage collection pass now (it also runs every gc interval). */
  collectGarbage(): Promise<SweepResult>;
  /** Stops talking to the master; tasks keep running (and are recovered later) unless killTasks. */
  stop(opts?: { killTasks?: boolean }): Promise<void>;
}

export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
  const logger = opts.logger ?? createLogger('spillway-agent');
  const host = opts.advertiseHost ?? '127.0.0.1';
  const workDir = opts.workDir;
  const oversubscription = opts.oversubscription?.enabled ? resolveOversubscription(opts.oversubscription) : undefined;
  await mkdir(workDir, { recursive: true });
  const resources = await agentResources(workDir, opts.resources, opts.defaultPorts ?? '[31000-32000]');
  const attributes = await withPlacement(parseAttributes(opts.attributes), opts, logger);
  let agentId = await loadAgentId(workDir);
  const saved = await loadCredential(workDir);
  let credential = saved && (!agentId || saved.agentId === agentId) ? saved.credential : undefined;
  if (saved && !credential) logger.warn({ agentId, credentialFor: saved.agentId }, 'ignoring a saved credential of another agent id');
  // A join token is only for the first registration: it makes a new agent.
  const joining = (): boolean => !credential && opts.joinToken !== undefined;
  if (joining() && agentId) logger.warn({ previous: agentId }, 'joining with a token: the master will register this agent under a new id');
  const identityProof = joining() && opts.identity ? await identityProofWithRetries(opts.identity, logger) : undefined;
  let savingCredential: Promise<void> = Promise.resolve();

  const server = await startFilesServer(workDir, host, opts.port, logger);
  const port = (server.address() as AddressInfo).port;

  // The journal needs the connection (to send) and the tasks need the journal: built in that order,
  // the connection is only *started* once recovery has produced its updates.
  let tasks: TaskManager | undefined;
  let savingAgentId: Promise<void> = Promise.resolve();
  let monitor: OversubscriptionMonitor | undefined;
  const connection: MasterConnection = new MasterConnection({
    masterUrl: opts.masterUrl,
    logger,
    reconnectMaxDelayMs: opts.reconnectMaxDelayMs ?? 5000,
    ca: opts.ca,
    authorization: () => (credential ? `Bearer ${credential}` : opts.joinToken ? `Bearer ${opts.joinToken}` : undefined),
    onCredential: (c) => {
      const id = credentialAgentId(c);
      if (!id) return void logger.warn('the master sent a credential in an unknown format; ignored');
      credential = c;
      savingCredential = savingCredential.then(() => saveCredential(workDir, { agentId: id, credential: c }))
        .catch((err: Error) => logger.error({ err }, 'failed to save the agent credential'));
      logger.info({ agentId: id }, 'joined with the join token; credential saved');
    },
    subscribeCall: () => ({
      type: 'SUBSCRIBE',
      subscribe: {
        agent_info: {
          ...(agentId && !joining() ? { id: { value: agentId } } : {}),
          hostname: host, port, resources: toMesosSet(resources), attributes,
        },
        tasks: tasks?.subscribeTasks() ?? [],
        version: VERSION,
        ...(joining() && identityProof ? { identity: identityProof } : {}),
      },
    }),
    onSubscribed: (id) => {
      monitor?.onSubscribed();
      if (id === agentId) return;
      if (agentId) logger.warn({ previous: agentId, assigned: id }, 'master assigned a new agent id');
      agentId = id;
      savingAgentId = savingAgentId.then(() => saveAgentId(workDir, id))
        .catch((err: Error) => logger.error({ err }, 'failed to checkpoint agent id'));
    },
    onEvent: (ev) => handleEvent(ev),
  });

  const sendUpdates = async (batch: readonly JournaledUpdate[]): Promise<boolean> => {
    await connection.whenSubscribed();
    const id = connection.agentId!;
    const updates = batch.map((u) => ({
      framework_id: { value: u.framework_id },
      status: u.status.agent_id ? u.status : { ...u.status, agent_id: { value: id } },
    }));
    const code = await connection.call({ type: 'UPDATE', agent_id: { value: id }, updates });
    if (code !== 202) logger.warn({ code, updates: batch.length, first: batch[0].status.task_id.value }, 'UPDATE not accepted; will retry');
    return code === 202;
  };
  const journal = await StatusJournal.open(workDir, sendUpdates, { logger, maxBackoffMs: opts.reconnectMaxDelayMs ?? 5000 })
    .catch(async (err: unknown) => {
      await closeServer(server);
      throw err;
    });
  tasks = new TaskManager({
    workDir, host, logger, journal, defaultGraceMs: opts.killGracePeriodMs ?? DEFAULT_KILL_GRACE_MS, agentId: () => agentId,
    clock: opts.clock ?? systemClock,
  });
  const manager = tasks;

  function handleEvent(ev: MasterEvent): void {
    switch (ev.type) {
      case 'LAUNCH': {
        const launch = ev.launch as { framework_id?: { value?: string }; task?: unknown } | undefined;
        const fw = launch?.framework_id?.value;
        if (!fw || !launch?.task) return void logger.warn('LAUNCH without framework_id or task');
        return manager.launch(fw, launch.task);
      }
      case 'KILL': {
        const kill = ev.kill as {
          framework_id?: { value?: string }; task_id?: { value?: string }; grace_period_seconds?: number;
          kill_policy?: { grace_period?: { nanoseconds?: number } };
        } | undefined;
        const fw = kill?.framework_id?.value;
        const taskId = kill?.task_id?.value;
        if (!fw || !taskId) return void logger.warn('KILL without framework_id or task_id');
        const ns = kill?.kill_policy?.grace_period?.nanoseconds;
        const graceMs = kill?.grace_period_seconds !== undefined ? kill.grace_period_seconds * 1000 : ns !== undefined ? ns / 1e6 : undefined;
        return manager.kill(fw, taskId, graceMs);
      }
      case 'MESSAGE':
        return void logger.debug('MESSAGE for the command executor ignored');
      default:
        logger.warn({ type: ev.type }, 'unknown master event ignored');
    }
  }

  try {
    await manager.recover();
  } catch (err) {
    await manager.stop(false);
    await journal.close();
    await closeServer(server);
    throw err;
  }
  if (oversubscription) {
    monitor = new OversubscriptionMonitor(oversubscription, {
      tasks: manager,
      logger: logger.child({ component: 'oversubscription' }),
      subscribed: () => connection.subscribed,
      send: async (resources) => {
        const id = connection.agentId;
        if (!id) return false;
        // A stale stream is PING's to notice (a 400 here may as well be a master without oversubscription).
        const code = await connection.call({ type: 'UPDATE_OVERSUBSCRIBED', agent_id: { value: id }, oversubscribed: { resources } });
        return code === 202;
      },
    });
    monitor.start();
  }
  const overHandle = monitor;
  const clock = opts.clock ?? systemClock;
  const gc = new SandboxGc({
    workDir, clock, logger: logger.child({ component: 'gc' }),
    gcDelayMs: opts.gc?.gcDelayMs ?? DEFAULT_GC_DELAY_MS,
    diskHeadroom: opts.gc?.diskHeadroom ?? DEFAULT_GC_DISK_HEADROOM,
    intervalMs: opts.gc?.intervalMs ?? DEFAULT_DISK_WATCH_INTERVAL_MS,
    ...(opts.gc?.diskUsage ? { diskUsage: opts.gc.diskUsage } : {}),
    inUse: (fw, task) => manager.filesInUse(fw, task),
    frameworkInUse: (fw) => manager.frameworkInUse(fw),
    onCollected: (fw, task) => manager.forget(fw, task),
  });
  gc.start();
  let stopped = false;
  /** Sends the notice until the master accepts it, or the VM's deadline has passed. */
  const reportInterruption = async (n: InterruptionNotice): Promise<void> => {
    logger.warn({ provider: n.provider, action: n.action, deadline: new Date(n.deadlineMs).toISOString() }, 'the cloud is taking this VM back: asking the master to drain this agent');
    for (let attempt = 0; !stopped && clock.now() < n.deadlineMs; attempt++) {
      const code = await connection.whenSubscribed()
        .then(() => connection.call({
          type: 'INTERRUPTION_NOTICE', agent_id: { value: connection.agentId! },
          interruption_notice: { provider: n.provider, action: n.action, deadline: { nanoseconds: n.deadlineMs * 1e6 } },
        }))
        .catch(() => 0);
      if (code === 202) return void logger.info('the master is draining this agent');
      if (code !== 0 && code !== 503) logger.warn({ code }, 'the master did not take the interruption notice; sending it again');
      await new Promise((r) => setTimeout(r, backoffMs(attempt, 250, 2000)).unref());
    }
  };
  let reporting: Promise<void> | undefined;
  const watcher = opts.interruptionNotices ? new InterruptionWatcher({
    provider: opts.interruptionNotices.provider, metadataUrl: opts.interruptionNotices.metadataUrl,
    intervalMs: opts.interruptionNotices.intervalMs ?? DEFAULT_NOTICE_POLL_MS, clock, logger: logger.child({ component: 'interruption' }),
    onNotice: (n) => { reporting = reportInterruption(n); },
  }) : undefined;
  watcher?.start();
  connection.start();
  logger.info({ port, host, master: (typeof opts.masterUrl === 'string' ? [opts.masterUrl] : opts.masterUrl).map(redactUrl).join(','), workDir, agentId, oversubscription: Boolean(monitor) }, 'agent started');

  let stopping: Promise<void> | undefined;
  return {
    agentId: () => agentId,
    port,
    url: `http://${host}:${port}`,
    ...(overHandle ? { oversubscription: { tick: () => overHandle.tick(), estimate: () => overHandle.estimate() } } : {}),
    collectGarbage: () => gc.sweep(),
    stop: (stopOpts) => (stopping ??= (async () => {
      await monitor?.stop(); // no QoS kill races the shutdown
      await gc.stop();
      stopped = true;
      await watcher?.stop();
      await connection.stop(); // no new LAUNCH/KILL from here on; a notice waiting to be sent gives up
      await reporting;
      await manager.stop(stopOpts?.killTasks ?? false);
      await journal.close();
      await savingAgentId;
      await savingCredential;
      await closeServer(server);
      logger.info({ killTasks: stopOpts?.killTasks ?? false }, 'agent stopped');
    })()),
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * On a cloud VM (a metadata provider is configured for identity or notices), `zone` and `region`
 * attributes from the metadata server unless given: reports and spot prices are by zone. A
 * metadata server that does not answer costs a warning, not the agent.
 */
async function withPlacement(attributes: MesosAttribute[], opts: AgentOptions, logger: Logger): Promise<MesosAttribute[]> {
  const provider = opts.identity?.provider ?? opts.interruptionNotices?.provider;
  if (!provider || attributes.some((a) => a.name === 'zone')) return attributes;
  try {
    const { zone, region } = await fetchPlacement(provider, opts.identity?.metadataUrl ?? opts.interruptionNotices?.metadataUrl, 5000);
    const text = (name: string, value: string): MesosAttribute => ({ name, type: 'TEXT', text: { value } });
    return [...attributes, text('zone', zone), ...(attributes.some((a) => a.name === 'region') ? [] : [text('region', region)])];
  } catch (e) {
    logger.warn({ err: (e as Error).message, provider }, 'cannot read the zone from the metadata server; no zone attribute');
    return attributes;
  }
}

