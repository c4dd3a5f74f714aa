// zod schemas for the Mesos v1 scheduler `Call` (include/mesos/v1/scheduler/scheduler.proto) in its
// JSON encoding. Objects are loose so fields Spillway does not use yet pass through unharmed, as a
// protobuf parser would keep them; enums are strict, so an unknown call type is a 400 like Mesos.
import * as z from 'zod';
import { MesosResourceSchema } from '../resources/mesos-resources.ts';

export const ValueId = z.object({ value: z.string().min(1) });

export const CALL_TYPES = [
  'SUBSCRIBE', 'TEARDOWN', 'ACCEPT', 'DECLINE', 'ACCEPT_INVERSE_OFFERS', 'DECLINE_INVERSE_OFFERS',
  'REVIVE', 'KILL', 'SHUTDOWN', 'ACKNOWLEDGE', 'ACKNOWLEDGE_OPERATION_STATUS', 'RECONCILE',
  'RECONCILE_OPERATIONS', 'MESSAGE', 'REQUEST', 'SUPPRESS', 'UPDATE_FRAMEWORK',
] as const;

export const Label = z.object({ key: z.string(), value: z.string().optional() });
export const Labels = z.object({ labels: z.array(Label).default([]) });

export const FrameworkInfoSchema = z.looseObject({
  user: z.string(),
  name: z.string(),
  id: ValueId.optional(),
  failover_timeout: z.number().nonnegative().optional(),
  checkpoint: z.boolean().optional(),
  role: z.string().optional(),
  roles: z.array(z.string()).optional(),
  hostname: z.string().optional(),
  principal: z.string().optional(),
  webui_url: z.string().optional(),
  capabilities: z.array(z.looseObject({ type: z.string() })).optional(),
  labels: Labels.optional(),
});
export type FrameworkInfo = z.infer<typeof FrameworkInfoSchema>;

const Environment = z.object({
  variables: z.array(z.looseObject({ name: z.string(), value: z.string().optional(), type: z.string().optional() })).default([]),
});

export const CommandInfoSchema = z.looseObject({
  value: z.string().optional(),
  shell: z.boolean().optional(),
  arguments: z.array(z.string()).optional(),
  environment: Environment.optional(),
  uris: z.array(z.looseObject({ value: z.string() })).optional(),
  user: z.string().optional(),
});

const Duration = z.object({ nanoseconds: z.number() });

const Port = z.number().int().min(1).max(65535);
const NonNegative = z.number().nonnegative();
/** mesos.proto HealthCheck (the agent runs it: agents/executor/health-checker.ts). */
export const HealthCheckSchema = z.looseObject({
  type: z.enum(['COMMAND', 'HTTP', 'TCP']).optional(),
  delay_seconds: NonNegative.optional(),
  interval_seconds: NonNegative.optional(),
  timeout_seconds: NonNegative.optional(),
  consecutive_failures: z.number().int().nonnegative().optional(),
  grace_period_seconds: NonNegative.optional(),
  command: CommandInfoSchema.optional(),
  http: z.looseObject({ scheme: z.enum(['http', 'https']).optional(), port: Port, path: z.string().optional() }).optional(),
  tcp: z.looseObject({ port: Port }).optional(),
}).superRefine((h, ctx) => {
  const type = h.type ?? (h.http ? 'HTTP' : h.tcp ? 'TCP' : 'COMMAND');
  const needs = type === 'HTTP' ? 'http' : type === 'TCP' ? 'tcp' : 'command';
  if (!h[needs]) ctx.addIssue({ code: 'custom', path: [needs], message: `a ${type} health check needs '${needs}'` });
});
export type HealthCheck = z.infer<typeof HealthCheckSchema>;

export const TaskInfoSchema = z.looseObject({
  name: z.string(),
  task_id: ValueId,
  agent_id: ValueId,
  resources: z.array(MesosResourceSchema).default([]),
  command: CommandInfoSchema.optional(),
  executor: z.looseObject({}).optional(),
  container: z.looseObject({}).optional(),
  health_check: HealthCheckSchema.optional(),
  kill_policy: z.looseObject({ grace_period: Duration.optional() }).optional(),
  labels: Labels.optional(),
  data: z.string().optional(),
});
export type TaskInfo = z.infer<typeof TaskInfoSchema>;

export const OperationSchema = z.looseObject({
  type: z.enum(['UNKNOWN', 'LAUNCH', 'LAUNCH_GROUP', 'RESERVE', 'UNRESERVE', 'CREATE', 'DESTROY',
    'GROW_VOLUME', 'SHRINK_VOLUME', 'CREATE_DISK', 'DESTROY_DISK']),
  id: ValueId.optional(),
  launch: z.object({ task_infos: z.array(TaskInfoSchema).default([]) }).optional(),
});
export type Operation = z.infer<typeof OperationSchema>;

export const FiltersSchema = z.looseObject({ refuse_seconds: z.number().optional() });

