// The credential the master issued when this agent joined with a token, kept in the work dir
// (`credential.json`, mode 0600) so a restarted agent re-registers as itself without a new token.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonDurably } from './durable-file.ts';

const FILE = 'credential.json';

export interface SavedCredential {
  agentId: string;
  credential: string;
}

export async function loadCredential(workDir: string): Promise<SavedCredential | undefined> {
  try {
    const v = JSON.parse(await readFile(join(workDir, FILE), 'utf8')) as Partial<SavedCredential>;
    return typeof v.agentId === 'string' && typeof v.credential === 'string' ? { agentId: v.agentId, credential: v.credential } : undefined;
  } catch {
    return undefined;
  }
}

/** Written durably (never torn) and created 0600: never readable by others. */
export function saveCredential(workDir: string, c: SavedCredential): Promise<void> {
  return writeJsonDurably(join(workDir, FILE), c, 0o600);
}

/** The agent id a credential (`spwa.<agent id>.<secret>`) is bound to. */
export function credentialAgentId(credential: string): string | undefined {
  const parts = credential.split('.');
  return parts.length === 3 && parts[0] === 'spwa' ? parts[1] : undefined;
}
