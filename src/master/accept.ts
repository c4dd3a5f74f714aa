// ACCEPT (DECLINE is decline.ts: offer by offer), with Mesos' validation: the offers must be
// valid, the framework's own and on one agent; operations apply in order to what the offers hold —
// RESERVE and UNRESERVE re-label resources, LAUNCH takes them for tasks — and whatever is left goes
// back to the agent, filtered for `refuse_seconds`.
import * as z from 'zod';
import type { Operation, TaskInfo } from '../mesos/scheduler-call.ts';
import { MesosResourceSchema, fromMesosSet } from '../resources/mesos-resources.ts';
import {
  addSets, containsSet, filterSet, flatten, formatSet, subtractSets, unreservedSet, NO_RESOURCES, type ResourceSet,
} from '../resources/resource-set.ts';
import type { WriteOp } from '../store/store.ts';
import type { Master } from './master.ts';
import { hasCapability, type FrameworkLive, type Offer, type TaskRecord } from './records.ts';
import { isLive, sendUntracked } from './scheduler-calls.ts';
import { validateTask } from './task-validation.ts';
import { launchEventJson } from './task-json.ts';

const ReserveOp = z.looseObject({ resources: z.array(MesosResourceSchema).min(1) });

interface Relabel { from: ResourceSet; to: ResourceSet }

export async function accept(m: Master, f: FrameworkLive, offerIds: string[], operations: Operation[], refuseSeconds?: number): Promise<void> {
  const fid = f.record.id;
  const now = m.clock.now();
  const launches = operations.flatMap((op) => (op.type === 'LAUNCH' ? op.launch?.task_infos ?? [] : []));
  const offers: Offer[] = [];
  let invalid: string | undefined = offerIds.length === 0 ? 'No offers specified' : undefined;
  const seen = new Set<string>();
  for (const id of offerIds) {
    const o = m.state.offers.get(id);
    if (seen.has(id)) invalid ??= `Offer ${id} appears more than once`;
    else if (!o) invalid ??= `Offer ${id} is no longer valid`;
    else if (o.frameworkId !== fid) invalid ??= `Offer ${id} belongs to another framework`;
    else offers.push(o);
    seen.add(id);
  }
  if (!invalid && new Set(offers.map((o) => o.agentId)).size > 1) invalid = 'Aggregated offers must belong to one agent';
  if (!invalid && new Set(offers.map((o) => o.role)).size > 1) invalid = 'Aggregated offers must be allocated to one role';
  // Offers leave the book now, so a concurrent ACCEPT of the same offer finds nothing.
  for (const o of offers) m.state.deleteOffer(o);
  const agentId = offers[0]?.agentId;
  const role = offers[0]?.role;
  const agent = agentId ? m.state.agents.get(agentId) : undefined;
  const optimistic = offers.some((o) => o.optimistic);
  let held = offers.reduce((r: ResourceSet, o) => addSets(r, o.resources), NO_RESOURCES);
  if (!invalid && !agent?.stream) invalid = `Agent ${agentId} is not connected`;
  // An optimistic offer is only as good as what the agent still has free (another may have won).
  if (!invalid && optimistic && !containsSet(m.allocator.agentFree(agentId!), held)) {
    invalid = `Offer ${offers[0].id} was already taken by another framework's ACCEPT (optimistic offers)`;
  }
  // Optimistic offers are not budgeted against quota when made, so check it when they are taken.
  const quotaProblem = !invalid && optimistic ? m.allocator.quotaViolation(role!, held) : undefined;
  if (quotaProblem) invalid = `Offer ${offers[0].id} cannot be accepted: ${quotaProblem}`;
  if (invalid) {
    if (!optimistic) for (const o of offers) m.allocator.recover(fid, o.role, o.agentId, o.resources);
    const partitionAware = hasCapability(f.record.info, 'PARTITION_AWARE');
    for (const t of launches) sendUntracked(m, f, t, partitionAware ? 'TASK_DROPPED' : 'TASK_LOST', invalid, 'REASON_INVALID_OFFERS');
    m.scheduleAllocation();
    return;
  }
  // In optimistic mode nothing was held: take the offered resources now, synchronously.
  if (optimistic) m.allocator.allocate(fid, role!, agentId!, held);

  const launched: TaskRecord[] = [];
  const relabels: Relabel[] = [];
  const idsHere = new Set<string>();
  const dropped: { type: string; message: string }[] = [];
  for (const op of operations) {
    if (op.type === 'LAUNCH') {
      for (const info of op.launch?.task_infos ?? []) {
        const check = validateTask(info, {
          agentId: agentId!, available: held,
          idInUse: (tid) => idsHere.has(tid) || isLive(m.state.task(fid, tid)),
        });
        if (!check.ok) {
          sendUntracked(m, f, info, 'TASK_ERROR', check.error, 'REASON_TASK_INVALID');
          continue;
        }
        idsHere.add(info.task_id.value);
        held = subtractSets(held, check.resources);
        launched.push({ frameworkId: fid, agentId: agentId!, role: role!, info, resources: check.resources, state: 'TASK_STAGING', statuses: [], pending: [] });
      }
    } else if (op.type === 'RESERVE' || op.type === 'UNRESERVE') {
      const r = relabel(op, role!, f.record.info.principal, held);
      if ('error' in r) { dropped.push({ type: op.type, message: r.error }); continue; }
      held = addSets(subtractSets(held, r.from), r.to);
      relabels.push(r);
    } else {
      const tasks = op.type === 'LAUNCH_GROUP' ? ((op as { launch_group?: { task_group?: { tasks?: TaskInfo[] } } }).launch_group?.task_group?.tasks ?? []) : [];
      // Its tasks hear why (TASK_ERROR); the operator sees it as any other dropped operation.
      for (const t of tasks) sendUntracked(m, f, t, 'TASK_ERROR', `Operation ${op.type} is not supported`, 'REASON_TASK_INVALID');
      dropped.push({ type: op.type, message: `operation ${op.type} is not supported` });
    }
  }
  // As Mesos' Master::drop: "no direct feedback to the framework when an operation is dropped" —
  // it sees the resources come back in later offers. (An ERROR event would tell a Mesos scheduler
  // to abort.) The operator sees it in the log and the metric.
  for (const d of dropped) {
    m.metrics.operationsDropped.inc({ type: d.type });
    m.log.warn({ frameworkId: fid, operation: d.type }, `Dropping ${d.type} offer operation from framework ${fid}: ${d.message}`);
  }

  const ops: WriteOp[] = [];
  if (relabels.length) {
    const a = agent!;
    for (const r of relabels) m.allocator.relabelHeld(agentId!, r.from, r.to);
    a.record.resources = m.allocator.agentTotal(agentId!);
    let dyn = a.record.dynamicReservations ?? NO_RESOURCES;
    for (const r of relabels) dyn = addSets(subtractSets(dyn, filterSet(r.from, (b) => b.reservation?.type === 'DYNAMIC')), filterSet(r.to, (b) => b.reservation?.type === 'DYNAMIC'));
    a.record.dynamicReservations = dyn;
    ops.push({ op: 'put', hash: 'agents', id: agentId!, value: a.record });
  }
  for (const t of launched) {
    m.state.putTask(t);
    m.launching.add(t);
  }
  m.allocator.recover(fid, role!, agentId!, held, { refuseSeconds: refuseSeconds ?? m.config.defaultRefuseSeconds, now });
  try {
    if (launched.length && m.launchGate) await m.launchGate.take(launched.length);
    // While the gate held them the framework may have gone (TEARDOWN, failover timeout): its
    // tasks were removed with it and must not be written back.
    const current = (): TaskRecord[] => launched.filter((t) => m.state.task(fid, t.info.task_id.value) === t);
    const kept = current();
    ops.push(...kept.map((t) => m.putTaskOp(t)));
    if (kept.length) ops.push(...m.satisfyDemand(fid, kept.map((t) => t.resources)));
    if (ops.length) await m.persist(ops);
    // A KILL that came meanwhile was held back (kill: the agent would not have known the task);
    // such a task is not launched but ends TASK_KILLED here, its resources returned.
    const killed: TaskRecord[] = [];
    for (const t of current()) {
      if (t.killRequested) { killed.push(t); continue; }
      agent!.stream?.sendJson(launchEventJson(t));
      m.metrics.tasksLaunched.inc();
    }
    // The LAUNCHes reach the agent's socket before the framework hears 202: flush() writes them
    // through (coalesced-writes.ts writeNow) while the 202 waits for the end of the turn, so a
    // master killed after answering has already handed them to the kernel.
    if (launched.length) agent!.stream?.flush();
    if (killed.length) await endKilledBeforeLaunch(m, killed);
  } finally {
    for (const t of launched) m.launching.delete(t);
  }
  if (optimistic) m.rescindStaleOptimisticOffers(agentId!);
  m.scheduleAllocation();
}

