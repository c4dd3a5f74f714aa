// Prices for a pool: on-demand from the pool's price book (EC2 has no price API; the Pricing API is
// a different service in us-east-1 only), spot live from DescribeSpotPriceHistory.
import { paginateDescribeSpotPriceHistory, type EC2Client, type _InstanceType } from '@aws-sdk/client-ec2';
import type { Price } from '../provider.ts';
import type { Pool } from '../pool-config.ts';
import { clampPageSize } from './list.ts';

/**
 * On-demand prices from the price book, and static spot prices for types without live history.
 * On-demand prices hold for the whole region, so their `zone` is the region name.
 */
export function priceBook(pool: Pool, region: string, liveSpotTypes: ReadonlySet<string> = new Set()): Price[] {
  const out: Price[] = [];
  for (const t of pool.instanceTypes) {
    if (t.price !== undefined) out.push({ instanceType: t.name, zone: region, capacityType: 'on-demand', hourly: t.price });
    if (t.spotPrice !== undefined && !liveSpotTypes.has(t.name)) out.push({ instanceType: t.name, zone: region, capacityType: 'spot', hourly: t.spotPrice });
  }
  return out;
}

export interface SpotQuery {
  readonly instanceTypes: readonly string[];
  /** "Now": EC2 returns each type/zone's price in effect at StartTime plus any later changes. */
  readonly now: number;
  readonly pageSize?: number;
  readonly productDescription?: string;
}

/** The latest Linux/UNIX spot price per instance type and availability zone, across all pages. */
export async function spotPrices(client: EC2Client, q: SpotQuery): Promise<Price[]> {
  if (q.instanceTypes.length === 0) return [];
  const latest = new Map<string, { at: number; price: Price }>();
  const pages = paginateDescribeSpotPriceHistory(
    { client, pageSize: clampPageSize(q.pageSize) },
    {
      InstanceTypes: [...q.instanceTypes] as _InstanceType[],
      ProductDescriptions: [q.productDescription ?? 'Linux/UNIX'],
      StartTime: new Date(q.now),
    },
  );
  for await (const page of pages) {
    for (const h of page.SpotPriceHistory ?? []) {
      const hourly = Number(h.SpotPrice);
      if (!h.InstanceType || !h.AvailabilityZone || !Number.isFinite(hourly)) continue;
      const at = h.Timestamp ? new Date(h.Timestamp).getTime() : 0;
      const key = `${h.InstanceType}\n${h.AvailabilityZone}`;
      const prev = latest.get(key);
      if (!prev || at > prev.at) {
        latest.set(key, { at, price: { instanceType: h.InstanceType, zone: h.AvailabilityZone, capacityType: 'spot', hourly } });
      }
    }
  }
  return [...latest.values()].map((v) => v.price).sort((a, b) => a.instanceType.localeCompare(b.instanceType) || a.zone.localeCompare(b.zone));
}
