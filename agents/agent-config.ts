// The agent's config file (`spillway agent --config FILE`), as cloud-init writes it from the
// user-data (src/bootstrap/user-data.ts): where the master is, which CA to trust, the pool and
// attributes, the join token. Flags given on the command line win over the file.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import * as z from 'zod';

export const AgentConfigSchema = z.object({
  masterUrl: z.url({ protocol: /^https?$/ }),
  pool: z.string().min(1).optional(),
  attributes: z.record(z.string(), z.string()).default({}),
  joinToken: z.string().min(1).optional(),
  caFile: z.string().min(1).optional(),
  caPin: z.string().regex(/^sha256:[0-9a-f]{64}$/, "'sha256:' and 64 lowercase hex digits").optional(),
  workDir: z.string().min(1).optional(),
  hostname: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  resources: z.string().min(1).optional(),
  identity: z.object({
    provider: z.enum(['aws-ec2', 'gcp-compute']),
    metadataUrl: z.url({ protocol: /^https?$/ }).optional(),
    audience: z.string().min(1).optional(),
  }).strict().optional(),
}).strict();
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

export class AgentConfigError extends Error {}

export function loadAgentConfig(file: string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AgentConfigError(`${file}: ${(e as Error).message}`);
  }
  const parsed = AgentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new AgentConfigError(parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top)'}: ${i.message}`).join('\n'));
  }
  return parsed.data;
}

/**
 * The CA PEM to trust for the master; with a pin, the file's certificate must match it (a swapped
 * CA file is refused rather than trusted).
 */
export function loadPinnedCa(caFile: string, pin: string | undefined): string {
  let pem: string;
  let cert: X509Certificate;
  try {
    pem = readFileSync(caFile, 'utf8');
    cert = new X509Certificate(pem);
  } catch (e) {
    throw new AgentConfigError(`--ca-file: ${caFile}: ${(e as Error).message}`);
  }
  const actual = `sha256:${cert.fingerprint256.replace(/:/g, '').toLowerCase()}`;
  if (pin && pin.toLowerCase() !== actual) throw new AgentConfigError(`--ca-pin: ${caFile} is ${actual}, not the pinned ${pin}; refusing to trust it`);
  return pem;
}