async function endKilledBeforeLaunch(m: Master, killed: TaskRecord[]): Promise<void> {
  const ops = killed.flatMap((t) => {
    t.killRequested = false;
    return m.applyStatus(t, m.masterStatus(t, 'TASK_KILLED', 'Killed before it was launched', 'REASON_TASK_KILLED_DURING_LAUNCH'));
  });
  await m.persist(ops);
  for (const t of killed) if (t.pending.length === 1) m.deliverHead(t);
}

/** RESERVE / UNRESERVE inside an ACCEPT: what to take from the offer and what it becomes. */
function relabel(op: Operation, role: string, principal: string | undefined, held: ResourceSet): Relabel | { error: string } {
  const body = (op as { reserve?: unknown; unreserve?: unknown })[op.type === 'RESERVE' ? 'reserve' : 'unreserve'];
  const parsedOp = ReserveOp.safeParse(body);
  if (!parsedOp.success) return { error: `expecting '${op.type.toLowerCase()}.resources'` };
  const parsed = fromMesosSet(parsedOp.data.resources);
  if (!parsed.ok) return { error: parsed.error };
  const target = parsed.value;
  for (const b of target) {
    if (b.reservation?.type !== 'DYNAMIC') return { error: 'only DYNAMIC reservations can be made or removed by frameworks' };
    if (b.reservation.role !== role) return { error: `cannot reserve for role '${b.reservation.role}' with resources offered to role '${role}'` };
    if (op.type === 'RESERVE' && principal && b.reservation.principal && b.reservation.principal !== principal) {
      return { error: `reservation principal '${b.reservation.principal}' does not match the framework's principal '${principal}'` };
    }
  }
  if (op.type === 'RESERVE') {
    const from = unreservedSet(flatten(target));
    if (!containsSet(held, from)) return { error: `the offer does not hold ${formatSet(from)} unreserved (it holds ${formatSet(held)})` };
    return { from, to: target };
  }
  if (!containsSet(held, target)) return { error: `the offer does not hold the reservation ${formatSet(target)}` };
  return { from: target, to: unreservedSet(flatten(target)) };
}
