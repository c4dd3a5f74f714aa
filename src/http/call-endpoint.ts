// The scheduler and agent APIs are the master's hot paths: every task costs a few calls on them
// (ACCEPT, one ACKNOWLEDGE per status update, batched agent UPDATEs). They are served straight
// from node:http rather than through Koa's context, router and body parser, which cost several
// times the request itself (docs/BENCHMARKS.md); the answers are the same: content negotiation,
// body limit, JSON errors and status codes are shared with the Koa routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import getRawBody from 'raw-body';
import { HttpError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { negotiationError } from './content-type.ts';
import { describeError, isClientHangup } from './errors.ts';
import { parseProtoJson } from '../mesos/proto-json.ts';
import { writeNow } from './coalesced-writes.ts';
import type { HttpEventSink } from './stream-sink.ts';

/** What a call is answered with: a status (202 …), or 200 and an event stream. */
export type CallResponse =
  | { status: number }
  | { status: 200; headers: Record<string, string>; sink: HttpEventSink; onClose(): void };

/** Handles one parsed JSON call; throws HttpError for a 4xx. */
export type CallHandler = (body: unknown, req: IncomingMessage) => Promise<CallResponse>;

export interface CallEndpointOptions {
  /** Largest accepted body, in `bytes` notation ('1mb'). */
  limit: string;
  log: Logger;
}

export function serveCall(handler: CallHandler, req: IncomingMessage, res: ServerResponse, opts: CallEndpointOptions): void {
  answer(handler, req, res, opts).catch((e: unknown) => {
    const { status, message, log } = describeError(e);
    if (log) opts.log.error({ err: e, path: req.url }, 'request failed');
    if (res.headersSent) return void res.destroy();
    const headers = e instanceof HttpError ? e.headers : undefined;
    res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(message) });
    res.end(message);
    // An unread body (refused before reading) must not be parsed as the next request.
    if (!req.complete) req.resume();
  });
}

async function answer(handler: CallHandler, req: IncomingMessage, res: ServerResponse, opts: CallEndpointOptions): Promise<void> {
  if (req.method !== 'POST') throw new HttpError(405, `Expecting 'POST', received '${req.method}'`, { Allow: 'POST' });
  const problem = negotiationError(req.headers);
  if (problem) throw problem;
  const raw = await getRawBody(req, { limit: opts.limit, length: req.headers['content-length'], encoding: 'utf8' });
  const body = parseProtoJson(raw);
  const out = await handler(body, req);
  if (!('sink' in out)) {
    res.writeHead(out.status, { 'Content-Length': 0 });
    res.end();
    return;
  }
  // A client that hung up while the call was handled (a SUBSCRIBE waits for its write) has already
  // had its 'close': without this its subscriber would count as connected, forever.
  if (res.destroyed || req.socket.destroyed) {
    out.onClose();
    out.sink.body.destroy();
    return;
  }
  req.socket.setTimeout(0);
  req.socket.setNoDelay(true);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache', ...out.headers });
  res.on('close', out.onClose);
  out.sink.body.on('error', (e) => { if (!isClientHangup(e)) opts.log.warn({ err: e }, 'event stream failed'); });
  writeRecords(out.sink.body, res);
  out.sink.attach({ writeNow: () => writeNow(req.socket), destroy: () => res.destroy() });
}

/**
 * Streams batches of RecordIO records (stream-sink.ts) to the response: one HTTP chunk per record,
 * as Mesos sends them; a slow reader pauses the stream. A batch still leaves in one socket write:
 * node's http corks the socket at a response's first write until the next tick. (Not res.cork():
 * since Node 21 a corked response merges its writes into one chunk.)
 */
function writeRecords(stream: Readable, res: ServerResponse): void {
  res.once('close', () => stream.destroy()); // the reader left: what is still queued goes nowhere
  stream.on('data', (batch: string[]) => {
    if (res.destroyed) return;
    let ok = true;
    for (const record of batch) ok = res.write(record, 'utf8') && ok;
    if (!ok) {
      stream.pause();
      res.once('drain', () => stream.resume());
    }
  });
  stream.on('end', () => res.end());
}
