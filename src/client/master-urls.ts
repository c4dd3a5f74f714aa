// Clients of a replicated master (agents, the SDK, the CLI) are given every replica's URL
// (`--master URL1,URL2` or `--master URL1 --master URL2`, or $SPILLWAY_MASTER with commas). Any
// replica sends them on to the leader with a 307; when one is down they try the next, with
// jittered exponential backoff so a cluster of clients does not hammer a master that just came up.

export class MasterUrlError extends Error {}

/** Splits, trims and checks master URLs; throws MasterUrlError naming a bad one. */
export function parseMasterUrls(input: string | readonly string[]): string[] {
  const parts = (typeof input === 'string' ? [input] : input).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new MasterUrlError('no master URL given');
  const out: string[] = [];
  for (const p of parts) {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw new MasterUrlError(`'${p}' is not a URL (expected e.g. http://127.0.0.1:5050)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MasterUrlError(`'${p}': only http:// and https:// masters are supported`);
    const s = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/** $SPILLWAY_MASTER (comma-separated) or the local default. */
export function defaultMasterUrls(): string[] {
  return parseMasterUrls(process.env.SPILLWAY_MASTER ?? 'http://127.0.0.1:5050');
}

/** Commander collector: every `--master` adds its (comma-separated) URLs. */
export function collectMasterUrls(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** "Equal jitter" exponential backoff: half of min(max, base·2^attempt) fixed, half random. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return cap / 2 + random() * (cap / 2);
}

/** Where a 307 points: Mesos sends `//host:port/path`, relative to the request's scheme. */
export function resolveLocation(location: string, requestUrl: string): string {
  return new URL(location, requestUrl).toString();
}

/** The replica to try next, round robin over the list, starting with a known leader. */
export class MasterRotation {
  private index = 0;
  private leaderUrl: string | undefined;

  constructor(readonly urls: readonly string[]) {
    if (urls.length === 0) throw new MasterUrlError('no master URL given');
  }

  /** The leader learned from a redirect, else the current list entry. */
  current(): string {
    return this.leaderUrl ?? this.urls[this.index];
  }

  /** A redirect named the leader (an origin or a full URL). */
  follow(url: string): void {
    this.leaderUrl = new URL(url).origin;
  }

  /** The current one failed: forget the leader hint, move to the next replica. */
  fail(): void {
    if (this.leaderUrl !== undefined) this.leaderUrl = undefined;
    else this.index = (this.index + 1) % this.urls.length;
  }
}
