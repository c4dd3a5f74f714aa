// Offer filters (DECLINE / ACCEPT `refuse_seconds`): a framework that refused an agent's resources
// is not offered them again until the filter expires — unless the agent now has more than was
// refused (Mesos semantics). The engine keeps filters in typed arrays indexed by agent slot, and a
// filter remembers the agent's free-resources version, so the common case is two array reads.
import { containsSet, type ResourceSet } from '../../src/resources/resource-set.ts';

export class OfferFilters {
  private until = new Float64Array(64);
  private version = new Float64Array(64);
  /** Dense, by slot: 8 bytes a slot instead of a Map entry (~40 bytes) when most slots are used. */
  private refused: (ResourceSet | undefined)[] = [];
  /** How many slots hold a filter set at agent version `countVersion`, and the earliest expiry among them. */
  private countVersion = -1;
  private count = 0;
  private minUntil = Infinity;

  /**
   * `agentVersion` is the agent's free-resources version for which everything offerable is inside
   * `refused` (pass -1 when that is not so: every look then compares resources).
   */
  set(slot: number, refused: ResourceSet, expiresAt: number, agentVersion: number): void {
    this.grow(slot);
    if (agentVersion >= 0 && agentVersion > this.countVersion) {
      this.countVersion = agentVersion;
      this.count = 0;
      this.minUntil = Infinity;
    }
    const counted = this.until[slot] !== 0 && this.version[slot] === this.countVersion;
    if (agentVersion === this.countVersion) {
      if (!counted) this.count++;
      this.minUntil = Math.min(this.minUntil, expiresAt);
    } else if (counted) {
      this.count--;
    }
    this.until[slot] = expiresAt;
    this.version[slot] = agentVersion;
    while (this.refused.length < slot) this.refused.push(undefined);
    this.refused[slot] = refused;
  }

  /**
   * True when `clients` slots (every client there is) hold live filters set at this agent version:
   * nobody can be offered anything here, and the round skips the agent without looking at each.
   */
  refusesAll(clients: number, now: number, agentVersion: number): boolean {
    return this.countVersion === agentVersion && this.count >= clients && now < this.minUntil;
  }

  /** peek() === 'refused', as a boolean the round's inner loop can afford for every pair. */
  refusedAt(slot: number, now: number, agentVersion: number): boolean {
    return slot < this.until.length && this.until[slot] > now && this.version[slot] === agentVersion;
  }

  /**
   * The cheap first look: 'none' (no live filter), 'refused' (the agent has not changed since the
   * filter was set and everything it had was refused), or 'check' (compare the actual offer).
   */
  peek(slot: number, now: number, agentVersion: number): 'none' | 'refused' | 'check' {
    if (slot >= this.until.length || this.until[slot] <= now) return 'none';
    return this.version[slot] === agentVersion ? 'refused' : 'check';
  }

  /** True when the filter on `slot` refuses `offer` (the offer as it would be made, after quota cuts). */
  refuses(slot: number, offer: ResourceSet, now: number): boolean {
    if (slot >= this.until.length || this.until[slot] <= now) return false;
    const refused = this.refused[slot];
    return refused !== undefined && containsSet(refused, offer);
  }

  clear(slot?: number): void {
    if (slot === undefined) {
      this.until.fill(0);
      this.refused = [];
      this.count = 0;
      return;
    }
    if (slot < this.until.length) {
      if (this.until[slot] !== 0 && this.version[slot] === this.countVersion) this.count--;
      this.until[slot] = 0;
    }
    if (slot < this.refused.length) this.refused[slot] = undefined;
  }

  private grow(slot: number): void {
    if (slot < this.until.length) return;
    let n = this.until.length;
    while (n <= slot) n *= 2;
    const u = new Float64Array(n);
    u.set(this.until);
    const v = new Float64Array(n);
    v.set(this.version);
    this.until = u;
    this.version = v;
  }
}
