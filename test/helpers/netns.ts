// Network namespaces for tests (root only): a private network on a random free 10.244.X.0/24 with a
// unique name, owned by this test process, so leftovers of a crashed run are reaped by the next one
// and parallel test files (or worktrees) never share one.
import { randomBytes } from 'node:crypto';
import { addressAt, cleanupLeftovers, NetnsError, NetnsNetwork, parseSubnet } from '../../providers/local/netns.ts';

export { NetnsNetwork, Netns, NetnsError } from '../../providers/local/netns.ts';

/** Every test network's name starts with this. */
export const TEST_PREFIX = 'st';

export const isRoot = (): boolean => process.getuid?.() === 0;

export interface TestNetworkPlan {
  name: string;
  subnet: string;
  /** The host's (and a master's) address on it. */
  hostAddress: string;
}

/** A name and a subnet free right now, for a network made later (e.g. after a master that listens on it). */
export async function planTestNetwork(): Promise<TestNetworkPlan> {
  await cleanupLeftovers(TEST_PREFIX);
  for (let attempt = 0; attempt < 50; attempt++) {
    const name = `${TEST_PREFIX}${randomBytes(2).toString('hex')}`;
    const subnet = `10.244.${64 + (randomBytes(1)[0]! % 190)}.0/24`;
    try {
      await NetnsNetwork.existing(name, subnet).assertSubnetFree();
      return { name, subnet, hostAddress: addressAt(parseSubnet(subnet), 1) };
    } catch (e) {
      if (!(e instanceof NetnsError)) throw e;
    }
  }
  throw new Error('no free 10.244.X.0/24 subnet for a test network');
}

/** A fresh network (from `plan`, or a new plan); `destroy()` it in the test's teardown. */
export async function testNetwork(plan?: TestNetworkPlan): Promise<NetnsNetwork> {
  const p = plan ?? await planTestNetwork();
  return NetnsNetwork.ensure({ name: p.name, subnet: p.subnet });
}
