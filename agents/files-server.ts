// The agent's own HTTP endpoints: GET /health and GET /files/read (Mesos' files API), so the CLI
// and UIs can tail task sandboxes. Paths are relative to the work dir; anything that resolves
// outside it — through `..` or a symlink a task planted in its sandbox — is refused with 403.
import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';

/** Largest chunk one read returns; clients page with offset/length as with Mesos. */
export const MAX_READ_BYTES = 1024 * 1024;

export async function startFilesServer(workDir: string, host: string, port: number, logger: Logger): Promise<http.Server> {
  const root = await realpath(workDir);
  const server = http.createServer((req, res) => {
    handle(root, req, res).catch((err: Error) => {
      logger.error({ err }, 'agent HTTP handler failed');
      if (!res.headersSent) send(res, 500, { message: 'Internal error' });
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => { server.off('error', fail); ok(); });
  });
  return server;
}

async function handle(root: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { message: 'Method not allowed' });
  if (url.pathname === '/health') return send(res, 200, { status: 'ok' });
  if (url.pathname === '/files/read' || url.pathname === '/files/read.json') return readFileChunk(root, url, res);
  if (url.pathname === '/files/download') return download(root, url, res);
  send(res, 404, { message: 'Not found' });
}

async function readFileChunk(root: string, url: URL, res: http.ServerResponse): Promise<void> {
  const target = await resolveInside(root, url.searchParams.get('path'), res);
  if (!target) return;
  const offset = Number(url.searchParams.get('offset') ?? '0');
  const lengthParam = url.searchParams.get('length');
  const length = lengthParam === null ? MAX_READ_BYTES : Number(lengthParam);
  if (!Number.isInteger(offset) || offset < -1) return send(res, 400, { message: "Failed to parse 'offset'" });
  if (!Number.isInteger(length) || length < 0) return send(res, 400, { message: "Failed to parse 'length'" });
  const size = target.size;
  if (offset === -1) return send(res, 200, { data: '', offset: size });
  const want = Math.max(0, Math.min(length, MAX_READ_BYTES, size - offset));
  const buf = Buffer.alloc(want);
  if (want > 0) {
    const fh = await open(target.path, 'r');
    try {
      await fh.read(buf, 0, want, offset);
    } finally {
      await fh.close();
    }
  }
  send(res, 200, { data: buf.subarray(0, wholeCharacters(buf)).toString('utf8'), offset });
}

/**
 * How many bytes of `buf` end on a character boundary: a read that stops inside a multi-byte UTF-8
 * character leaves that character for the next read. Decoded, its half would become U+FFFD (3
 * bytes for 1–3), and a reader advancing by the text's byte length would skip what follows.
 * Never 0 for a non-empty buffer, so a reader always moves on.
 */
export function wholeCharacters(buf: Buffer): number {
  for (let back = 1; back <= Math.min(4, buf.length); back++) {
    const b = buf[buf.length - back];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: the character starts further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    const cut = need > back ? buf.length - back : buf.length;
    return cut > 0 ? cut : buf.length;
  }
  return buf.length;
}

async function download(root: string, url: URL, res: http.ServerResponse): Promise<void> {
  const target = await resolveInside(root, url.searchParams.get('path'), res);
  if (!target) return;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': target.size });
  createReadStream(target.path).pipe(res);
}

/** Resolves `path` under the work dir; answers 400/403/404 itself and returns undefined then. */
async function resolveInside(root: string, path: string | null, res: http.ServerResponse): Promise<{ path: string; size: number } | undefined> {
  if (!path) return void send(res, 400, { message: "Expecting 'path=value' in query" });
  const lexical = resolve(root, path.replace(/^\/+/, ''));
  if (!inside(root, lexical)) return void send(res, 403, { message: 'Path is outside the work directory' });
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    return void send(res, 404, { message: `File not found: ${path}` });
  }
  if (!inside(root, real)) return void send(res, 403, { message: 'Path is outside the work directory' });
  const st = await stat(real);
  if (st.isDirectory()) return void send(res, 400, { message: 'Cannot read a directory' });
  return { path: real, size: st.size };
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function send(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
