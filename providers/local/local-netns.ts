// The local provider's network-namespace mode: each instance's agent runs in its own namespace
// with its own address on the pool's private network (netns.ts) and reaches the master on the
// host's bridge address, where the master must listen (`spillway master --listen <address>`).
import { connect } from 'node:net';
import type { Pool } from '../pool-config.ts';
import { InvalidConfigError } from '../errors.ts';
import { NetnsError, NetnsNetwork, type Netns } from './netns.ts';

export type LocalNetnsConfig = NonNullable<Pool['local']>;

export interface PreparedNetwork {
  network: NetnsNetwork;
  /** The master URL agents inside the namespaces use. */
  masterUrl: string;
}

const REACHABLE_WAIT_MS = 10_000;

function configError(pool: string, e: unknown): never {
  if (e instanceof NetnsError) throw new InvalidConfigError(`pool ${pool}: local.netns: ${e.message}`, 'local');
  throw e;
}

/** `url` with its host replaced by `host`. */
function withHost(url: string, host: string): string {
  const u = new URL(url);
  u.hostname = host;
  return u.toString().replace(/\/$/, '');
}

/** Resolves when something accepts TCP connections at host:port (http or https alike). */
function tcpReachable(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 2000 });
    s.once('connect', () => { s.destroy(); resolve(); });
    s.once('timeout', () => { s.destroy(); reject(new Error('connect timed out')); });
    s.once('error', (e) => { s.destroy(); reject(e); });
  });
}

/**
 * Creates (or attaches to) the pool's network and checks that the master listens on the address
 * agents will use — waiting a little, since a master told to `--listen` there binds once the
 * bridge exists. Nothing is started when this throws.
 */
export async function prepareNetwork(pool: string, cfg: LocalNetnsConfig, masterUrl: string): Promise<PreparedNetwork> {
  const network = await NetnsNetwork.ensure({ name: cfg.network, subnet: cfg.subnet, owner: 'persistent' }).catch((e: unknown) => configError(pool, e));
  const agentMaster = cfg.masterUrl ?? withHost(masterUrl, network.hostAddress);
  const u = new URL(agentMaster);
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  const deadline = Date.now() + REACHABLE_WAIT_MS;
  let why = '';
  for (;;) {
    try {
      await tcpReachable(u.hostname.replace(/^\[|\]$/g, ''), port);
      return { network, masterUrl: agentMaster };
    } catch (e) {
      why = (e as Error).message;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new InvalidConfigError(
    `pool ${pool}: agents in network namespaces cannot reach the master at ${agentMaster} (${why}); ` +
      `start the master with --listen ${u.hostname}:${port}, or set local.masterUrl`, 'local');
}

/** Where a netns instance lives: enough to find and remove it later, even if the pool changed. */
export interface NetnsPlacement {
  network: string;
  subnet: string;
  netns: string;
  address: string;
}

export async function addInstanceNamespace(pool: string, network: NetnsNetwork, instanceId: string): Promise<Netns> {
  return network.addNamespace({ tag: instanceId }).catch((e: unknown) => configError(pool, e));
}

/** Kills what runs in the instance's namespace (SIGTERM, then SIGKILL after `graceMs`) and removes it. */
export async function removeInstanceNamespace(p: Pick<NetnsPlacement, 'network' | 'subnet'>, instanceId: string, graceMs: number): Promise<void> {
  const ns = await NetnsNetwork.existing(p.network, p.subnet).byTag(instanceId);
  await ns?.delete({ graceMs });
}
