// Reads a task's sandbox files from its agent through the Mesos-style files API
// (GET /files/read?path=&offset=&length=), incrementally, for streaming task output.

export class SandboxReader {
  private offset = 0;
  private inFlight: Promise<string> = Promise.resolve('');

  constructor(private readonly agentAddress: string, private readonly path: string) {}

  /** Returns what was appended since the last call ('' when nothing new or not there yet). */
  readNew(maxBytes = 1 << 20): Promise<string> {
    // Reads are chained so two callers never fetch the same bytes twice.
    this.inFlight = this.inFlight.then(() => this.fetchFrom(maxBytes), () => this.fetchFrom(maxBytes));
    return this.inFlight;
  }

  private async fetchFrom(maxBytes: number): Promise<string> {
    const url = `http://${this.agentAddress}/files/read?path=${encodeURIComponent(this.path)}&offset=${this.offset}&length=${maxBytes}`;
    const res = await fetch(url).catch(() => undefined);
    if (!res || res.status !== 200) return '';
    const body = (await res.json()) as { data: string; offset: number };
    this.offset += Buffer.byteLength(body.data, 'utf8');
    return body.data;
  }
}

export function sandboxPath(frameworkId: string, taskId: string, file: 'stdout' | 'stderr'): string {
  return `sandboxes/${frameworkId}/${taskId}/${file}`;
}
