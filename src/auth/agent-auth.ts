// Who may speak for an agent on `POST /api/v1/agent` (docs/API.md "Agent authentication"):
//
// - A SUBSCRIBE with a join token registers a NEW agent: the token must be known, unused, unexpired
//   and unrevoked, for the pool the agent claims, and — when minted for an instance and the master
//   can verify that provider's identity proofs — presented by that very instance. It is spent and
//   traded for a credential bound to the new agent id (header `Spillway-Agent-Credential`).
// - Every later call of that agent (SUBSCRIBE again, PING, UPDATE, …) carries the credential, and
//   the credential acts only for its own agent id.
// - Agents without either are admitted by mode: `required` never, `loopback` (default) only from a
//   loopback peer, `optional` always — but never under the id of an agent that joined with a token.
// Every refusal is logged (no secrets) and counted; 401 when the secret is missing or wrong, 403
// when it is valid but does not allow this.
import type { Counter } from 'prom-client';
import { Counter as PromCounter } from 'prom-client';
import { HttpError } from '../common/errors.ts';
import type { Master } from '../master/master.ts';
import type { AgentCall } from '../master/agent-calls.ts';
import type { MesosAttribute } from '../master/records.ts';
import { credentialString, newSecret, parseAuthorization, secretMatches, sha256hex, type Bearer } from './bearer.ts';
import { JoinTokens, tokenState, type JoinTokenRecord } from './join-tokens.ts';
import { IdentityError, IdentityProofSchema, type IdentityVerifier } from './instance-identity.ts';

export type AgentAuthMode = 'required' | 'loopback' | 'optional';
export const AGENT_AUTH_MODES: readonly AgentAuthMode[] = ['required', 'loopback', 'optional'];

export const CREDENTIAL_HEADER = 'Spillway-Agent-Credential';

export interface AgentAuthOptions {
  mode?: AgentAuthMode;
  identity?: IdentityVerifier;
}

/** How a SUBSCRIBE that was let in finishes once the master registered the agent. */
export interface Admission {
  /** Spends the token and returns the new credential (token joins only). */
  finish(agentId: string): Promise<string | undefined>;
  /** The SUBSCRIBE failed after admission: the token is free again. */
  abort(): void;
}

const OPEN: Admission = { finish: async () => undefined, abort: () => {} };

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\./.test(a);
}

const textAttribute = (attrs: readonly MesosAttribute[], name: string): string | undefined =>
  attrs.find((a) => a.name === name && a.type === 'TEXT')?.text?.value;

export class AgentAuthority {
  readonly mode: AgentAuthMode;
  readonly tokens: JoinTokens;
  private readonly identity: IdentityVerifier | undefined;
  /** Tokens between admission and spending: nobody else may use them meanwhile. */
  private readonly reserved = new Set<string>();
  /** Credentials issued whose agent record is not written yet. */
  private readonly pending = new Map<string, string>();
  private readonly refusals: Counter<'reason'>;

  constructor(private readonly master: Master, opts: AgentAuthOptions = {}) {
    this.mode = opts.mode ?? 'loopback';
    this.identity = opts.identity;
    this.tokens = new JoinTokens(master.store, (ops) => master.persist(ops), master.clock);
    const registry = master.metrics.registry;
    this.refusals = (registry.getSingleMetric('spillway_agent_auth_refused_total') as Counter<'reason'> | undefined) ?? new PromCounter({
      name: 'spillway_agent_auth_refused_total', help: 'Agent calls refused by authentication, by reason', labelNames: ['reason'], registers: [registry],
    });
  }

  /** Identity proof kinds this master verifies (for its start-up log). */
  verifiedIdentityKinds(): string[] {
    return this.identity?.verifiedKinds() ?? [];
  }

