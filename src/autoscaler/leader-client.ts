// How workers (in any master replica) reach the leader: its operator API over HTTP. Only the calls
// the jobs need: GET_AGENTS (has an instance's agent registered? is a drain done?), DRAIN_AGENT and
// REACTIVATE_AGENT (Mesos maintenance primitives), and recording decisions happens in Redis, not here.

export interface LeaderAgent {
  readonly id: string;
  readonly hostname: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** Mesos DrainInfo.state: DRAINING | DRAINED, when a drain was asked for. */
  readonly drainState?: string;
  readonly deactivated: boolean;
  /** GET_AGENTS `active`: connected and not deactivated. */
  readonly active: boolean;
}

export class LeaderError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'LeaderError';
  }
}

export class LeaderClient {
  /** `url` is asked for on every call, so a new leader is followed. */
  constructor(private readonly url: () => string) {}

  async call<T = unknown>(body: Record<string, unknown>): Promise<T> {
    const res = await fetch(`${this.url()}/api/v1`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new LeaderError(res.status, `${String(body.type)}: ${res.status} ${text.trim()}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Registered (reachable) agents with their attributes and drain state. */
  async agents(): Promise<LeaderAgent[]> {
    const r = await this.call<{ get_agents: { agents: AgentJson[] } }>({ type: 'GET_AGENTS' });
    return r.get_agents.agents.map((a) => ({
      id: a.agent_info.id.value,
      hostname: a.agent_info.hostname,
      attributes: Object.fromEntries((a.agent_info.attributes ?? []).map((x) => [x.name, x.text?.value ?? String(x.scalar?.value ?? '')])),
      ...(a.drain_info?.state ? { drainState: a.drain_info.state } : {}),
      deactivated: Boolean(a.deactivated),
      active: Boolean(a.active),
    }));
  }

  /** Mesos DRAIN_AGENT: no new offers, inverse offers, tasks killed after the grace period. */
  async drain(agentId: string, graceSeconds: number, markGone: boolean): Promise<void> {
    await this.call({ type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: agentId }, max_grace_period: { seconds: graceSeconds }, mark_gone: markGone } });
  }

  /** Mesos REACTIVATE_AGENT: offers resume for an agent deactivated or DRAINED (not DRAINING). */
  async reactivate(agentId: string): Promise<void> {
    await this.call({ type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: agentId } } });
  }
}

interface AgentJson {
  agent_info: { id: { value: string }; hostname: string; attributes?: { name: string; text?: { value: string }; scalar?: { value: number } }[] };
  deactivated?: boolean;
  active?: boolean;
  drain_info?: { state?: string };
}
