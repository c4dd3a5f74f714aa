// Quota guarantees (Mesos ≥ 1.9): enough unreserved resources are held back to satisfy every
// role's unmet guarantee. A role may take from the shared pool its own unmet guarantee plus
// whatever the pool has beyond the headroom all guarantees still need.
import type { RoleNode } from '../../src/allocator/role-tree.ts';

/** A guaranteed role's shortfall: guarantee − consumption, per scalar, floored at zero. */
export function unmetGuarantee(node: RoleNode): Record<string, number> {
  const out: Record<string, number> = {};
  const g = node.quota?.guarantees;
  if (!g) return out;
  const used = node.consumption().scalars;
  // Met names stay in with 0, so a stage-1 offer cannot carry more of them.
  for (const [name, want] of Object.entries(g)) out[name] = Math.max(0, want - (used[name] ?? 0));
  return out;
}

/** Unmet guarantee of a role or of its nearest guaranteed ancestor (what allocating here helps). */
export function unmetFor(node: RoleNode): Record<string, number> {
  for (let n: RoleNode | undefined = node; n && n.path !== ''; n = n.parent) {
    if (n.quota && Object.keys(n.quota.guarantees).length) return unmetGuarantee(n);
  }
  return {};
}

/** Sum of unmet guarantees over the top-most guaranteed roles (nested ones are inside them). */
export function requiredHeadroom(guaranteed: Iterable<RoleNode>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of guaranteed) {
    let nested = false;
    for (let p = n.parent; p && p.path !== ''; p = p.parent) if (p.quota && Object.keys(p.quota.guarantees).length) nested = true;
    if (nested) continue;
    for (const [k, v] of Object.entries(unmetGuarantee(n))) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

/**
 * How much unreserved a role may take now: its own unmet guarantee plus the pool's surplus over
 * the headroom. Only names with a headroom requirement are bounded.
 */
export function headroomAllowance(
  node: RoleNode, required: Record<string, number>, available: Record<string, number>,
): Record<string, number> | undefined {
  const names = Object.keys(required);
  if (names.length === 0) return undefined;
  const mine = unmetFor(node);
  const out: Record<string, number> = {};
  for (const k of names) out[k] = Math.max(0, (available[k] ?? 0) - required[k]) + (mine[k] ?? 0);
  return out;
}
