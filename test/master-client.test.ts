// MasterClient retries across replicas, but never re-sends a change that may already have been
// applied: plain node:http servers on loopback stand in for a replica that breaks the connection
// after reading the request, one that answers, and a port where nothing listens.
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MasterClient } from '../src/client/master-client.ts';

async function replica(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      handle(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A port where nothing listens (a server opened and closed again). */
async function deadUrl(): Promise<string> {
  const r = await replica(() => {});
  await r.close();
  return r.url;
}

const breaksConnection = () => replica((req) => req.socket.destroy());
const answers = () => replica((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end('{"ok":true}');
});

const fast = { rounds: 2, baseDelayMs: 1, maxDelayMs: 2 };

test('a change sent to a replica that then broke the connection is not sent again to the next one', async (t) => {
  const [broken, good] = await Promise.all([breaksConnection(), answers()]);
  t.teardown(async () => { await broken.close(); await good.close(); });
  const c = new MasterClient([broken.url, good.url], fast);
  const err = await t.throwsAsync(c.request('/v1/tokens', { pool: 'gpu' }));
  t.regex(err!.message, /did not answer POST \/v1\/tokens .* after it was sent: it may or may not have been applied/);
  t.is(broken.seen.length, 1);
  t.deepEqual(good.seen, []);
});

test('a change is retried on the next replica when the first refused the connection', async (t) => {
  const [dead, good] = [await deadUrl(), await answers()];
  t.teardown(() => good.close());
  const c = new MasterClient([dead, good.url], fast);
  const res = await c.request('/v1/tokens', { pool: 'gpu' });
  t.deepEqual(await res.json(), { ok: true });
  t.deepEqual(good.seen, ['POST /v1/tokens {"pool":"gpu"}']);
});

test('reads and GET_* operator calls are retried after a broken connection', async (t) => {
  const [broken, good] = await Promise.all([breaksConnection(), answers()]);
  t.teardown(async () => { await broken.close(); await good.close(); });
  t.deepEqual(await new MasterClient([broken.url, good.url], fast).call('GET_AGENTS'), { ok: true });
  t.is((await new MasterClient([broken.url, good.url], fast).fetch('/v1/policies/current')).status, 200);
  t.is(broken.seen.length, 2);
  t.is(good.seen.length, 2);
  // A non-GET operator call is a change: not re-sent.
  await t.throwsAsync(new MasterClient([broken.url, good.url], fast).call('MARK_AGENT_GONE', { mark_agent_gone: { agent_id: { value: 'a' } } }),
    { message: /may or may not have been applied/ });
  t.is(good.seen.length, 2);
});

test('a change that a replica received but never answered (the attempt timed out) is not sent again', async (t) => {
  const [silent, good] = await Promise.all([replica(() => {}), answers()]);
  t.teardown(async () => { await silent.close(); await good.close(); });
  const c = new MasterClient([silent.url, good.url], { ...fast, attemptTimeoutMs: 300 });
  await t.throwsAsync(c.request('/api/v1', { type: 'UPDATE_WEIGHTS' }), { message: /did not answer POST \/api\/v1 .*may or may not have been applied/ });
  t.is(silent.seen.length, 1);
  t.deepEqual(good.seen, []);
});
