// DescribeInstances for one pool of one cluster, every page (the SDK paginator follows NextToken).
import { paginateDescribeInstances, type EC2Client, type Instance as Ec2Instance, type Filter } from '@aws-sdk/client-ec2';
import { TAGS } from '../context.ts';

/** Everything but terminated. */
export const LIVE_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] as const;

/** EC2 accepts MaxResults 5…1000 for DescribeInstances. */
export const clampPageSize = (n: number | undefined): number => Math.min(1000, Math.max(5, Math.floor(n ?? 500)));

export interface ListQuery {
  readonly cluster: string;
  readonly pool: string;
  readonly includeTerminated?: boolean;
  readonly pageSize?: number;
  /** Only the instances a launch under this token started. */
  readonly token?: string;
}

export function listFilters(q: ListQuery): Filter[] {
  return [
    { Name: `tag:${TAGS.cluster}`, Values: [q.cluster] },
    { Name: `tag:${TAGS.pool}`, Values: [q.pool] },
    { Name: 'instance-state-name', Values: q.includeTerminated ? [...LIVE_STATES, 'terminated'] : [...LIVE_STATES] },
    ...(q.token === undefined ? [] : [{ Name: `tag:${TAGS.token}`, Values: [q.token] }]),
  ];
}

export async function describePoolInstances(client: EC2Client, q: ListQuery): Promise<Ec2Instance[]> {
  const out: Ec2Instance[] = [];
  const seen = new Set<string>();
  const pages = paginateDescribeInstances({ client, pageSize: clampPageSize(q.pageSize) }, { Filters: listFilters(q) });
  for await (const page of pages) {
    for (const r of page.Reservations ?? []) {
      for (const i of r.Instances ?? []) {
        // Pages are not a snapshot; an instance may show up twice if the set moved under us.
        if (!i.InstanceId || seen.has(i.InstanceId)) continue;
        seen.add(i.InstanceId);
        out.push(i);
      }
    }
  }
  return out;
}
