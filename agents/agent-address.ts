// `--hostname auto`: the address this machine uses to reach the master — what the master and
// frameworks can reach the agent on (its sandbox files). A connected UDP socket picks the route's
// source address without sending anything.
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';

export async function addressTowards(masterUrl: string): Promise<string> {
  const u = new URL(masterUrl);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const { address, family } = await lookup(host);
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(Number(u.port) || (u.protocol === 'https:' ? 443 : 80), address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}
