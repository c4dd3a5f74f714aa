// The policy `spillway up` applies when the master has none: its own N agents as the owned pool
// `local-owned`, and up to 4 more local agents as the rented pool `local-rented`, so asking for
// more than the owned agents hold shows autoscaling on one machine (docs/POLICIES.md,
// policies/examples/local.yaml is the commented version of the same).
import type { Resources } from '../resources/resources.ts';

export interface DefaultPolicyOptions {
  /** Agents `spillway up` starts (the owned pool's min and max). */
  ownedAgents: number;
  /** The shape of each owned agent. */
  ownedShape: Resources;
  /** Shape of a rented local agent (default 1 cpu, 1024 MB). */
  rentedShape?: { cpus: number; mem: number };
}

export const DEFAULT_RENTED_MAX = 4;

export function defaultPolicyYaml(o: DefaultPolicyOptions): string {
  const s = o.ownedShape.scalars;
  const rented = o.rentedShape ?? { cpus: 1, mem: 1024 };
  return `# Applied by \`spillway up\` because the master had no policy. See policies/examples/local.yaml.
pools:
  - name: local-owned
    provider: local
    ownership: owned
    min: ${o.ownedAgents}
    max: ${o.ownedAgents}
    priority: 10
    costPerHour: 0
    attributes: { tier: owned }
    instanceTypes:
      - { name: local, cpus: ${s.cpus ?? 1}, mem: ${s.mem ?? 1024}${s.disk ? `, disk: ${s.disk}` : ''} }
  - name: local-rented
    provider: local
    ownership: rented
    min: 0
    max: ${DEFAULT_RENTED_MAX}
    priority: 0
    bootTimeoutSeconds: 60
    attributes: { tier: burst }
    instanceTypes:
      - { name: small, cpus: ${rented.cpus}, mem: ${rented.mem}, disk: 4096, price: 0.05 }
scaleUp: { maxLaunchesPerMinute: ${DEFAULT_RENTED_MAX}, batchWindowSeconds: 1 }
scaleDown: { utilisationThreshold: 0.5, unneededForSeconds: 30, drainGraceSeconds: 10, disruptionBudget: ${DEFAULT_RENTED_MAX} }
budget: { perHour: ${(0.05 * DEFAULT_RENTED_MAX).toFixed(2)}, currency: USD }
cooldowns: { scaleUpSeconds: 5, scaleDownSeconds: 10 }
`;
}
