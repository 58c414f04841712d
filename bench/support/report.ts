import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TargetKind } from './target.js';

export interface BenchOptions {
  readonly quick: boolean;
  readonly reps: number;
  readonly logEvents: number;
  readonly memorySubscriptions: number;
}

export interface BenchContext extends BenchOptions {
  /** One progress line on stdout. */
  readonly log: (line: string) => void;
}

/** What each scenario hands back: a Markdown table and the raw figures for the JSON file. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly headers: string[];
  readonly rows: string[][];
  readonly notes: string[];
  readonly data: unknown;
}

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly totalMemoryGiB: number;
  readonly tmpFilesystem: string;
  readonly loadAverageAtStart: number[];
}

export function machine(): Machine {
  let tmpFilesystem = 'unknown';
  try {
    tmpFilesystem = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '--target', os.tmpdir()], { encoding: 'utf8' }).trim() || tmpFilesystem;
  } catch {
    // findmnt missing: leave unknown
  }
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    tmpFilesystem,
    loadAverageAtStart: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/**
 * The physical floor of an acknowledgement after a durable commit: p50 and p99 of writing 4 KiB and
 * fdatasync-ing it, in the folder where the bench's servers keep their logs (the OS temp folder).
 */
export function fsyncFloor(samples = 300): { p50Ms: number; p99Ms: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-fsync-'));
  const fd = fs.openSync(path.join(dir, 'probe'), 'w');
  const block = Buffer.alloc(4096, 7);
  const times: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      fs.writeSync(fd, block, 0, block.length, i * block.length);
      fs.fdatasyncSync(fd);
      times.push(performance.now() - started);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const at = (p: number): number => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!;
  return { p50Ms: at(50), p99Ms: at(99) };
}

export function describeMachine(m: Machine): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.totalMemoryGiB} GiB RAM, Node ${m.node}, ${m.platform}; temp folder on ${m.tmpFilesystem}; load average at start ${m.loadAverageAtStart.join(' / ')}`;
}

export function markdownTable(headers: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Runs of both targets for one configuration, repetitions interleaved (A B, B A, A B ...). */
export interface Compared<T> {
  readonly auditstream: T[];
  readonly baseline: T[];
  readonly failures: string[];
}

export async function compare<T>(
  ctx: BenchContext,
  label: string,
  run: (kind: TargetKind) => Promise<T>,
  describe: (result: T) => string,
  kinds: readonly TargetKind[] = ['auditstream', 'baseline'],
): Promise<Compared<T>> {
  const out: Compared<T> = { auditstream: [], baseline: [], failures: [] };
  for (let rep = 0; rep < ctx.reps; rep++) {
    const order = rep % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      try {
        const result = await run(kind);
        out[kind].push(result);
        ctx.log(`  ${label}, ${kind}, run ${rep + 1}/${ctx.reps}: ${describe(result)}`);
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
        out.failures.push(`${kind} run ${rep + 1}: ${message}`);
        ctx.log(`  ${label}, ${kind}, run ${rep + 1}/${ctx.reps}: FAILED ${message}`);
      }
    }
  }
  return out;
}
