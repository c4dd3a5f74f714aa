// The credential the master issued when this agent joined with a token, kept in the work dir
// (`credential.json`, mode 0600) so a restarted agent re-registers as itself without a new token.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

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

/** Written to a temp file created 0600, fsynced and renamed: never torn, never readable by others. */
export async function saveCredential(workDir: string, c: SavedCredential): Promise<void> {
  const path = join(workDir, FILE);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.write(JSON.stringify(c));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** The agent id a credential (`spwa.<agent id>.<secret>`) is bound to. */
export function credentialAgentId(credential: string): string | undefined {
  const parts = credential.split('.');
  return parts.length === 3 && parts[0] === 'spwa' ? parts[1] : undefined;
}
