// Private networks of Linux network namespaces, built with iproute2's `ip` (root only): one bridge
// per network holding the host's address (the first of the subnet), and one namespace per member
// with a veth pair whose outer end is on the bridge and whose inner end is `eth0` with its own
// address. There is no default route and nothing is forwarded or NATed, so a namespace reaches the
// host's bridge address and its neighbours — never a real network.
//
// Names: everything a network creates starts with its name (1–6 characters, so interface names
// stay within Linux' 15): bridge `<name>-br`, namespaces `<name>-<n>` with address subnet+n, host
// ends `<name>-h<n>`. The bridge's alias records the subnet and the owning process; a network whose
// owner died is a leftover that `cleanupLeftovers(prefix)` removes.
import { execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

export class NetnsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetnsError';
  }
}

/** An IPv4 subnet as numbers. */
export interface Ipv4Subnet {
  readonly cidr: string;
  readonly network: number;
  readonly prefix: number;
  /** Addresses in it, network and broadcast included. */
  readonly size: number;
}

const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
const NAME = /^[a-z][a-z0-9]{0,5}$/;
const ALIAS_TAG = 'spillway-netns';

const ipToInt = (ip: string): number | undefined => {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
};
const intToIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** Parses `a.b.c.d/len`; refuses anything but a private IPv4 range between /16 and /29. */
export function parseSubnet(cidr: string): Ipv4Subnet {
  const [addr, len, extra] = cidr.split('/');
  const base = ipToInt(addr ?? '');
  const prefix = Number(len);
  if (base === undefined || extra !== undefined || !/^\d+$/.test(len ?? '')) throw new NetnsError(`subnet '${cidr}' is not an IPv4 CIDR like 10.244.0.0/24`);
  if (prefix < 16 || prefix > 29) throw new NetnsError(`subnet '${cidr}': the prefix length must be from /16 to /29`);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) throw new NetnsError(`subnet '${cidr}': host bits are set (did you mean ${intToIp(base - (base % size))}/${prefix}?)`);
  const s = { cidr, network: base, prefix, size };
  if (!PRIVATE_RANGES.some((r) => contains(parseRange(r), s))) throw new NetnsError(`subnet '${cidr}' is not in a private range (${PRIVATE_RANGES.join(', ')})`);
  return s;
}

function parseRange(cidr: string): Ipv4Subnet {
  const [addr, len] = cidr.split('/');
  const prefix = Number(len);
  return { cidr, network: ipToInt(addr!)!, prefix, size: 2 ** (32 - prefix) };
}

const contains = (outer: Ipv4Subnet, inner: Ipv4Subnet): boolean => inner.network >= outer.network && inner.network + inner.size <= outer.network + outer.size;
const overlaps = (a: Ipv4Subnet, b: Ipv4Subnet): boolean => a.network < b.network + b.size && b.network < a.network + a.size;

/** The n-th address of a subnet (1 = the host's). */
export function addressAt(s: Ipv4Subnet, n: number): string {
  return intToIp(s.network + n);
}

/** Throws a NetnsError unless this process can build namespaces: root, and `ip` on the PATH. */
export function checkNetnsSupport(): void {
  const uid = process.getuid?.();
  if (uid !== 0) throw new NetnsError(`network namespaces need root: this process runs as uid ${uid ?? 'unknown'} (run as root, or turn netns off)`);
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) throw new NetnsError("network namespaces need iproute2's `ip` on the PATH (Debian/Ubuntu: apt-get install -y iproute2)");
}

interface IpResult { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<IpResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code !== 0 && !stderr ? err.message : '') });
    });
  });
}

