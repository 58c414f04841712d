/**
 * `npm run bench`: the benchmark suite of issue 8. Every scenario runs the server under test as its
 * own process on 127.0.0.1, with publishers and subscribers in other processes (bench/workers), and
 * compares auditstream with a bare grpc-js server (bench/baseline-server.ts) in the same run.
 *
 *   npm run bench                         every scenario, 3 repetitions, medians (about 20 minutes)
 *   npm run bench -- --quick              a smoke run: fewer events, 1 repetition, K <= 100, N <= 10,000
 *   npm run bench -- --only fanout,latency   some scenarios (unary, batch, fanout, latency, filter, memory, log, replay)
 *   npm run bench -- --reps 5 --log-events 200000 --memory-subscriptions 5000
 *
 * --log-events: the events stored by the log and replay scenarios (1,000,000; 100,000 with --quick).
 * Writes bench/results/<date>.json and latest.json (not committed), and the Markdown tables to
 * bench/results/latest.md for a full run or bench/results/partial.md for --quick / --only runs.
 * Every child process is killed at the end, also on failure or Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fanoutScenario } from './fanout.js';
import { filterScenario } from './scenarios/filter.js';
import { latencyScenario } from './scenarios/latency.js';
import { logScenario } from './scenarios/log.js';
import { memoryScenario } from './scenarios/memory.js';
import { replayScenario } from './scenarios/replay.js';
import { batchScenario, unaryScenario } from './scenarios/throughput.js';
import { BENCH_DIR, installCleanup, killAll } from './support/processes.js';
import { describeMachine, fsyncFloor, machine, markdownTable, type BenchContext, type ScenarioResult } from './support/report.js';

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  unary: unaryScenario,
  batch: batchScenario,
  fanout: fanoutScenario,
  latency: latencyScenario,
  filter: filterScenario,
  memory: memoryScenario,
  log: logScenario,
  replay: replayScenario,
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    reps: { type: 'string' },
    'log-events': { type: 'string' },
    'memory-subscriptions': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run bench -- [--quick] [--only unary,batch,fanout,latency,filter,memory,log,replay] [--reps n] [--log-events n] [--memory-subscriptions n]');
  process.exit(0);
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive whole number, not ${text}`);
    process.exit(2);
  }
  return n;
}

const only = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
const unknown = only.filter((s) => !(s in SCENARIOS));
if (unknown.length) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
const selected = only.length ? Object.keys(SCENARIOS).filter((s) => only.includes(s)) : Object.keys(SCENARIOS);
const quick = values.quick;
const ctx: BenchContext = {
  quick,
  reps: positive('reps', values.reps, quick ? 1 : 3),
  logEvents: positive('log-events', values['log-events'], quick ? 100_000 : 1_000_000),
  memorySubscriptions: positive('memory-subscriptions', values['memory-subscriptions'], 10_000),
  log: (line) => console.log(line),
};
const args = process.argv.slice(2);
const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;

installCleanup();
const startedAt = new Date();
const host = machine();
const floor = fsyncFloor();
console.log(`fsync floor (4 KiB write + fdatasync in ${os.tmpdir()}): p50 ${floor.p50Ms.toFixed(2)} ms, p99 ${floor.p99Ms.toFixed(2)} ms`);
console.log(`auditstream bench: ${command}`);
console.log(`machine: ${describeMachine(host)}`);
console.log(`scenarios: ${selected.join(', ')}; ${ctx.reps} repetition(s), medians\n`);

const results: ScenarioResult[] = [];
const failures: string[] = [];
try {
  for (const id of selected) {
    const t = performance.now();
    console.log(`== ${id}`);
    try {
      results.push(await SCENARIOS[id](ctx));
      console.log(`   (${id} took ${((performance.now() - t) / 1000).toFixed(0)} s)`);
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      failures.push(`${id}: ${message.split('\n')[0]}`);
      console.error(`   ${id} FAILED: ${message}`);
    }
    // Nothing may outlive a scenario: a leftover process would skew the next one.
    const leftovers = killAll();
    if (leftovers) console.log(`   killed ${leftovers} leftover process(es)`);
  }
} finally {
  killAll();
}

const finishedAt = new Date();
const loadAtEnd = os.loadavg().map((n) => n.toFixed(2)).join(' / ');
const minutes = (finishedAt.getTime() - startedAt.getTime()) / 60_000;
const date = `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const markdown = [
  `Command: \`${command}\` · date: ${date} · took ${minutes.toFixed(1)} min`,
  '',
  `Machine: ${describeMachine(host)}, at the end ${loadAtEnd}. Server, publishers and subscribers share it, each in its own process on 127.0.0.1.`,
  '',
  `fsync floor (the physical floor of an acknowledgement after a durable commit: 4 KiB write + fdatasync in ${os.tmpdir()}, 300 samples): p50 ${floor.p50Ms.toFixed(2)} ms, p99 ${floor.p99Ms.toFixed(2)} ms.`,
  '',
  `Each figure is the median of ${ctx.reps} run(s), each against a fresh server process (auditstream with its default SQLite log, synchronous=full unless a row says otherwise, in a new temporary folder). "ratio" is auditstream / the bare grpc-js baseline measured in the same run.`,
  ...results.flatMap((r) => ['', `### ${r.title}`, '', markdownTable(r.headers, r.rows), '', ...r.notes.map((n) => `- ${n}`)]),
  ...(failures.length ? ['', '### Failed scenarios', '', ...failures.map((f) => `- ${f}`)] : []),
  '',
].join('\n');

const dir = path.join(BENCH_DIR, 'results');
mkdirSync(dir, { recursive: true });
const json = JSON.stringify({ command, startedAt, finishedAt, machine: { ...host, loadAverageAtEnd: os.loadavg() }, options: { ...ctx, log: undefined, scenarios: selected }, results, failures }, null, 2);
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
writeFileSync(path.join(dir, `${stamp}.json`), json);
writeFileSync(path.join(dir, 'latest.json'), json);
const full = !quick && only.length === 0;
const mdFile = path.join(dir, full ? 'latest.md' : 'partial.md');
writeFileSync(mdFile, markdown);
console.log(`\n${markdown}`);
console.log(`results: ${path.relative(process.cwd(), path.join(dir, `${stamp}.json`))}, ${path.relative(process.cwd(), mdFile)}`);
process.exit(failures.length ? 1 : 0);
