// TerminateInstances in batches of ≤ 1000 ids. Idempotent: already terminated instances are fine
// (EC2 just reports them), and ids EC2 does not know are dropped — EC2 fails the whole call with
// InvalidInstanceID.NotFound naming them, so we take them out and send the rest again.
import { TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ec2ErrorInfo } from './errors.ts';

export const TERMINATE_BATCH = 1000;
/** Instance ids: i- and 8 or 17 hex digits. Anything else EC2 has never issued. */
export const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const NOT_FOUND = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

export interface TerminateResult {
  /** Ids EC2 accepted (including ones already shutting down or terminated). */
  readonly terminated: string[];
  /** Ids EC2 did not know (or that were not instance ids at all). */
  readonly unknown: string[];
}

export async function terminateIds(client: EC2Client, ids: readonly string[]): Promise<TerminateResult> {
  const terminated: string[] = [];
  const unknown: string[] = [];
  const valid: string[] = [];
  for (const id of new Set(ids)) (INSTANCE_ID.test(id) ? valid : unknown).push(id);
  for (let i = 0; i < valid.length; i += TERMINATE_BATCH) {
    let batch = valid.slice(i, i + TERMINATE_BATCH);
    while (batch.length > 0) {
      try {
        const out = await client.send(new TerminateInstancesCommand({ InstanceIds: batch }));
        terminated.push(...(out.TerminatingInstances ?? []).map((t) => t.InstanceId!).filter(Boolean));
        break;
      } catch (e) {
        const info = ec2ErrorInfo(e);
        if (!NOT_FOUND.has(info.code)) throw e;
        const named = new Set(info.message.match(/i-[0-9a-f]+/g) ?? []);
        const missing = batch.filter((id) => named.has(id));
        if (missing.length === 0) {
          if (batch.length === 1) {
            unknown.push(batch[0]);
            break;
          }
          // Could not tell which ids EC2 meant: go one by one.
          for (const id of batch) {
            const one = await terminateIds(client, [id]);
            terminated.push(...one.terminated);
            unknown.push(...one.unknown);
          }
          break;
        }
        unknown.push(...missing);
        batch = batch.filter((id) => !named.has(id));
      }
    }
  }
  return { terminated, unknown };
}
