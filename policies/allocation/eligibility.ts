// Which of an agent's free resources a framework in a role may be offered at all: unreserved ones,
// ones reserved for its role or an ancestor role, and revocable ones only to frameworks with the
// REVOCABLE_RESOURCES capability.
import { usableBy, type ResourceSet } from '../../src/resources/resource-set.ts';

export function eligibleResources(free: ResourceSet, role: string, revocableAllowed: boolean): ResourceSet {
  return usableBy(free, role, revocableAllowed);
}
