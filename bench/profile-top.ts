// `node --import=tsx bench/profile-top.ts FILE.cpuprofile [N]` — the N (default 25) functions with
// the most self time in a V8 CPU profile (from `node --cpu-prof` or bench:allocator's
// --cpu-prof-rounds), with their total (inclusive) time, as a table on stdout.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node --import=tsx bench/profile-top.ts FILE.cpuprofile [N]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Time per sample: the delta to the next sample (V8 records the delta before each sample).
const selfUs = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i + 1] ?? 0;
  selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + dt);
}

const keyOf = (n: ProfileNode): string => {
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const where = url ? `${relative(process.cwd(), url)}:${n.callFrame.lineNumber + 1}` : '';
  return `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (const [id, us] of selfUs) {
  all += us;
  const n = byId.get(id)!;
  self.set(keyOf(n), (self.get(keyOf(n)) ?? 0) + us);
  // Inclusive time: once per distinct function on the stack.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = keyOf(byId.get(cur)!);
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + us);
  }
}

const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
const pct = (us: number): string => `${((100 * us) / all).toFixed(1)}%`.padStart(6);
process.stdout.write(`${(all / 1000).toFixed(0)} ms sampled in ${file}\n  self ms   self  total   function\n`);
for (const [k, us] of rows) {
  process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ${pct(us)} ${pct(total.get(k) ?? 0)}   ${k}\n`);
}
