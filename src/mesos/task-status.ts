// Mesos v1 TaskState / TaskStatus in JSON form (include/mesos/v1/mesos.proto). `uuid` is raw bytes,
// Base64 in JSON; `timestamp` is seconds since the epoch as a double.
import { randomUUID } from 'node:crypto';

export const TASK_STATES = [
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_FINISHED',
  'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED',
  'TASK_UNREACHABLE', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR', 'TASK_UNKNOWN',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const TERMINAL = new Set<TaskState>([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED',
  'TASK_GONE', 'TASK_GONE_BY_OPERATOR',
]);

export const isTerminal = (s: TaskState): boolean => TERMINAL.has(s);

/** How long an agent waits between SIGTERM and SIGKILL for a task without a kill policy. */
export const DEFAULT_KILL_GRACE_MS = 3000;

export const STATUS_SOURCES = ['SOURCE_MASTER', 'SOURCE_AGENT', 'SOURCE_EXECUTOR'] as const;
export type StatusSource = (typeof STATUS_SOURCES)[number];

export interface TaskStatus {
  task_id: { value: string };
  state: TaskState;
  message?: string;
  source?: StatusSource;
  reason?: string;
  agent_id?: { value: string };
  executor_id?: { value: string };
  timestamp?: number;
  uuid?: string;
  healthy?: boolean;
  data?: string;
  labels?: { labels: { key: string; value?: string }[] };
}

/** A fresh status-update uuid: 16 random bytes, Base64 as the JSON encoding of `bytes` demands. */
export function newStatusUuid(): string {
  return Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64');
}