  async admitSubscribe(call: AgentCall, peer: string | undefined, authorization: string | undefined): Promise<Admission> {
    const info = call.subscribe?.agent_info;
    const claimed = info?.id?.value;
    const bearer = parseAuthorization(authorization);
    const ctx = { call: 'SUBSCRIBE', agentId: claimed, peer };
    if (!bearer) {
      this.checkOpen(claimed, peer, ctx);
      return OPEN;
    }
    if (bearer.kind === 'credential') {
      if (!claimed) throw this.refuse(400, 'credential-without-id', 'an agent credential re-registers its own agent: give agent_info.id', ctx);
      this.checkCredential(bearer, claimed, ctx);
      return OPEN;
    }
    if (bearer.kind !== 'join-token') throw this.refuse(401, 'malformed', "unrecognised Authorization: expecting 'Bearer spwj.…' (join token) or 'Bearer spwa.…' (agent credential)", ctx);
    return this.admitToken(call, bearer, peer);
  }

  /** Every call but SUBSCRIBE (PING, UPDATE, MESSAGE …): synchronous, from the mirror. */
  checkCall(call: AgentCall, peer: string | undefined, authorization: string | undefined): void {
    const agentId = call.agent_id?.value;
    const ctx = { call: call.type, agentId, peer };
    const bearer = parseAuthorization(authorization);
    if (!bearer) return this.checkOpen(agentId, peer, ctx);
    if (bearer.kind === 'join-token') throw this.refuse(401, 'token-on-call', `a join token is only good for SUBSCRIBE; ${call.type} needs the agent's credential`, ctx);
    if (bearer.kind !== 'credential') throw this.refuse(401, 'malformed', "unrecognised Authorization: expecting 'Bearer spwa.…' (agent credential)", ctx);
    if (!agentId) return; // the call handler answers 400 for the missing agent_id
    this.checkCredential(bearer, agentId, ctx);
  }

  private checkOpen(agentId: string | undefined, peer: string | undefined, ctx: object): void {
    if (agentId && this.credentialOf(agentId)) {
      throw this.refuse(401, 'credential-missing', `agent ${agentId} joined with a token: its calls must carry its credential (Authorization: Bearer spwa.…)`, ctx);
    }
    if (this.mode === 'required') throw this.refuse(401, 'auth-required', 'this master requires agents to join with a token (--agent-auth required)', ctx);
    if (this.mode === 'loopback' && !isLoopback(peer)) {
      throw this.refuse(401, 'auth-required', `agents connecting from ${peer ?? 'an unknown address'} must join with a token (--agent-auth loopback: only loopback agents may join without one)`, ctx);
    }
  }

  private checkCredential(bearer: Extract<Bearer, { kind: 'credential' }>, agentId: string, ctx: object): void {
    if (bearer.agentId !== agentId) throw this.refuse(403, 'wrong-agent', `the credential of agent ${bearer.agentId} cannot act for agent ${agentId}`, ctx);
    if (!secretMatches(bearer.secret, this.credentialOf(agentId))) throw this.refuse(401, 'bad-credential', `unknown or wrong credential for agent ${agentId}`, ctx);
  }

  private credentialOf(agentId: string): string | undefined {
    return this.pending.get(agentId) ?? this.master.state.agents.get(agentId)?.record.credentialSha256;
  }

