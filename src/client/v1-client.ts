// JSON calls to the master's /v1 REST endpoints for the CLI (tokens, user-data): through
// MasterClient, so a list of replicas works and standbys' redirects are followed; the master's
// error text becomes the message, and an unreachable master says so.
import { MasterClient } from './master-client.ts';

export async function v1<T>(master: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<T> {
  const res = await new MasterClient(master).fetch(path, {
    method,
    headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`master answered ${res.status}: ${text.trim()}`);
  return JSON.parse(text) as T;
}
