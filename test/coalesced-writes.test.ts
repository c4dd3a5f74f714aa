// Socket writes gathered per turn of the event loop (src/http/coalesced-writes.ts), on a real
// node:http server on loopback: pipelined answers leave together and arrive whole and in order, a
// `Connection: close` answer arrives before the end, and a slow reader still gets back-pressure.
import test from 'ava';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { coalesceWrites, writeNow } from '../src/http/coalesced-writes.ts';

interface Counted { server: http.Server; port: number; writes: () => number }

/** A server whose sockets coalesce their writes; counts the writes that reach the socket itself. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Counted> {
  let writes = 0;
  const server = http.createServer(handler);
  server.on('connection', (socket: Socket) => {
    const s = socket as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const one = s._write.bind(s);
    const many = s._writev.bind(s);
    s._write = (...a: unknown[]) => { writes++; one(...a); };
    s._writev = (...a: unknown[]) => { writes++; many(...a); };
    coalesceWrites(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, writes: () => writes };
}

/** Sends raw bytes and collects what comes back until the server closes or `until` holds. */
function exchange(port: number, request: string, until: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(request));
    let text = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => { text += d; if (until(text)) { c.destroy(); resolve(text); } });
    c.on('end', () => resolve(text));
    c.on('error', reject);
  });
}

const post = (path: string, body: string, close = false): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}${close ? '\r\nConnection: close' : ''}\r\n\r\n${body}`;

test('40 pipelined calls are answered in order with a handful of socket writes, not one each', async (t) => {
  const s = await serve((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { res.writeHead(202, { 'Content-Length': Buffer.byteLength(body) }); res.end(body); });
  });
  t.teardown(() => s.server.close());
  const requests = Array.from({ length: 40 }, (_, i) => post('/api/v1/scheduler', `{"n":${i}}`)).join('');
  const text = await exchange(s.port, requests, (x) => x.includes('{"n":39}'));
  const answers = [...text.matchAll(/HTTP\/1\.1 (\d+)[^]*?\r\n\r\n(\{"n":\d+\})/g)];
  t.deepEqual(answers.map((a) => a[1]), new Array(40).fill('202'));
  t.deepEqual(answers.map((a) => JSON.parse(a[2]).n), [...Array(40).keys()]);
  t.true(s.writes() <= 4, `${s.writes()} socket writes for 40 answers`);
});

test('an answer with Connection: close arrives whole before the connection ends', async (t) => {
  const s = await serve((_req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 100_000 }); res.end('x'.repeat(100_000)); });
  t.teardown(() => s.server.close());
  const text = await exchange(s.port, post('/', '{}', true), () => false);
  t.regex(text, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n/);
  t.is(text.slice(text.indexOf('\r\n\r\n') + 4), 'x'.repeat(100_000));
});

test('what node writes just before it destroys a socket still arrives: the 400 to a malformed request, the answer before closeAllConnections', async (t) => {
  const s = await serve((_req, res) => {
    res.on('finish', () => s.server.closeAllConnections());
    res.writeHead(200, { 'Content-Length': 2 });
    res.end('ok');
  });
  t.teardown(() => s.server.close());
  t.regex(await exchange(s.port, 'GARBAGE\r\n\r\n', () => false), /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.regex(await exchange(s.port, post('/', '{}'), () => false), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
});

test('writeNow sends what a socket gathered within this tick, not at the end of the turn', async (t) => {
  const seen: Record<string, number> = {};
  const s = await serve((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('first');
    seen.before = s.writes();
    if (req.url === '/now') writeNow(req.socket);
    // node:http keeps a response's socket corked until the next tick: that is when it goes.
    process.nextTick(() => { seen[`${req.url} next tick`] = s.writes() - seen.before; });
    setTimeout(() => res.end(), 5);
  });
  t.teardown(() => s.server.close());
  await exchange(s.port, post('/now', '{}'), (x) => x.endsWith('0\r\n\r\n'));
  await exchange(s.port, post('/later', '{}'), (x) => x.endsWith('0\r\n\r\n'));
  t.is(seen['/now next tick'], 1, 'written by the next tick');
  t.is(seen['/later next tick'], 0, 'without writeNow: at the end of the turn');
});

test('a large streamed answer to a slow reader arrives whole: back-pressure pauses it and drain resumes it', async (t) => {
  const { Readable } = await import('node:stream');
  const total = 8 * 1024 * 1024;
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': total });
    let sent = 0;
    Readable.from((function* () { while (sent < total) { const n = Math.min(16 * 1024, total - sent); sent += n; yield Buffer.alloc(n, 0x7a); } })()).pipe(res);
  });
  t.teardown(() => s.server.close());
  const received = await new Promise<number>((resolve, reject) => {
    const c = net.connect(s.port, '127.0.0.1', () => c.write(post('/', '{}')));
    let bytes = 0;
    let head = true;
    c.on('data', (d: Buffer) => {
      if (head) { const i = d.indexOf('\r\n\r\n'); head = false; d = d.subarray(i + 4); }
      bytes += d.length;
      if (bytes >= total) { c.destroy(); resolve(bytes); return; }
      c.pause(); // a slow reader
      setTimeout(() => c.resume(), 1);
    });
    c.on('error', reject);
  });
  t.is(received, total);
});

test('a reader that does not read still pushes back: write() returns false past the high-water mark', async (t) => {
  let refused = false;
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const chunk = 'y'.repeat(64 * 1024);
    for (let i = 0; i < 64 && !refused; i++) refused = !res.write(chunk);
    res.end();
  });
  t.teardown(() => s.server.close());
  const c = net.connect(s.port, '127.0.0.1', () => c.write(post('/', '{}')));
  c.pause(); // never reads
  t.teardown(() => c.destroy());
  for (let i = 0; i < 100 && !refused; i++) await new Promise((r) => setTimeout(r, 20));
  t.true(refused, 'write() said to wait before 4 MB were queued');
});
