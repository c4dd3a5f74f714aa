// The agent bundle served at GET /v1/agent/bundle: a tar.gz holding the agent as ONE JavaScript file
// built by esbuild from agents/standalone.ts, plus its version. Why one bundled file rather than
// the sources with node_modules: the agent runs from TypeScript through tsx in a checkout, which a
// fresh VM does not have; a bundle is about 130 KB compressed instead of tens of MB, needs nothing
// but Node ≥ 20 on the VM, unpacks in milliseconds and has no install step that could reach a
// registry. Built once per process on first use (about a second) and cached; the tarball is
// byte-for-byte reproducible (src/bootstrap/tar.ts), so its sha256 names exactly what is served.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../common/version.ts';
import { tarGz } from './tar.ts';

export interface AgentBundle {
  tarball: Buffer;
  sha256: string;
  version: string;
  /** Where the agent's entry file is inside the tarball. */
  entry: string;
}

export const BUNDLE_FILE = 'spillway-agent.tar.gz';
export const BUNDLE_ENTRY = 'spillway-agent/spillway-agent.mjs';

const ENTRY = fileURLToPath(new URL('../../agents/standalone.ts', import.meta.url));
/** `readFileSync(new URL('./x', import.meta.url), 'utf8')`: a file shipped beside a module. */
const SIBLING_FILE = /readFileSync\(new URL\((['"])([^'"]+)\1, import\.meta\.url\), (['"])utf8\3\)/g;

/** Source with every sibling file it reads inlined as a string: the bundle has no files beside it. */
export async function inlineSiblingFiles(source: string, path: string): Promise<string> {
  const reads = [...source.matchAll(SIBLING_FILE)];
  let out = source;
  for (const m of reads) {
    const text = await readFile(resolve(dirname(path), m[2]!), 'utf8');
    out = out.replace(m[0], JSON.stringify(text));
  }
  return out;
}

let cached: Promise<AgentBundle> | undefined;

/** The bundle, built on first call. A failed build is not cached: the next call tries again. */
export function agentBundle(): Promise<AgentBundle> {
  cached ??= build().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function build(): Promise<AgentBundle> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    write: false,
    outfile: 'spillway-agent.mjs',
    legalComments: 'none',
    logLevel: 'silent',
    // Bundled CommonJS dependencies call require(); give the ESM file one.
    banner: { js: "import { createRequire as __spillwayRequire } from 'node:module'; const require = __spillwayRequire(import.meta.url);" },
    plugins: [{
      // Modules that read files beside them (version.ts: package.json, the executor's launcher.sh)
      // get those files inlined, so the one bundled file is all the agent needs.
      name: 'spillway-inline-sibling-files',
      setup(b) {
        b.onLoad({ filter: /\.ts$/ }, async (args) => {
          if (/[\\/]node_modules[\\/]/.test(args.path)) return undefined;
          const source = await readFile(args.path, 'utf8');
          return source.includes('import.meta.url') ? { contents: await inlineSiblingFiles(source, args.path), loader: 'ts' } : undefined;
        });
      },
    }],
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
  if (!js) throw new Error('agent bundle: esbuild produced no output');
  const tarball = tarGz([
    { path: BUNDLE_ENTRY, content: Buffer.from(js.contents) },
    { path: 'spillway-agent/VERSION', content: `${VERSION}\n` },
  ]);
  return { tarball, sha256: createHash('sha256').update(tarball).digest('hex'), version: VERSION, entry: BUNDLE_ENTRY };
}
