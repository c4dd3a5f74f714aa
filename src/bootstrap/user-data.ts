// cloud-init user-data that turns a fresh VM into an agent (templates in agents/cloud-init/):
// `#cloud-config` whose write_files hold the agent's config (master URL, CA pin, pool, attributes,
// the single-use join token), the CA certificate, the bootstrap script and the systemd unit, and
// whose runcmd runs the script. Pure: same input, same text. At most 16 KB (EC2's limit, and
// plenty); the only secret inside is the join token, which is short-lived and single use.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';

export const USER_DATA_LIMIT_BYTES = 16_384;
export const DEFAULT_PREFIX = '/opt/spillway';
export const USER_DATA_FORMATS = ['cloud-config', 'mime'] as const;
export type UserDataFormat = (typeof USER_DATA_FORMATS)[number];

const TEMPLATES = new URL('../../agents/cloud-init/', import.meta.url);
const template = (name: string): string => readFileSync(new URL(name, TEMPLATES), 'utf8');

export interface AgentIdentityConfig {
  provider: 'aws-ec2' | 'gcp-compute';
  /** GCP only: the audience the master checks. */
  audience?: string;
  /** The metadata server (default: the cloud's own); tests point it at a loopback fake. */
  metadataUrl?: string;
}

export interface UserDataInput {
  /** Where the agent finds the master (also where the bundle is downloaded from). */
  masterUrl: string;
  bundleSha256: string;
  pool: string;
  attributes?: Record<string, string>;
  joinToken: string;
  /** PEM of the CA the agent trusts for the master (https masters), and its pin. */
  caPem?: string;
  caPin?: string;
  identity?: AgentIdentityConfig;
  /** Install root on the VM (default /opt/spillway). */
  prefix?: string;
  /** Node.js installed when the VM has none ≥ 20 (default: the master's own version). */
  nodeVersion?: string;
  nodeDist?: string;
  format?: UserDataFormat;
}

export class UserDataError extends Error {}

const shellQuote = (v: string): string => `'${v.replace(/'/g, "'\\''")}'`;

/** The agent's config file (agents/agent-config.ts reads it). */
export function agentConfig(i: UserDataInput, prefix: string): object {
  return {
    masterUrl: i.masterUrl,
    pool: i.pool,
    attributes: { ...(i.attributes ?? {}), pool: i.pool },
    joinToken: i.joinToken,
    ...(i.caPem ? { caFile: `${prefix}/etc/ca.pem`, caPin: i.caPin } : {}),
    workDir: `${prefix}/work`,
    hostname: 'auto',
    ...(i.identity ? { identity: i.identity } : {}),
  };
}

export function renderUserData(i: UserDataInput): string {
  const prefix = i.prefix ?? DEFAULT_PREFIX;
  if (!/^\/[A-Za-z0-9._/-]*$/.test(prefix) || prefix.split('/').includes('..')) throw new UserDataError(`prefix: '${prefix}' must be an absolute path of letters, digits, '.', '_', '-' and '/'`);
  if (!/^[0-9a-f]{64}$/.test(i.bundleSha256)) throw new UserDataError('bundleSha256: not a sha256 in hex');
  const https = i.masterUrl.startsWith('https:');
  if (https && !i.caPem) throw new UserDataError('the master serves https but no CA is known to pin: start it with --tls-ca');
  const settings = [
    `SPILLWAY_PREFIX=${shellQuote(prefix)}`,
    `SPILLWAY_BUNDLE_URL=${shellQuote(`${i.masterUrl.replace(/\/+$/, '')}/v1/agent/bundle`)}`,
    `SPILLWAY_BUNDLE_SHA256=${shellQuote(i.bundleSha256)}`,
    `SPILLWAY_CA_FILE=${shellQuote(i.caPem ? `${prefix}/etc/ca.pem` : '')}`,
    `SPILLWAY_NODE_VERSION=${shellQuote(i.nodeVersion ?? process.versions.node)}`,
    `SPILLWAY_NODE_DIST=${shellQuote(i.nodeDist ?? 'https://nodejs.org/dist')}`,
  ].join('\n');
  const script = template('bootstrap.sh').replace('# @@SETTINGS@@', settings);
  const files: object[] = [
    { path: `${prefix}/etc/agent.json`, permissions: '0600', owner: 'root:root', content: `${JSON.stringify(agentConfig(i, prefix), null, 2)}\n` },
    ...(i.caPem ? [{ path: `${prefix}/etc/ca.pem`, permissions: '0644', owner: 'root:root', content: i.caPem.endsWith('\n') ? i.caPem : `${i.caPem}\n` }] : []),
    { path: `${prefix}/bootstrap.sh`, permissions: '0755', owner: 'root:root', content: script },
    { path: `${prefix}/spillway-agent.service.in`, permissions: '0644', owner: 'root:root', content: template('spillway-agent.service.in') },
  ];
  const config = `#cloud-config\n${stringify({ write_files: files, runcmd: [['sh', `${prefix}/bootstrap.sh`]] }, { blockQuote: 'literal', lineWidth: 0 })}`;
  const text = i.format === 'mime' ? mime(config) : config;
  const size = Buffer.byteLength(text);
  if (size > USER_DATA_LIMIT_BYTES) throw new UserDataError(`user-data is ${size} bytes, above the ${USER_DATA_LIMIT_BYTES}-byte limit`);
  return text;
}

/** The cloud-config as the one part of a multipart MIME document (to combine with other parts). */
function mime(cloudConfig: string): string {
  const boundary = '==SPILLWAY-BOUNDARY==';
  return [
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    'MIME-Version: 1.0',
    '',
    `--${boundary}`,
    'Content-Type: text/cloud-config; charset="utf-8"',
    'MIME-Version: 1.0',
    'Content-Transfer-Encoding: 7bit',
    'Content-Disposition: attachment; filename="spillway-agent.cfg"',
    '',
    cloudConfig.trimEnd(),
    `--${boundary}--`,
    '',
  ].join('\n');
}
