// Inverse offers (Mesos maintenance primitives): every framework running tasks on an agent whose
// machine is DRAINING gets an INVERSE_OFFERS event asking for the agent back by the machine's
// unavailability; ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS record its answer (shown by
// GET_MAINTENANCE_STATUS, persisted in `inverse_offer_statuses`) and, like a declined offer, filter
// the next inverse offer for `refuse_seconds` (default 5). Answers are hints: the master acts on
// none of them, as in Mesos. Outstanding inverse offers are transient, like offers.
import type { WriteOp } from '../store/store.ts';
import { isTerminal } from '../mesos/task-status.ts';
import type { Master } from './master.ts';
import { nanos } from './mesos-json.ts';
import type { FrameworkLive } from './records.ts';
import type { Unavailability } from './maintenance-schedule.ts';

export type InverseOfferAnswer = 'ACCEPT' | 'DECLINE';

export interface InverseOffer {
  id: string;
  frameworkId: string;
  agentId: string;
  unavailability: Unavailability;
  /** The subscription it was sent on; a new subscription gets it afresh. */
  streamId: string;
}

/** One record of `inverse_offer_statuses` (key `agentId|frameworkId`): Mesos' InverseOfferStatus. */
export interface InverseOfferStatusRecord {
  agentId: string;
  status: { status: InverseOfferAnswer; framework_id: { value: string }; timestamp: { nanoseconds: number } };
}

const DEFAULT_REFUSE_SECONDS = 5;
const pairKey = (agentId: string, frameworkId: string): string => `${agentId}|${frameworkId}`;

export class InverseOffers {
  readonly outstanding = new Map<string, InverseOffer>();
  readonly statuses = new Map<string, InverseOfferStatusRecord>();
  /** Until when (ms) no inverse offer goes to a framework for an agent, after its answer. */
  private readonly filters = new Map<string, number>();
  private nextSeq = 0;

  constructor(private readonly m: Master) {}

  async recover(): Promise<void> {
    for (const [k, v] of await this.m.store.readHash('inverse_offer_statuses')) this.statuses.set(k, v as InverseOfferStatusRecord);
  }

  /**
   * Sends inverse offers for draining agents (`unavailabilityOf` answers for agents on DRAINING
   * machines) to each connected framework with live tasks there that has none outstanding.
   */
  send(unavailabilityOf: (agentId: string) => Unavailability | undefined): void {
    const now = this.m.clock.now();
    this.dropStale();
    const byFramework = new Map<string, object[]>();
    for (const a of this.m.state.agents.values()) {
      if (a.record.unreachableSince) continue;
      const unavailability = unavailabilityOf(a.record.id);
      if (!unavailability) continue;
      const frameworks = new Set(this.m.state.tasksOfAgent(a.record.id).filter((t) => !isTerminal(t.state)).map((t) => t.frameworkId));
      for (const fid of frameworks) {
        const f = this.m.state.frameworks.get(fid);
        if (!f?.stream || this.has(a.record.id, fid) || (this.filters.get(pairKey(a.record.id, fid)) ?? 0) > now) continue;
        const io: InverseOffer = { id: `${this.m.id}-IO${this.nextSeq++}`, frameworkId: fid, agentId: a.record.id, unavailability, streamId: f.stream.id };
        this.outstanding.set(io.id, io);
        let list = byFramework.get(fid);
        if (!list) byFramework.set(fid, (list = []));
        list.push(this.json(io));
      }
    }
    for (const [fid, inverse_offers] of byFramework) {
      this.m.state.frameworks.get(fid)?.stream?.send({ type: 'INVERSE_OFFERS', inverse_offers: { inverse_offers } });
    }
  }

