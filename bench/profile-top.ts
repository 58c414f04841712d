/**
 * The top entries of V8 CPU profiles (written with BENCH_CPU_PROF=<folder> npm run bench ...): for each
 * .cpuprofile, the functions with the most self time, and the busy share of the profile's wall time.
 *
 *   npx tsx bench/profile-top.ts <folder or files...> [--top 15]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Whole-process idle and bookkeeping entries, not work. */
const NOT_WORK = new Set(['(idle)', '(program)', '(garbage collector)']);

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url ? `${url.replace(/^file:\/\//, '').split('/node_modules/').pop()!.replace(process.cwd() + '/', '')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${file}`.trim();
}

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const name = label(node);
    selfUs.set(name, (selfUs.get(name) ?? 0) + delta);
    total += delta;
  });
  const busy = [...selfUs].filter(([name]) => !NOT_WORK.has(name.split(' ')[0]!)).reduce((n, [, us]) => n + us, 0);
  const gc = selfUs.get('(garbage collector)') ?? 0;
  console.log(`\n${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, busy ${((100 * busy) / Math.max(total, 1)).toFixed(0)}%, GC ${((100 * gc) / Math.max(total, 1)).toFixed(0)}%`);
  const rows = [...selfUs].filter(([name]) => name !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, us] of rows) console.log(`  ${((100 * us) / Math.max(total, 1)).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '15' } }, allowPositionals: true });
const files = positionals.flatMap((p) =>
  statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => path.join(p, f)) : [p]);
for (const file of files) summarize(file, Number(values.top));
