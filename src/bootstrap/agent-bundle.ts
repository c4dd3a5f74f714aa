// The agent bundle served at GET /v1/agent/bundle: a tar.gz holding the agent as ONE JavaScript file
// built by esbuild from agents/standalone.ts, plus its version. Why one bundled file rather than
// the sources with node_modules: the agent runs from TypeScript through tsx in a checkout, which a
// fresh VM does not have; a bundle is about 130 KB compressed instead of tens of MB, needs nothing
// but Node ≥ 20 on the VM, unpacks in milliseconds and has no install step that could reach a
// registry. Built once per process on first use (about a second) and cached; the tarball is
// byte-for-byte reproducible (src/bootstrap/tar.ts), so its sha256 names exactly what is served.
import { createHash } from 'node:crypto';
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
const VERSION_MODULE = fileURLToPath(new URL('../common/version.ts', import.meta.url));

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
      // version.ts reads package.json next to the sources; the bundle carries the value instead.
      name: 'spillway-version',
      setup(b) {
        b.onLoad({ filter: /[\\/]src[\\/]common[\\/]version\.ts$/ }, (args) => (args.path === VERSION_MODULE
          ? { contents: `export const VERSION = ${JSON.stringify(VERSION)};`, loader: 'ts' }
          : undefined));
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
