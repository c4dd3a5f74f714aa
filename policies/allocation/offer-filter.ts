// Offer filters (DECLINE / ACCEPT `refuse_seconds`): a framework that refused an agent's resources
// is not offered them again until the filter expires — unless the agent now has more than was
// refused (Mesos semantics). The engine keeps filters in typed arrays indexed by agent slot, and a
// filter remembers the agent's free-resources version, so the common case is two array reads.
import { containsSet, type ResourceSet } from '../../src/resources/resource-set.ts';

export class OfferFilters {
  private until = new Float64Array(64);
  private version = new Float64Array(64);
  private readonly refused = new Map<number, ResourceSet>();

  set(slot: number, refused: ResourceSet, expiresAt: number, agentVersion: number): void {
    this.grow(slot);
    this.until[slot] = expiresAt;
    this.version[slot] = agentVersion;
    this.refused.set(slot, refused);
  }

  /** True when the filter on `slot` still refuses `offerable`. */
  refuses(slot: number, offerable: ResourceSet, now: number, agentVersion: number): boolean {
    if (slot >= this.until.length || this.until[slot] <= now) return false;
    if (this.version[slot] === agentVersion) return true;
    const refused = this.refused.get(slot);
    if (!refused || !containsSet(refused, offerable)) return false;
    this.version[slot] = agentVersion; // still refused at this version: remember it
    return true;
  }

  clear(slot?: number): void {
    if (slot === undefined) {
      this.until.fill(0);
      this.refused.clear();
      return;
    }
    if (slot < this.until.length) this.until[slot] = 0;
    this.refused.delete(slot);
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
