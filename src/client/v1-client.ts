// JSON calls to the master's /v1 REST endpoints for the CLI (tokens, user-data): the master's
// error text becomes the message, and an unreachable master says so.
export async function v1<T>(baseUrl: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, baseUrl), {
      method,
      headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new Error(`cannot reach the master at ${baseUrl}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`master answered ${res.status}: ${text.trim()}`);
  return JSON.parse(text) as T;
}
