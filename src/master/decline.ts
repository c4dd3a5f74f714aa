// DECLINE, as Mesos' master handles it: offer by offer. An offer that is no longer valid
// (rescinded, already used) or not the caller's is skipped — a framework that declines all it holds
// in one call, across agents, must still get its `refuse_seconds` on every offer that was its own
// (run through ACCEPT's all-or-nothing checks, one stale id cost it every filter: an offer storm).
import { addSets, NO_RESOURCES, type ResourceSet } from '../resources/resource-set.ts';
import type { Master } from './master.ts';
import type { FrameworkLive, Offer } from './records.ts';

export function decline(m: Master, f: FrameworkLive, offerIds: string[], refuseSeconds?: number): void {
  const now = m.clock.now();
  const filter = { refuseSeconds: refuseSeconds ?? m.config.defaultRefuseSeconds, now };
  // The allocator keeps one filter per framework role and agent: offers of one agent go back as one.
  const byAgent = new Map<string, { first: Offer; resources: ResourceSet }>();
  for (const id of new Set(offerIds)) {
    const o = m.state.offers.get(id);
    if (!o || o.frameworkId !== f.record.id) {
      m.log.debug({ frameworkId: f.record.id, offerId: id }, 'ignoring DECLINE of an offer that is no longer valid');
      continue;
    }
    m.state.deleteOffer(o);
    const key = `${o.agentId}\u0000${o.role}\u0000${o.optimistic ? 1 : 0}`;
    const g = byAgent.get(key) ?? { first: o, resources: NO_RESOURCES };
    g.resources = addSets(g.resources, o.resources);
    byAgent.set(key, g);
  }
  for (const { first: o, resources } of byAgent.values()) {
    // An optimistic offer held nothing: only the filter is set.
    if (o.optimistic) m.allocator.refuse(o.frameworkId, o.role, o.agentId, resources, filter.refuseSeconds, now);
    else m.allocator.recover(o.frameworkId, o.role, o.agentId, resources, filter);
  }
  m.scheduleAllocation();
}
