// Quota limits (Mesos ≥ 1.9): what a role may still take, as the tightest room left under its own
// limit and every ancestor's. Consumption counts allocation plus unallocated reservations, so a
// limit is never exceeded even by resources already reserved for the role.
import type { RoleNode } from '../../src/allocator/role-tree.ts';

export function limitAllowance(node: RoleNode): Record<string, number> | undefined {
  let allowance: Record<string, number> | undefined;
  for (let n: RoleNode | undefined = node; n && n.path !== ''; n = n.parent) {
    const limits = n.quota?.limits;
    if (!limits) continue;
    const used = n.consumption().scalars;
    allowance ??= {};
    for (const [name, limit] of Object.entries(limits)) {
      const room = limit - (used[name] ?? 0);
      allowance[name] = Math.min(allowance[name] ?? Infinity, room);
    }
  }
  return allowance;
}
