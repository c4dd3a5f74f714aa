// Which pool an agent belongs to and what an hour of it costs: pure, from the agent's attributes,
// the applied policy's pools and the latest provider prices. Agent attributes read (TEXT):
//
//   pool            pool name (the local provider sets it; provider-launched agents carry it)
//   instance        provider instance id (also `instance_id`); the FOCUS ResourceId, else the agent id
//   instance_type   instance type name; else the pool's only type, else the type whose cpus and mem
//                   match the agent's, else the smallest type that holds them
//   capacity_type   `spot` or `on-demand`; else the pool's capacityType
//   zone, region    placement; else the pool's (aws.region, gcp.zone)
//
// A static (owned) pool's machines are also recognised by the agent's hostname (machine address
// or name) or a `machine` attribute. An agent that matches no pool is `unpooled`: owned, cost 0,
// and every report that includes it says so.
import type { Pool } from '../../providers/pool-config.ts';
import type { Price } from '../../providers/provider.ts';
import { ownedHourly, type Amounts } from './cost-model.ts';

export const UNPOOLED = 'unpooled';

export type Ownership = 'owned' | 'rented';
export type CapacityKind = 'on-demand' | 'spot' | 'owned';

export interface AgentIdentity {
  id: string;
  hostname: string;
  /** TEXT (and SCALAR, as text) attributes by name. */
  attributes: Readonly<Record<string, string>>;
  total: Amounts;
}

export interface AgentClass {
  pool: string;
  ownership: Ownership;
  provider: string;
  instanceType: string;
  capacityType: CapacityKind;
  region: string;
  zone: string;
  resourceId: string;
  /** What an hour costs (effective: spot price for spot). */
  hourly: number;
  /** The list (on-demand) price of an hour; equals hourly for owned machines. */
  listHourly: number;
  /** Why the cost may be wrong; empty when all is known. */
  warning?: string;
}

type InstanceType = Pool['instanceTypes'][number];

function regionOf(pool: Pool): string {
  if (pool.aws) return pool.aws.region;
  if (pool.gcp) return pool.gcp.zone.replace(/-[a-z]$/, '');
  return pool.attributes.region ?? '';
}

function zoneOf(pool: Pool): string {
  return pool.gcp?.zone ?? pool.attributes.zone ?? '';
}

/** The instance type an agent runs on, by attribute, by being the only one, or by its shape. */
export function instanceTypeOf(pool: Pool, agent: AgentIdentity): InstanceType | undefined {
  const named = agent.attributes.instance_type;
  if (named) return pool.instanceTypes.find((t) => t.name === named);
  if (pool.instanceTypes.length === 1) return pool.instanceTypes[0];
  const { cpus, mem } = agent.total;
  const exact = pool.instanceTypes.find((t) => t.cpus === cpus && t.mem === mem);
  if (exact) return exact;
  return pool.instanceTypes
    .filter((t) => t.cpus >= cpus && t.mem >= mem)
    .sort((a, b) => a.cpus - b.cpus || a.mem - b.mem)[0];
}

function staticMachine(pool: Pool, agent: AgentIdentity) {
  const wanted = agent.attributes.machine;
  return pool.static?.machines.find((m) => (wanted ? m.name === wanted : m.address === agent.hostname || m.name === agent.hostname));
}

/** The pool an agent belongs to: by its `pool` attribute, else a static pool that lists its host. */
export function poolOf(pools: readonly Pool[], agent: AgentIdentity): Pool | undefined {
  const name = agent.attributes.pool;
  if (name) return pools.find((p) => p.name === name);
  return pools.find((p) => p.provider === 'static' && staticMachine(p, agent));
}

/**
 * The live spot price for a type in the agent's zone (latest prices() answer). An agent whose zone
 * is unknown, or not among the prices, is charged the dearest zone's — what the planner budgets
 * with — rather than whichever zone happens to come first.
 */
function liveSpot(prices: readonly Price[] | undefined, type: string, zone: string): number | undefined {
  const spot = (prices ?? []).filter((p) => p.capacityType === 'spot' && p.instanceType === type);
  const here = spot.find((p) => p.zone === zone);
  if (here) return here.hourly;
  return spot.length ? Math.max(...spot.map((p) => p.hourly)) : undefined;
}

export function classifyAgent(agent: AgentIdentity, pools: readonly Pool[], livePrices: ReadonlyMap<string, readonly Price[]> = new Map()): AgentClass {
  const pool = poolOf(pools, agent);
  const resourceId = agent.attributes.instance ?? agent.attributes.instance_id ?? agent.id;
  if (!pool) {
    const why = agent.attributes.pool
      ? `agent ${agent.id} (${agent.hostname}) names pool '${agent.attributes.pool}', which the applied policy does not have`
      : `agent ${agent.id} (${agent.hostname}) belongs to no pool (no 'pool' attribute, no static machine with its address)`;
    return {
      pool: UNPOOLED, ownership: 'owned', provider: 'unknown', instanceType: '', capacityType: 'owned',
      region: agent.attributes.region ?? '', zone: agent.attributes.zone ?? '', resourceId, hourly: 0, listHourly: 0,
      warning: `${why}: counted as owned at cost 0`,
    };
  }
  const region = agent.attributes.region ?? regionOf(pool);
  const zone = agent.attributes.zone ?? zoneOf(pool);
  const base = { pool: pool.name, ownership: pool.ownership, provider: pool.provider, region, zone, resourceId };
  if (pool.ownership === 'owned') {
    const machine = pool.provider === 'static' ? staticMachine(pool, agent) : undefined;
    const type = machine?.name ?? instanceTypeOf(pool, agent)?.name ?? '';
    const hourly = ownedHourly(pool, machine?.costPerHour);
    return {
      ...base, instanceType: type, capacityType: 'owned', hourly: hourly ?? 0, listHourly: hourly ?? 0,
      ...(hourly === undefined ? { warning: `pool ${pool.name} has neither costPerHour nor amortisation: its machines cost 0` } : {}),
    };
  }
  const capacityType: CapacityKind = agent.attributes.capacity_type === 'spot' || agent.attributes.capacity_type === 'on-demand'
    ? agent.attributes.capacity_type : pool.capacityType;
  const type = instanceTypeOf(pool, agent);
  if (!type) {
    return {
      ...base, instanceType: agent.attributes.instance_type ?? '', capacityType, hourly: 0, listHourly: 0,
      warning: `agent ${agent.id} in pool ${pool.name}: no instance type of the pool matches it (${agent.attributes.instance_type ?? `${agent.total.cpus} cpus, ${agent.total.mem} MB`}): cost 0`,
    };
  }
  const list = type.price;
  if (capacityType === 'on-demand') {
    return {
      ...base, instanceType: type.name, capacityType, hourly: list ?? 0, listHourly: list ?? 0,
      ...(list === undefined ? { warning: `instance type ${type.name} of pool ${pool.name} has no price: cost 0` } : {}),
    };
  }
  const spot = liveSpot(livePrices.get(pool.name), type.name, zone) ?? type.spotPrice;
  const hourly = spot ?? list ?? 0;
  let warning: string | undefined;
  if (spot === undefined) warning = list === undefined
    ? `instance type ${type.name} of pool ${pool.name} has no price: cost 0`
    : `no spot price for ${type.name} in pool ${pool.name}: charged at the on-demand price`;
  return { ...base, instanceType: type.name, capacityType, hourly, listHourly: list ?? hourly, ...(warning ? { warning } : {}) };
}
