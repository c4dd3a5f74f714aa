// One socket write per turn of the event loop, however many HTTP answers were made in it.
//
// Schedulers pipeline their calls (an ACKNOWLEDGE per status update, thousands a second), and
// node:http answers pipelined requests one after another, each with its own socket write: a write
// system call, and on loopback the receiver's TCP work too, per 202. That was the largest single
// cost of the master's hot path (docs/BENCHMARKS.md). Here the writes a socket gets during one turn
// are gathered and leave in one write in the check phase (setImmediate) of the same turn.
//
// Each write's callback is called on the next tick, as node calls it after a write that completed
// at once: node:http starts the next pipelined answer from that callback, so waiting for the real
// write would put one answer per turn. A write that then fails destroys the socket with the error,
// as it would have; the callbacks have run, as they do when the kernel accepted the bytes and the
// peer then vanished. The return value is the back-pressure node's own write would give.
import type { Socket } from 'node:net';

type WriteCallback = (err?: Error | null) => void;
type Chunk = string | Uint8Array;
type RawWrite = (chunk: Chunk, encoding: BufferEncoding, cb?: WriteCallback) => boolean;

/** Each coalescing socket's flush, for writeNow. */
const flushes = new WeakMap<Socket, () => void>();

/**
 * Sends what `socket` has gathered this turn now, before anything else is written anywhere: for
 * writes that must reach the kernel before the master answers someone else (LAUNCH before 202).
 */
export function writeNow(socket: Socket | null | undefined): void {
  if (socket) flushes.get(socket)?.();
}

export function coalesceWrites(socket: Socket): void {
  const write = socket.write.bind(socket) as RawWrite;
  const end = socket.end.bind(socket) as (...args: unknown[]) => Socket;
  const destroy = socket.destroy.bind(socket);
  let chunks: Chunk[] = [];
  let encodings: BufferEncoding[] = [];
  let queuedBytes = 0;
  let ending = false;
  /** A write here said "wait": a 'drain' must follow, even if the socket itself never filled up. */
  let owesDrain = false;
  const failed = (err?: Error | null): void => { if (err) socket.destroy(err); };
  // Corked, the writes leave as one writev of the chunks as they are (no copies in JS).
  const flush = (): void => {
    if (chunks.length === 0) return;
    const out = chunks;
    const enc = encodings;
    const drainOwed = owesDrain;
    chunks = [];
    encodings = [];
    queuedBytes = 0;
    owesDrain = false;
    if (socket.destroyed) return; // gone: node drops what was not written yet, too
    socket.cork();
    for (let i = 0; i < out.length; i++) write(out[i], enc[i], i === out.length - 1 ? failed : undefined);
    socket.uncork();
    // The same bytes usually fill the socket's own buffer too, and it emits 'drain' when it
    // empties; when they did not (counted differently, or gone at once), nobody would.
    if (drainOwed && !socket.writableNeedDrain) process.nextTick(() => socket.emit('drain'));
  };
  socket.write = ((chunk: Chunk, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean => {
    const callback = typeof encoding === 'function' ? encoding : cb;
    const enc = typeof encoding === 'string' ? encoding : 'utf8';
    // What node would refuse at once is refused at once, not later inside the flush.
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return write(chunk, enc, callback);
    if (ending || socket.destroyed || !socket.writable) return write(chunk, enc, callback); // node reports the error
    if (chunks.length === 0) setImmediate(flush);
    chunks.push(chunk);
    encodings.push(enc);
    queuedBytes += typeof chunk === 'string' ? chunk.length : chunk.byteLength;
    if (callback) process.nextTick(callback);
    const ok = socket.writableLength + queuedBytes < socket.writableHighWaterMark;
    if (!ok) owesDrain = true;
    return ok;
  }) as Socket['write'];
  // What was written before end() goes before the end (and end's own data goes straight out).
  socket.end = ((...args: unknown[]): Socket => {
    flush();
    ending = true;
    return end(...args);
  }) as Socket['end'];
  // And before a destroy: node writes its own answers (400 to a malformed request, 408, 431) and
  // destroys the socket at once, and a server closing drops idle connections right after their
  // last answer. Without a flush those bytes would be thrown away; with it they reach the kernel.
  socket.destroy = ((err?: Error): Socket => {
    flush();
    return destroy(err);
  }) as Socket['destroy'];
  flushes.set(socket, flush);
}
