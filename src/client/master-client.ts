// A small client of the master's operator API for the CLI. Follows 307 redirects to the leader.

export class MasterClient {
  constructor(readonly baseUrl: string) {}

  async call<T = Record<string, unknown>>(type: string, extra: object = {}): Promise<T> {
    const res = await this.request('/api/v1', { type, ...extra });
    return (await res.json()) as T;
  }

  async request(path: string, body: object): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
        redirect: 'follow',
      });
    } catch (e) {
      throw new Error(`cannot reach the master at ${this.baseUrl}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    if (!res.ok) throw new Error(`master answered ${res.status}: ${await res.text()}`);
    return res;
  }
}

export function defaultMasterUrl(): string {
  return process.env.SPILLWAY_MASTER ?? 'http://127.0.0.1:5050';
}
