// Join tokens in the master's Redis (hash `join_tokens`, id → record), written through the
// master's fenced `persist` and read on demand (they are few and short-lived; no mirror to keep
// fresh across leaders). A record holds the sha256 of the secret, never the secret.
//
// Tokens minted for a launch are derived: id and secret are HMACs of (pool, launch token, index)
// under the master's join key (meta `join_key`, made once). Minting again for the same launch —
// a retry after a lost reply or a crash — yields the same token, so the user-data is byte-for-byte
// the same and the cloud's own idempotency (EC2 ClientToken) still matches. Tokens minted by hand
// (`spillway token create`) are random.
import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import type { Store, WriteOp } from '../store/store.ts';
import { joinTokenString, newSecret, sha256hex } from './bearer.ts';

export const DEFAULT_TOKEN_TTL_MS = 15 * 60_000;
export const MAX_TOKEN_TTL_MS = 7 * 24 * 3600_000;
/** Used, revoked or expired records are dropped this long after the fact. */
const KEEP_SPENT_MS = 24 * 3600_000;
const HASH = 'join_tokens' as const;

export interface JoinTokenRecord {
  id: string;
  pool: string;
  /** The instance it was minted for, when known (then the joining agent must be that instance). */
  instanceId?: string;
  /** The pool's provider kind: decides which instance identity proof the agent must present. */
  provider?: string;
  secretSha256: string;
  createdAt: number;
  expiresAt: number;
  /** Set for tokens minted for a launch. */
  launch?: { token: string; index: number };
  usedAt?: number;
  /** The agent id it was traded for. */
  usedBy?: string;
  revokedAt?: number;
}

export type TokenState = 'unused' | 'used' | 'expired' | 'revoked';

/** What listings show: everything but the digest. */
export interface JoinTokenView {
  id: string;
  pool: string;
  instanceId?: string;
  provider?: string;
  state: TokenState;
  createdAt: string;
  expiresAt: string;
  usedAt?: string;
  usedBy?: string;
  revokedAt?: string;
  launch?: { token: string; index: number };
}

export interface MintRequest {
  pool: string;
  ttlMs?: number;
  instanceId?: string;
  provider?: string;
  launch?: { token: string; index: number };
}

export interface Minted {
  /** The secret, shown once. */
  token: string;
  record: JoinTokenRecord;
}

export function tokenState(r: JoinTokenRecord, now: number): TokenState {
  if (r.revokedAt !== undefined) return 'revoked';
  if (r.usedAt !== undefined) return 'used';
  if (now >= r.expiresAt) return 'expired';
  return 'unused';
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function viewOf(r: JoinTokenRecord, now: number): JoinTokenView {
  const v: JoinTokenView = {
    id: r.id, pool: r.pool, state: tokenState(r, now), createdAt: iso(r.createdAt)!, expiresAt: iso(r.expiresAt)!,
  };
  if (r.instanceId) v.instanceId = r.instanceId;
  if (r.provider) v.provider = r.provider;
  if (r.launch) v.launch = r.launch;
  if (r.usedAt !== undefined) v.usedAt = iso(r.usedAt);
  if (r.usedBy) v.usedBy = r.usedBy;
  if (r.revokedAt !== undefined) v.revokedAt = iso(r.revokedAt);
  return v;
}

export class JoinTokens {
  private joinKey: Buffer | undefined;
  /** Mints are serialised: the first one makes the join key, and derived mints check-then-write. */
  private minting: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: Store, private readonly write: (ops: WriteOp[]) => Promise<void>, private readonly clock: Clock) {}

  async get(id: string): Promise<JoinTokenRecord | undefined> {
    return (await this.store.readHash(HASH)).get(id) as JoinTokenRecord | undefined;
  }

  async all(): Promise<JoinTokenRecord[]> {
    return ([...(await this.store.readHash(HASH)).values()] as JoinTokenRecord[]).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  mint(req: MintRequest): Promise<Minted> {
    const next = this.minting.catch(() => {}).then(() => this.mintNow(req));
    this.minting = next;
    return next;
  }

  private async mintNow(req: MintRequest): Promise<Minted> {
    const now = this.clock.now();
    const ttl = req.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    let id: string;
    let secret: string;
    const all = await this.store.readHash(HASH);
    if (req.launch) {
      const key = await this.key();
      const what = `${req.pool}\n${req.launch.token}\n${req.launch.index}`;
      id = `l${createHmac('sha256', key).update(`id\n${what}`).digest('hex').slice(0, 19)}`;
      secret = createHmac('sha256', key).update(`secret\n${what}`).digest('base64url');
      const existing = all.get(id) as JoinTokenRecord | undefined;
      if (existing) return { token: joinTokenString(id, secret), record: existing };
    } else {
      id = `t${randomBytes(10).toString('hex').slice(0, 19)}`;
      secret = newSecret();
    }
    const record: JoinTokenRecord = { id, pool: req.pool, secretSha256: sha256hex(secret), createdAt: now, expiresAt: now + ttl };
    if (req.instanceId) record.instanceId = req.instanceId;
    if (req.provider) record.provider = req.provider;
    if (req.launch) record.launch = req.launch;
    const ops: WriteOp[] = [{ op: 'put', hash: HASH, id, value: record }];
    for (const old of all.values() as Iterable<JoinTokenRecord>) {
      const spentAt = old.usedAt ?? old.revokedAt ?? old.expiresAt;
      if (tokenState(old, now) !== 'unused' && now - spentAt > KEEP_SPENT_MS) ops.push({ op: 'delete', hash: HASH, id: old.id });
    }
    await this.write(ops);
    return { token: joinTokenString(id, secret), record };
  }

  /** Revokes an unused token (a used one stays used; its agent keeps its credential). */
  async revoke(id: string): Promise<JoinTokenRecord | undefined> {
    const r = await this.get(id);
    if (!r) return undefined;
    if (r.revokedAt === undefined && r.usedAt === undefined) {
      r.revokedAt = this.clock.now();
      await this.write([{ op: 'put', hash: HASH, id, value: r }]);
    }
    return r;
  }

  /** Records the instance a launch-minted token went to (known once the provider answered). */
  async bindInstance(id: string, instanceId: string): Promise<JoinTokenRecord | 'conflict' | undefined> {
    const r = await this.get(id);
    if (!r) return undefined;
    if (r.instanceId === instanceId) return r;
    if (r.instanceId !== undefined) return 'conflict';
    r.instanceId = instanceId;
    await this.write([{ op: 'put', hash: HASH, id, value: r }]);
    return r;
  }

  /** The write that spends a token on an agent (batched by the caller with the agent's credential). */
  spendOp(r: JoinTokenRecord, agentId: string): WriteOp {
    return { op: 'put', hash: HASH, id: r.id, value: { ...r, usedAt: this.clock.now(), usedBy: agentId } };
  }

  private async key(): Promise<Buffer> {
    if (this.joinKey) return this.joinKey;
    const stored = (await this.store.readHash('meta')).get('join_key');
    if (typeof stored === 'string') return (this.joinKey = Buffer.from(stored, 'base64'));
    const fresh = randomBytes(32);
    await this.write([{ op: 'put', hash: 'meta', id: 'join_key', value: fresh.toString('base64') }]);
    return (this.joinKey = fresh);
  }
}