export const CallSchema = z.looseObject({
  type: z.enum(CALL_TYPES),
  framework_id: ValueId.optional(),
  subscribe: z.looseObject({
    framework_info: FrameworkInfoSchema,
    force: z.boolean().optional(),
    suppressed_roles: z.array(z.string()).optional(),
  }).optional(),
  accept: z.looseObject({
    offer_ids: z.array(ValueId).default([]),
    operations: z.array(OperationSchema).default([]),
    filters: FiltersSchema.optional(),
  }).optional(),
  decline: z.looseObject({ offer_ids: z.array(ValueId).default([]), filters: FiltersSchema.optional() }).optional(),
  accept_inverse_offers: z.looseObject({ inverse_offer_ids: z.array(ValueId).default([]), filters: FiltersSchema.optional() }).optional(),
  decline_inverse_offers: z.looseObject({ inverse_offer_ids: z.array(ValueId).default([]), filters: FiltersSchema.optional() }).optional(),
  revive: z.looseObject({ roles: z.array(z.string()).optional() }).optional(),
  suppress: z.looseObject({ roles: z.array(z.string()).optional() }).optional(),
  kill: z.looseObject({ task_id: ValueId, agent_id: ValueId.optional(), kill_policy: z.looseObject({}).optional() }).optional(),
  shutdown: z.looseObject({ executor_id: ValueId, agent_id: ValueId }).optional(),
  acknowledge: z.looseObject({ agent_id: ValueId, task_id: ValueId, uuid: z.string() }).optional(),
  reconcile: z.looseObject({
    tasks: z.array(z.looseObject({ task_id: ValueId, agent_id: ValueId.optional() })).default([]),
  }).optional(),
  message: z.looseObject({ agent_id: ValueId, executor_id: ValueId, data: z.string() }).optional(),
  request: z.looseObject({
    // Mesos' Request is {agent_id, resources}; Spillway also reads `count` (units of that shape) and
    // `constraints` (agent attributes the units need) so the autoscaler knows what to provision.
    requests: z.array(z.looseObject({
      agent_id: ValueId.optional(),
      resources: z.array(MesosResourceSchema).default([]),
      count: z.number().int().positive().max(1_000_000).optional(),
      constraints: z.array(z.looseObject({ attribute: z.string().min(1), value: z.string() })).optional(),
    })).default([]),
  }).optional(),
  update_framework: z.looseObject({ framework_info: FrameworkInfoSchema, suppressed_roles: z.array(z.string()).optional() }).optional(),
});
export type Call = z.infer<typeof CallSchema>;
export type CallType = (typeof CALL_TYPES)[number];

/** The sub-message field each call type must carry, as Mesos' validation requires. */
export const REQUIRED_FIELD: Partial<Record<CallType, keyof Call>> = {
  SUBSCRIBE: 'subscribe', ACCEPT: 'accept', DECLINE: 'decline', KILL: 'kill', SHUTDOWN: 'shutdown',
  ACKNOWLEDGE: 'acknowledge', MESSAGE: 'message', REQUEST: 'request', UPDATE_FRAMEWORK: 'update_framework',
  ACCEPT_INVERSE_OFFERS: 'accept_inverse_offers', DECLINE_INVERSE_OFFERS: 'decline_inverse_offers',
};

/** `{"value": "<non-empty string>"}` and nothing else: what ValueId parses to itself. */
export function isBareValueId(v: unknown): v is { value: string } {
  if (typeof v !== 'object' || v === null) return false;
  let keys = 0;
  for (const k in v) {
    if (k !== 'value') return false;
    keys++;
  }
  const value = (v as { value?: unknown }).value;
  return keys === 1 && typeof value === 'string' && value.length > 0;
}

/**
 * An ACKNOWLEDGE in its plain shape — {type, framework_id, acknowledge{agent_id, task_id, uuid}},
 * no other field — as CallSchema would parse it, without running it. Every status update costs one
 * such call, and CallSchema's loose object with 18 optional fields costs several times the check;
 * anything else (extra fields, a missing or wrong one) returns undefined and goes through CallSchema,
 * which gives the error.
 */
export function parsePlainAcknowledge(body: unknown): Call | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (b.type !== 'ACKNOWLEDGE') return undefined;
  for (const k in b) if (k !== 'type' && k !== 'framework_id' && k !== 'acknowledge') return undefined;
  const ack = b.acknowledge as Record<string, unknown> | undefined;
  if (typeof ack !== 'object' || ack === null || Array.isArray(ack)) return undefined;
  for (const k in ack) if (k !== 'agent_id' && k !== 'task_id' && k !== 'uuid') return undefined;
  if (!isBareValueId(ack.agent_id) || !isBareValueId(ack.task_id) || typeof ack.uuid !== 'string') return undefined;
  if (b.framework_id !== undefined && !isBareValueId(b.framework_id)) return undefined;
  return {
    type: 'ACKNOWLEDGE',
    ...(b.framework_id !== undefined ? { framework_id: { value: b.framework_id.value } } : {}),
    acknowledge: { agent_id: { value: ack.agent_id.value }, task_id: { value: ack.task_id.value }, uuid: ack.uuid },
  };
}

/** Formats a zod error the way our 400 bodies read: "Failed to validate scheduler::Call: path: reason". */
export function describeZodError(prefix: string, error: z.ZodError): string {
  const first = error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
  return `${prefix}: ${first.join('; ')}`;
}
