// What `npm pack` ships — the tarball a global install (and terraform's masters) runs from: every
// file the code reads at run time (Lua scripts, the launcher, cloud-init templates, policies),
// and no tests, benchmarks or terraform.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))) // parentPath: Node ≥ 20.12
    .filter(keep);
}

test('npm pack ships the runtime files, including those read from disk, and leaves tests out', (t) => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const shipped = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
  const needed = [
    'bin/spillway', 'package.json', 'tsconfig.json', 'README.md', 'src/cli/main.ts',
    ...filesUnder('src', (p) => /\.(lua)$/.test(p)),
    ...filesUnder('agents', (p) => /\.(sh|in|ts)$/.test(p)),
    ...filesUnder('providers', (p) => p.endsWith('.ts')),
    ...filesUnder('policies', () => true),
  ];
  t.deepEqual(needed.filter((p) => !shipped.has(p)), [], 'every runtime file is in the package');
  t.deepEqual([...shipped].filter((p) => /^(test|bench|terraform|\.ci)\//.test(p)), [], 'no tests, benchmarks, terraform or CI');
});
