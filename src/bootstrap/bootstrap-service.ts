// The master's side of bootstrapping: for a pool (and a launch), mint the join token and render the
// user-data that carries it (POST /v1/agent/user-data, `spillway agent user-data`, and the launch
// path in bootstrap-launch.ts). Pool details — provider kind, attributes — come from the applied
// policy when it names the pool, else from the request.
import type { Master } from '../master/master.ts';
import { currentPolicy } from '../autoscaler/policy-store.ts';
import type { JoinTokens, JoinTokenView } from '../auth/join-tokens.ts';
import { viewOf } from '../auth/join-tokens.ts';
import { agentBundle } from './agent-bundle.ts';
import { renderUserData, type AgentIdentityConfig, type UserDataFormat } from './user-data.ts';

export interface BootstrapOptions {
  /** The URL agents on VMs use to reach the master (`--advertise-url`); default: the caller's or the master's own. */
  advertiseUrl?: string;
  /** Join token TTL when the caller gives none (default 15 min). */
  tokenTtlMs?: number;
  /** The audience GCP identity tokens are requested for (default `spillway:<cluster>`). */
  gcpAudience?: string;
}

export interface BootstrapSettings extends BootstrapOptions {
  caPem?: string;
  caPin?: string;
  /** The master's own URL (used when nothing better is known). */
  masterUrl: () => string;
}

export interface PrepareRequest {
  pool: string;
  format?: UserDataFormat;
  ttlMs?: number;
  instanceId?: string;
  /** Mint for a launch: the same (pool, token, index) always gives the same join token. */
  launch?: { token: string; index: number };
  /** For pools the applied policy does not name. */
  provider?: string;
  attributes?: Record<string, string>;
  masterUrl?: string;
  /** The URL the request came in on: used when neither masterUrl nor --advertise-url is given. */
  origin?: string;
  prefix?: string;
  /** Metadata server for identity proofs (tests: a loopback fake). */
  metadataUrl?: string;
  /** false: only the token (providers that start agents themselves, e.g. local). */
  userData?: boolean;
}

export interface Prepared {
  userData?: string;
  /** The join token itself: shown once. */
  joinToken: string;
  token: JoinTokenView;
}

export const gcpAudienceFor = (cluster: string): string => `spillway:${cluster}`;

export class BootstrapService {
  constructor(private readonly master: Master, private readonly tokens: JoinTokens, private readonly settings: BootstrapSettings) {}

  async prepare(req: PrepareRequest): Promise<Prepared> {
    const pool = (await currentPolicy(this.master.store))?.policy.pools.find((p) => p.name === req.pool);
    const provider = pool?.provider ?? req.provider;
    const attributes = { ...(req.attributes ?? {}), ...(pool?.attributes ?? {}) };
    // The bundle first: a build failure must not leave a minted token behind.
    const bundle = req.userData === false ? undefined : await agentBundle();
    const identity: AgentIdentityConfig | undefined = provider === 'aws-ec2' || provider === 'gcp-compute'
      ? { provider, ...(provider === 'gcp-compute' ? { audience: this.settings.gcpAudience ?? gcpAudienceFor(this.master.config.cluster) } : {}), ...(req.metadataUrl ? { metadataUrl: req.metadataUrl } : {}) }
      : undefined;
    const render = (joinToken: string): string => renderUserData({
      masterUrl: req.masterUrl ?? this.settings.advertiseUrl ?? req.origin ?? this.settings.masterUrl(),
      bundleSha256: bundle!.sha256,
      pool: req.pool,
      attributes,
      joinToken,
      caPem: this.settings.caPem,
      caPin: this.settings.caPin,
      identity,
      prefix: req.prefix,
      format: req.format,
    });
    if (bundle) render('spwj.check.check'); // a bad prefix or URL is refused before a token exists
    const minted = await this.tokens.mint({
      pool: req.pool, ttlMs: req.ttlMs ?? this.settings.tokenTtlMs, instanceId: req.instanceId, provider, launch: req.launch,
    });
    const token = viewOf(minted.record, this.master.clock.now());
    if (!bundle) return { joinToken: minted.token, token };
    const userData = render(minted.token);
    this.master.log.info({ pool: req.pool, tokenId: token.id, launch: req.launch, bytes: Buffer.byteLength(userData) }, 'user-data rendered with a join token');
    return { userData, joinToken: minted.token, token };
  }
}