  /** ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS from a framework (unknown ids are ignored, as in Mesos). */
  async answer(f: FrameworkLive, ids: string[], answer: InverseOfferAnswer, refuseSeconds?: number): Promise<void> {
    const now = this.m.clock.now();
    const ops: WriteOp[] = [];
    const answered: InverseOffer[] = [];
    for (const id of ids) {
      const io = this.outstanding.get(id);
      if (!io || io.frameworkId !== f.record.id) {
        this.m.log.warn({ frameworkId: f.record.id, inverseOfferId: id }, `ignoring ${answer} of an inverse offer that is no longer valid`);
        continue;
      }
      const key = pairKey(io.agentId, io.frameworkId);
      const record: InverseOfferStatusRecord = { agentId: io.agentId, status: { status: answer, framework_id: { value: io.frameworkId }, timestamp: nanos(now) } };
      ops.push({ op: 'put', hash: 'inverse_offer_statuses', id: key, value: record });
      answered.push(io);
    }
    await this.m.persist(ops);
    for (const io of answered) {
      const key = pairKey(io.agentId, io.frameworkId);
      this.outstanding.delete(io.id);
      this.statuses.set(key, (ops.find((o) => o.op === 'put' && o.id === key) as { value: InverseOfferStatusRecord }).value);
      this.filters.set(key, now + (refuseSeconds ?? DEFAULT_REFUSE_SECONDS) * 1000);
    }
  }

  /** Withdraws the outstanding inverse offers on these agents (RESCIND_INVERSE_OFFER). */
  rescindOn(agentIds: Set<string>): void {
    for (const io of [...this.outstanding.values()]) {
      if (!agentIds.has(io.agentId)) continue;
      this.outstanding.delete(io.id);
      this.m.state.frameworks.get(io.frameworkId)?.stream?.send({ type: 'RESCIND_INVERSE_OFFER', rescind_inverse_offer: { inverse_offer_id: { value: io.id } } });
    }
    for (const key of [...this.filters.keys()]) if (agentIds.has(key.slice(0, key.lastIndexOf('|')))) this.filters.delete(key);
  }

  /** Ops that drop the recorded answers for these agents (their machine left DRAINING). */
  forgetStatusOps(agentIds: Set<string>): WriteOp[] {
    const ops: WriteOp[] = [];
    for (const [key, r] of [...this.statuses]) {
      if (!agentIds.has(r.agentId)) continue;
      this.statuses.delete(key);
      ops.push({ op: 'delete', hash: 'inverse_offer_statuses', id: key });
    }
    return ops;
  }

  statusesOf(agentId: string): InverseOfferStatusRecord['status'][] {
    return [...this.statuses.values()].filter((r) => r.agentId === agentId).map((r) => r.status);
  }

  /** GET_FRAMEWORKS `inverse_offers` of one framework. */
  ofFramework(frameworkId: string): object[] {
    return [...this.outstanding.values()].filter((io) => io.frameworkId === frameworkId).map((io) => this.json(io));
  }

  private has(agentId: string, frameworkId: string): boolean {
    for (const io of this.outstanding.values()) if (io.agentId === agentId && io.frameworkId === frameworkId) return true;
    return false;
  }

  /** Inverse offers sent on a subscription that has since ended are dropped (re-sent to the new one). */
  private dropStale(): void {
    for (const io of [...this.outstanding.values()]) {
      const f = this.m.state.frameworks.get(io.frameworkId);
      if (!f?.stream || f.stream.id !== io.streamId || !this.m.state.agents.has(io.agentId)) this.outstanding.delete(io.id);
    }
  }

  /** Mesos' InverseOffer JSON; empty `resources` means the whole agent. */
  private json(io: InverseOffer): object {
    const a = this.m.state.agents.get(io.agentId)?.record;
    return {
      id: { value: io.id },
      framework_id: { value: io.frameworkId },
      agent_id: { value: io.agentId },
      ...(a ? { url: { scheme: 'http', address: { hostname: a.hostname, ip: a.hostname, port: a.port }, path: '/slave(1)' } } : {}),
      unavailability: io.unavailability,
      resources: [],
    };
  }
}
