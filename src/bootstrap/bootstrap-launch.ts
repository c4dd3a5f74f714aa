// The providers' launch path with bootstrap: every instance gets its own single-use join token and
// user-data carrying it, so a launch of N is N launches of one (a join token admits one agent, and
// EC2 gives one RunInstances call one user-data). Idempotent like the providers: instance i runs
// under launch token `<token>.<i>` and the master mints the same join token for the same
// (pool, token, i), so a retried launch sends byte-identical user-data. Once the provider names
// the instance, the token is bound to it: only that instance may use it. A failure partway is a
// PartialLaunchError naming the instances already started, so the caller can keep track of them.
import type { Instance, LaunchSpec, Provider } from '../../providers/provider.ts';
import type { Pool } from '../../providers/pool-config.ts';
import { v1 } from '../client/v1-client.ts';
import type { BootstrapService, PrepareRequest, Prepared } from './bootstrap-service.ts';
import type { JoinTokens } from '../auth/join-tokens.ts';

/** How the launch path gets tokens: from the master over HTTP (CLI) or in-process (the master itself). */
export interface BootstrapPort {
  prepare(req: PrepareRequest): Promise<Prepared>;
  bindInstance(tokenId: string, instanceId: string): Promise<void>;
}

/**
 * A launch that stopped partway: `launched` were started before `cause` stopped the next one. They
 * run (and may join), so the caller must record them, or give them back.
 */
export class PartialLaunchError extends Error {
  constructor(readonly launched: readonly Instance[], readonly wanted: number, override readonly cause: unknown) {
    super(`${launched.length} of ${wanted} instance(s) started (${launched.map((i) => i.id).join(', ')}), then: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'PartialLaunchError';
  }
}

/** Providers whose machines boot from user-data; the others start their agents themselves. */
const BOOTS_FROM_USER_DATA = new Set(['aws-ec2', 'gcp-compute']);

export async function launchBootstrapped(provider: Provider, pool: Pool, count: number, spec: LaunchSpec, port: BootstrapPort): Promise<Instance[]> {
  if (!Number.isInteger(count) || count <= 0) throw new Error(`count must be a whole number > 0, got ${count}`);
  const userData = BOOTS_FROM_USER_DATA.has(pool.provider);
  const out: Instance[] = [];
  for (let i = 0; i < count; i++) {
    try {
      const prepared = await port.prepare({ pool: pool.name, launch: { token: spec.token, index: i }, provider: pool.provider, attributes: pool.attributes, userData });
      const launched = await provider.launch(pool.name, 1, { ...spec, token: `${spec.token}.${i}`, userData: prepared.userData, joinToken: prepared.joinToken });
      out.push(...launched); // started, whether or not binding its token works
      for (const inst of launched) await port.bindInstance(prepared.token.id, inst.id);
    } catch (e) {
      if (out.length) throw new PartialLaunchError(out, count, e);
      throw e;
    }
  }
  return out;
}

/** The CLI's way: the master's /v1 endpoints. */
export function httpBootstrapPort(masterUrl: string, agentMasterUrl?: string): BootstrapPort {
  return {
    prepare: (req) => v1<Prepared>(masterUrl, 'POST', '/v1/agent/user-data', { ...req, ...(agentMasterUrl ? { masterUrl: agentMasterUrl } : {}) }),
    bindInstance: async (tokenId, instanceId) => {
      await v1(masterUrl, 'POST', `/v1/tokens/${encodeURIComponent(tokenId)}/instance`, { instanceId });
    },
  };
}

/** The master's way (e.g. the autoscaler running inside it). */
export function inProcessBootstrapPort(service: BootstrapService, tokens: JoinTokens): BootstrapPort {
  return {
    prepare: (req) => service.prepare(req),
    bindInstance: async (tokenId, instanceId) => {
      if ((await tokens.bindInstance(tokenId, instanceId)) === 'conflict') throw new Error(`join token ${tokenId} is already bound to another instance`);
    },
  };
}