/** `ip ARGS`; a failure throws a NetnsError with the command and ip's message. */
async function ip(args: string[]): Promise<string> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new NetnsError(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** `ip ARGS` where "it is already gone" is fine. */
async function ipQuiet(args: string[]): Promise<void> {
  await run('ip', args);
}

async function ipJson<T>(args: string[]): Promise<T> {
  const out = (await ip(['-j', ...args])).trim();
  return (out ? JSON.parse(out) : []) as T;
}

interface IpLink { ifname: string; ifalias?: string; operstate?: string }
interface IpAddr { ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }
interface IpRoute { dst: string; dev?: string }

const parseAlias = (alias: string | undefined): Record<string, string> | undefined => {
  if (!alias?.startsWith(`${ALIAS_TAG} `)) return undefined;
  return Object.fromEntries(alias.slice(ALIAS_TAG.length + 1).split(' ').map((kv) => kv.split('=') as [string, string]));
};

/** `<pid>:<start time>` of a process (the start time tells a reused pid apart). */
function processStamp(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid}:${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
}

const ownerAlive = (owner: string | undefined): boolean => {
  if (owner === 'persistent') return true;
  const pid = Number(owner?.split(':')[0]);
  return Number.isInteger(pid) && pid > 0 && processStamp(pid) === owner;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface NetworkOptions {
  /** 1–6 lowercase letters/digits, starting with a letter; prefixes every device and namespace. */
  name: string;
  /** A private IPv4 subnet (/16–/29) no other interface or route on this host uses. Default 10.244.0.0/24. */
  subnet?: string;
  /**
   * 'process' (default): owned by this process; once it is gone, `cleanupLeftovers` may remove the
   * network. 'persistent': outlives its creator (the local provider's agents keep running).
   */
  owner?: 'process' | 'persistent';
}

export const DEFAULT_SUBNET = '10.244.0.0/24';

export class NetnsNetwork {
  readonly bridge: string;
  /** The host's address on the bridge: what namespaces reach the host (and its master) on. */
  readonly hostAddress: string;

  private constructor(readonly name: string, readonly subnet: Ipv4Subnet) {
    this.bridge = `${name}-br`;
    this.hostAddress = addressAt(subnet, 1);
  }

  /** The network as a handle, without creating or checking anything (to remove what it holds). */
  static existing(name: string, subnet: string): NetnsNetwork {
    return new NetnsNetwork(name, parseSubnet(subnet));
  }

  /**
   * Creates the network, or attaches to it when it exists with the same subnet. Refuses a subnet
   * that overlaps an address or route this host already has.
   */
  static async ensure(opts: NetworkOptions): Promise<NetnsNetwork> {
    if (!NAME.test(opts.name)) throw new NetnsError(`network name '${opts.name}': 1–6 lowercase letters and digits, starting with a letter`);
    const subnet = parseSubnet(opts.subnet ?? DEFAULT_SUBNET);
    checkNetnsSupport();
    const net = new NetnsNetwork(opts.name, subnet);
    for (let attempt = 0; ; attempt++) {
      const existing = await net.bridgeInfo();
      if (existing) {
        if (existing.subnet !== subnet.cidr) throw new NetnsError(`network '${net.name}' already exists with subnet ${existing.subnet ?? '(unknown)'}, not ${subnet.cidr}`);
        return net;
      }
      await net.assertSubnetFree();
      const owner = opts.owner === 'persistent' ? 'persistent' : processStamp(process.pid);
      const made = await run('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
      if (made.code !== 0) {
        if (/exists/i.test(made.stderr) && attempt < 3) continue; // created by someone else meanwhile
        throw new NetnsError(`ip link add ${net.bridge} type bridge: ${made.stderr.trim()}`);
      }
      try {
        await ip(['link', 'set', 'dev', net.bridge, 'alias', `${ALIAS_TAG} subnet=${subnet.cidr} owner=${owner}`]);
        await ip(['addr', 'add', `${net.hostAddress}/${subnet.prefix}`, 'dev', net.bridge]);
        await ip(['link', 'set', 'dev', net.bridge, 'up']);
        await net.assertSubnetFree(); // another network may have taken the same subnet at the same moment
      } catch (e) {
        await ipQuiet(['link', 'del', net.bridge]);
        throw e;
      }
      return net;
    }
  }

  /** Adds a namespace with the lowest free address; `tag` (e.g. an instance id) is kept on its host link. */
  async addNamespace(opts: { tag?: string } = {}): Promise<Netns> {
    if (opts.tag !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(opts.tag)) throw new NetnsError(`namespace tag '${opts.tag}': letters, digits, '.', '_' and '-' only`);
    for (let n = 2; n < this.subnet.size - 1; n++) {
      const ns = new Netns(this, n, opts.tag);
      const made = await run('ip', ['netns', 'add', ns.name]);
      if (made.code !== 0) {
        if (/exists/i.test(made.stderr)) continue; // taken: try the next address
        throw new NetnsError(`ip netns add ${ns.name}: ${made.stderr.trim()}`);
      }
      try {
        const inner = `${this.name}-n${n}`;
        await ipQuiet(['link', 'del', ns.hostLink]); // a stale host end from a crash
        await ip(['link', 'add', ns.hostLink, 'type', 'veth', 'peer', 'name', inner, 'netns', ns.name]);
        await ip(['link', 'set', 'dev', ns.hostLink, 'alias', `${ALIAS_TAG} ns=${ns.name}${opts.tag ? ` tag=${opts.tag}` : ''}`]);
        await ip(['link', 'set', 'dev', ns.hostLink, 'master', this.bridge]);
        await ip(['link', 'set', 'dev', ns.hostLink, 'up']);
        await ip(['-n', ns.name, 'link', 'set', 'dev', inner, 'name', 'eth0']);
        await ip(['-n', ns.name, 'addr', 'add', `${ns.address}/${this.subnet.prefix}`, 'dev', 'eth0']);
        await ip(['-n', ns.name, 'link', 'set', 'dev', 'eth0', 'up']);
        await ip(['-n', ns.name, 'link', 'set', 'dev', 'lo', 'up']);
      } catch (e) {
        await ns.delete({ graceMs: 0 });
        throw e;
      }
      return ns;
    }
    throw new NetnsError(`network '${this.name}' (${this.subnet.cidr}) has no free address left`);
  }

  /** The namespaces of this network that exist now, with their tags. */
  async namespaces(): Promise<Netns[]> {
    const list = await ipJson<{ name: string }[]>(['netns', 'list']);
    const links = new Map((await ipJson<IpLink[]>(['link', 'show'])).map((l) => [l.ifname, l]));
    const re = new RegExp(`^${this.name}-(\\d+)$`);
    const out: Netns[] = [];
    for (const { name } of list) {
      const m = re.exec(name);
      if (!m) continue;
      const n = Number(m[1]);
      out.push(new Netns(this, n, parseAlias(links.get(`${this.name}-h${n}`)?.ifalias)?.tag));
    }
    return out.sort((a, b) => a.index - b.index);
  }

  /** The namespace carrying `tag`, if it exists. */
  async byTag(tag: string): Promise<Netns | undefined> {
    return (await this.namespaces()).find((ns) => ns.tag === tag);
  }

  /** Removes every namespace (killing what runs inside), then the bridge. */
  async destroy(opts: { graceMs?: number } = {}): Promise<void> {
    for (const ns of await this.namespaces()) await ns.delete(opts);
    await ipQuiet(['link', 'del', this.bridge]);
  }

  private async bridgeInfo(): Promise<{ subnet?: string; owner?: string } | undefined> {
    const r = await run('ip', ['-j', 'link', 'show', 'dev', this.bridge]);
    if (r.code !== 0) return undefined;
    const [link] = JSON.parse(r.stdout) as IpLink[];
    const alias = parseAlias(link?.ifalias);
    if (!alias) throw new NetnsError(`an interface named ${this.bridge} exists but was not made by Spillway; choose another network name`);
    return alias;
  }

  /** Throws unless the subnet is free: no address or route of another interface overlaps it. */
  async assertSubnetFree(): Promise<void> {
    for (const link of await ipJson<IpAddr[]>(['-4', 'addr', 'show'])) {
      if (link.ifname === this.bridge) continue;
      for (const a of link.addr_info ?? []) {
        if (a.family !== 'inet') continue;
        const theirs = { cidr: '', network: ipToInt(a.local)! - (ipToInt(a.local)! % 2 ** (32 - a.prefixlen)), prefix: a.prefixlen, size: 2 ** (32 - a.prefixlen) };
        if (overlaps(theirs, this.subnet)) throw new NetnsError(`subnet ${this.subnet.cidr} overlaps ${a.local}/${a.prefixlen} on ${link.ifname}; choose another subnet`);
      }
    }
    for (const r of await ipJson<IpRoute[]>(['-4', 'route', 'show'])) {
      if (r.dst === 'default' || r.dev === this.bridge) continue;
      const [addr, len] = r.dst.split('/');
      const base = ipToInt(addr!);
      if (base === undefined) continue;
      const prefix = len === undefined ? 32 : Number(len);
      if (overlaps({ cidr: r.dst, network: base, prefix, size: 2 ** (32 - prefix) }, this.subnet)) {
        throw new NetnsError(`subnet ${this.subnet.cidr} overlaps the route ${r.dst}${r.dev ? ` via ${r.dev}` : ''}; choose another subnet`);
      }
    }
  }
}

/** One namespace of a network: its own `eth0` with its own address, and `lo`. */
export class Netns {
  readonly name: string;
  readonly address: string;
  /** The veth end on the host's bridge: setting it down cuts the namespace off. */
  readonly hostLink: string;

  constructor(readonly network: NetnsNetwork, readonly index: number, readonly tag?: string) {
    this.name = `${network.name}-${index}`;
    this.address = addressAt(network.subnet, index);
    this.hostLink = `${network.name}-h${index}`;
  }

  /** Cuts the namespace off the network (its packets go nowhere, as with a pulled cable). */
  async linkDown(): Promise<void> {
    await ip(['link', 'set', 'dev', this.hostLink, 'down']);
  }

  /** Heals a `linkDown`. */
  async linkUp(): Promise<void> {
    await ip(['link', 'set', 'dev', this.hostLink, 'up']);
  }

  /** Runs a command inside and collects its output. */
  exec(cmd: string, args: string[] = [], timeoutMs = 60_000): Promise<IpResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** Starts a command inside; `ip netns exec` execs it, so the child's pid is the command's. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Processes running inside. */
  async pids(): Promise<number[]> {
    const r = await run('ip', ['netns', 'pids', this.name]);
    return r.code === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
  }

  /** SIGTERM to everything inside, SIGKILL after `graceMs` (default 3 s), then the links and the namespace go. */
  async delete(opts: { graceMs?: number } = {}): Promise<void> {
    const signal = (pids: number[], sig: NodeJS.Signals) => { for (const p of pids) try { process.kill(p, sig); } catch { /* gone */ } };
    let left = await this.pids();
    if (left.length && (opts.graceMs ?? 3000) > 0) {
      signal(left, 'SIGTERM');
      const deadline = Date.now() + (opts.graceMs ?? 3000);
      while ((left = await this.pids()).length && Date.now() < deadline) await sleep(100);
    }
    for (let i = 0; left.length && i < 50; i++) {
      signal(left, 'SIGKILL');
      await sleep(50);
      left = await this.pids();
    }
    await ipQuiet(['link', 'del', this.hostLink]);
    await ipQuiet(['netns', 'del', this.name]);
  }
}

/**
 * Removes what crashed earlier runs left behind: networks whose name starts with `prefix` and whose
 * owning process is gone (all of them with `force`), and namespaces of that prefix without a bridge.
 * Returns the names removed. Networks of live processes (and persistent ones, unless forced) stay.
 */
export async function cleanupLeftovers(prefix: string, opts: { force?: boolean } = {}): Promise<string[]> {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix)) throw new NetnsError(`prefix '${prefix}': 1–6 lowercase letters and digits, starting with a letter`);
  checkNetnsSupport();
  const removed: string[] = [];
  const bridges = await ipJson<IpLink[]>(['link', 'show', 'type', 'bridge']);
  const live = new Set<string>();
  for (const b of bridges) {
    const alias = parseAlias(b.ifalias);
    if (!alias || !b.ifname.startsWith(prefix) || !b.ifname.endsWith('-br')) continue;
    const name = b.ifname.slice(0, -3);
    if (!opts.force && ownerAlive(alias.owner)) {
      live.add(name);
      continue;
    }
    const net = await NetnsNetwork.ensure({ name, subnet: alias.subnet ?? DEFAULT_SUBNET }).catch(() => undefined);
    if (net) await net.destroy({ graceMs: 0 });
    else await ipQuiet(['link', 'del', b.ifname]);
    removed.push(b.ifname);
  }
  for (const { name } of await ipJson<{ name: string }[]>(['netns', 'list'])) {
    const m = /^([a-z][a-z0-9]{0,5})-(\d+)$/.exec(name);
    if (!m || !m[1]!.startsWith(prefix) || live.has(m[1]!)) continue;
    if (bridges.some((b) => b.ifname === `${m[1]}-br` && !removed.includes(b.ifname))) continue; // a persistent network's member
    const stray = await run('ip', ['netns', 'pids', name]);
    for (const p of stray.stdout.split(/\s+/).filter(Boolean)) try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
    await ipQuiet(['link', 'del', `${m[1]}-h${m[2]}`]);
    await ipQuiet(['netns', 'del', name]);
    removed.push(name);
  }
  return removed;
}