  private async admitToken(call: AgentCall, bearer: Extract<Bearer, { kind: 'join-token' }>, peer: string | undefined): Promise<Admission> {
    const info = call.subscribe!.agent_info;
    const ctx = { call: 'SUBSCRIBE', tokenId: bearer.tokenId, peer };
    const record = await this.tokens.get(bearer.tokenId);
    if (!record || !secretMatches(bearer.secret, record.secretSha256)) throw this.refuse(401, 'unknown-token', 'unknown join token', ctx);
    if (info.id) throw this.refuse(400, 'token-with-id', `join token ${record.id} registers a new agent: leave agent_info.id out (an agent that already has an id re-registers with its credential)`, ctx);
    const attrs = info.attributes as MesosAttribute[];
    const pool = textAttribute(attrs, 'pool');
    if (pool !== record.pool) {
      throw this.refuse(403, 'wrong-pool', `join token ${record.id} is for pool '${record.pool}'; this agent ${pool ? `says pool '${pool}'` : 'names no pool (attribute pool)'}`, ctx);
    }
    const instance = await this.checkInstance(record, call, attrs, ctx);
    this.checkUsable(record, ctx); // again after the awaits: the state may have moved on
    if (instance && !textAttribute(attrs, 'instance')) attrs.push({ name: 'instance', type: 'TEXT', text: { value: instance } });
    this.reserved.add(record.id);
    const agentId = this.master.newAgentId();
    info.id = { value: agentId };
    const secret = newSecret();
    this.pending.set(agentId, sha256hex(secret));
    let settled = false;
    return {
      finish: async (id: string) => {
        settled = true;
        try {
          const a = this.master.state.agents.get(id);
          if (!a || id !== agentId) throw new Error(`agent ${id} vanished while its join was recorded`);
          a.record.credentialSha256 = this.pending.get(agentId);
          await this.master.persist([this.tokens.spendOp(record, id), { op: 'put', hash: 'agents', id, value: a.record }]);
          this.master.log.info({ agentId: id, tokenId: record.id, pool: record.pool, instance, peer }, 'agent joined with a join token');
          return credentialString(id, secret);
        } finally {
          this.pending.delete(agentId);
          this.reserved.delete(record.id);
        }
      },
      abort: () => {
        if (settled) return;
        settled = true;
        this.pending.delete(agentId);
        this.reserved.delete(record.id);
      },
    };
  }

  private checkUsable(r: JoinTokenRecord, ctx: object): void {
    const now = this.master.clock.now();
    const state = tokenState(r, now);
    if (state === 'revoked') throw this.refuse(401, 'revoked-token', `join token ${r.id} was revoked at ${new Date(r.revokedAt!).toISOString()}`, ctx);
    if (state === 'used') throw this.refuse(401, 'reused-token', `join token ${r.id} was already used by agent ${r.usedBy} at ${new Date(r.usedAt!).toISOString()}`, ctx);
    if (this.reserved.has(r.id)) throw this.refuse(401, 'reused-token', `join token ${r.id} is being used by another agent right now`, ctx);
    if (state === 'expired') throw this.refuse(401, 'expired-token', `join token ${r.id} expired at ${new Date(r.expiresAt).toISOString()}`, ctx);
  }

  /**
   * The instance behind the join: from a verified identity proof where this master checks the
   * pool's provider, else the agent's own `instance` attribute. Must match the instance the token
   * was minted for, when that is known.
   */
  private async checkInstance(r: JoinTokenRecord, call: AgentCall, attrs: MesosAttribute[], ctx: object): Promise<string | undefined> {
    this.checkUsable(r, ctx);
    const said = textAttribute(attrs, 'instance');
    let instance = said;
    if (this.identity?.verifies(r.provider)) {
      const proof = IdentityProofSchema.safeParse((call.subscribe as { identity?: unknown }).identity ?? {});
      if (!proof.success) throw this.refuse(400, 'bad-identity', `subscribe.identity: ${proof.error.issues[0]?.message ?? 'invalid'}`, ctx);
      try {
        const verified = await this.identity.verify(r.provider, proof.data);
        instance = verified.instanceId;
      } catch (e) {
        if (e instanceof IdentityError) throw this.refuse(403, 'bad-identity', `join token ${r.id}: ${e.message}`, ctx);
        throw e;
      }
      if (said && said !== instance) throw this.refuse(403, 'wrong-instance', `this agent says it is instance ${said}, but its identity proof is for ${instance}`, ctx);
    }
    if (r.instanceId && instance !== r.instanceId) {
      throw this.refuse(403, 'wrong-instance', `join token ${r.id} was minted for instance ${r.instanceId}; this agent is ${instance ? `instance ${instance}` : 'no known instance'}`, ctx);
    }
    return instance;
  }

  private refuse(status: number, reason: string, message: string, ctx: object): HttpError {
    this.refusals.inc({ reason });
    this.master.log.warn({ ...ctx, reason, status }, `agent refused: ${message}`);
    return new HttpError(status, message);
  }
}
