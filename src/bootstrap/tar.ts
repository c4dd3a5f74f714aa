// A minimal, deterministic tar.gz writer (POSIX ustar, regular files only): the same files always
// give the same bytes — fixed mtime, owner root — so the agent bundle's sha256 depends on nothing
// but its contents.
import { gzipSync } from 'node:zlib';

export interface TarFile {
  /** Relative path, `/`-separated, at most 100 bytes. */
  path: string;
  content: Buffer | string;
  /** Octal permission bits, default 0o644. */
  mode?: number;
}

const BLOCK = 512;

function header(path: string, size: number, mode: number): Buffer {
  if (Buffer.byteLength(path) > 100 || path.startsWith('/') || path.split('/').includes('..')) throw new Error(`tar: bad path '${path}'`);
  const h = Buffer.alloc(BLOCK);
  const put = (value: string, offset: number, length: number): void => { h.write(value, offset, length, 'utf8'); };
  const octal = (n: number, length: number): string => `${n.toString(8).padStart(length - 1, '0')}\0`;
  put(path, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12); // mtime: the epoch, for reproducible bytes
  put('        ', 148, 8); // checksum placeholder (spaces while summing)
  put('0', 156, 1); // regular file
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export function tarGz(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const body = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content;
    parts.push(header(f.path, body.length, f.mode ?? 0o644), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end of archive
  return gzipSync(Buffer.concat(parts), { level: 9 });
}
