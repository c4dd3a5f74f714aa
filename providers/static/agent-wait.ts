// Which agent a static machine has after a power-on. The master keeps listing the agent the
// machine had before it was powered off — disconnected, deactivated by the drain that ended its
// last lifetime, until its ping timeout — and the agent that boots from the same work dir comes
// back under the same id. So "an agent at this address" proves nothing: the machine's agent is one
// whose registration the master's listing did not show just before the power-on.

/** What the wait reads of an agent in GET_AGENTS. */
export interface ListedAgent {
  readonly id: string;
  readonly hostname: string;
  /** GET_AGENTS `active`: connected and not deactivated. */
  readonly active: boolean;
  /** Its latest registration (`reregistered_time`, else `registered_time`), in ns as the master gives it. */
  readonly registeredNs: number;
}

interface AgentJson {
  agent_info: { id: { value: string }; hostname: string };
  active?: boolean;
  registered_time?: { nanoseconds: number };
  reregistered_time?: { nanoseconds: number };
}

/** The master's agents (GET_AGENTS on its operator API). */
export async function listAgents(masterUrl: string): Promise<ListedAgent[]> {
  const res = await fetch(new URL('/api/v1', masterUrl), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_AGENTS"}' });
  if (!res.ok) throw new Error(`GET_AGENTS: ${res.status} ${(await res.text()).trim()}`);
  const body = (await res.json()) as { get_agents: { agents: AgentJson[] } };
  return body.get_agents.agents.map((a) => ({
    id: a.agent_info.id.value, hostname: a.agent_info.hostname, active: Boolean(a.active),
    registeredNs: Math.max(a.registered_time?.nanoseconds ?? 0, a.reregistered_time?.nanoseconds ?? 0),
  }));
}

const registration = (a: ListedAgent): string => `${a.id}@${a.registeredNs}`;

/** The registrations listed at `address` now: taken just before a power-on, they are not its agent. */
export function registrationsAt(agents: readonly ListedAgent[], address: string): Set<string> {
  return new Set(agents.filter((a) => a.hostname === address).map(registration));
}

/**
 * The agent at `address` that came with the power-on: one registered since `before` was taken —
 * or one connected and active, as on a machine that was on already (the stale listing of an agent
 * from before the power-off is disconnected, and deactivated by the drain).
 */
export function poweredOnAgent(agents: readonly ListedAgent[], address: string, before: ReadonlySet<string>): ListedAgent | undefined {
  return agents.find((a) => a.hostname === address && (a.active || !before.has(registration(a))));
}
