// What the master persists (one JSON record per agent, framework and task) and the live state it
// keeps beside each record in memory. Records are plain JSON so Redis holds them as they are.
import type { Resources } from '../resources/resources.ts';
import type { ResourceSet } from '../resources/resource-set.ts';
import type { FrameworkInfo, TaskInfo } from '../mesos/scheduler-call.ts';
import type { TaskState, TaskStatus } from '../mesos/task-status.ts';

export interface MesosAttribute {
  name: string;
  type: 'TEXT' | 'SCALAR' | 'RANGES' | 'SET';
  text?: { value: string };
  scalar?: { value: number };
}

export interface AgentRecord {
  id: string;
  hostname: string;
  port: number;
  /** Total as the allocator sees it: what the agent reported, with dynamic reservations applied. */
  resources: ResourceSet;
  /** Dynamic reservations made on this agent (RESERVE); re-applied when it re-registers. */
  dynamicReservations?: ResourceSet;
  /** Oversubscribed slack the agent last reported (revocable resources). */
  revocable?: Resources;
  attributes: MesosAttribute[];
  version: string;
  registeredAt: number;
  reregisteredAt?: number;
  /** Set while the agent is unreachable (missed pings); its tasks were reported lost/unreachable. */
  unreachableSince?: number;
  /** Agents that joined with a token: sha256 (hex) of the credential bound to this id (src/auth). */
  credentialSha256?: string;
}

export interface FrameworkRecord {
  id: string;
  info: FrameworkInfo;
  registeredAt: number;
  reregisteredAt?: number;
  /** When its subscription stream last broke; the failover timeout counts from here. */
  disconnectedAt?: number;
}

export interface TaskRecord {
  frameworkId: string;
  agentId: string;
  role: string;
  info: TaskInfo;
  resources: ResourceSet;
  state: TaskState;
  /** Every status the task went through, oldest first (capped). */
  statuses: TaskStatus[];
  /** Updates not yet acknowledged by the framework, in order; only the head is in flight. */
  pending: TaskStatus[];
  /** A KILL the agent has not been told about yet (it was disconnected). */
  killRequested?: boolean;
}

/** A subscriber stream (framework or agent) as the master sees it. */
export interface EventSink {
  readonly id: string;
  readonly closed: boolean;
  /** Queues an event; queued events go out together at the end of this turn of the event loop. */
  send(event: object): void;
  /** The same for an event already serialised (JSON text). */
  sendJson(json: string): void;
  /** Writes what is queued now, before the caller answers anyone (see accept: LAUNCH before 202). */
  flush(): void;
  /** Ends the stream cleanly. */
  close(): void;
  /** Breaks the connection (the master stops): the subscriber sees a failure, not an end. */
  abort(): void;
}

export interface AgentLive {
  record: AgentRecord;
  stream?: EventSink;
  lastPingAt: number;
}

export interface FrameworkLive {
  record: FrameworkRecord;
  stream?: EventSink;
  /** Recovered from Redis after a master restart and not yet re-subscribed. */
  recovered: boolean;
}

export interface Offer {
  id: string;
  frameworkId: string;
  agentId: string;
  role: string;
  resources: ResourceSet;
  createdAt: number;
  /** Optimistic offers do not hold their resources; the first valid ACCEPT takes them. */
  optimistic?: boolean;
}

export const taskKey = (frameworkId: string, taskId: string): string => `${frameworkId}/${taskId}`;

/** The roles a framework subscribes to (MULTI_ROLE `roles`, or the legacy single `role`). */
export function frameworkRoles(info: FrameworkInfo): string[] {
  if (info.roles && info.roles.length) return [...info.roles];
  return [info.role ?? '*'];
}

export function hasCapability(info: FrameworkInfo, type: string): boolean {
  return (info.capabilities ?? []).some((c) => c.type === type);
}
