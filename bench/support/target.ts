import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServerProcess } from '../../test/support/server-process.js';
import { BENCH_DIR, profileFlags, track, trackPid, untrackPid, withTimeout, Worker, type WorkerMessage } from './processes.js';
import { sleep } from './stats.js';

export type TargetKind = 'auditstream' | 'baseline';

export const TARGET_LABEL: Record<TargetKind, string> = { auditstream: 'auditstream', baseline: 'bare grpc-js' };

export interface ProcessMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** A server under test, in its own process on 127.0.0.1. */
export interface Target {
  readonly kind: TargetKind;
  readonly address: string;
  readonly httpPort?: number;
  /** Memory of the server process after two full GCs. */
  memory(): Promise<ProcessMemory>;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Extra YAML for the auditstream server (not `server:` or `storage:`, which startServerProcess writes). */
  readonly yaml?: string;
  /** Find the HTTP port (WebSocket bridge). */
  readonly http?: boolean;
  /** An existing log for the auditstream server to open (the caller keeps and removes it); default: a new one. */
  readonly databaseFile?: string;
  /** storage.synchronous of the auditstream server (default: the server's, full). */
  readonly synchronous?: 'full' | 'normal';
}

const PROBE = path.join(BENCH_DIR, 'support', 'server-probe.mjs');

interface ProbeReport {
  readonly pid: number;
  readonly argv: string[];
  readonly seq: number;
  readonly memory?: ProcessMemory;
  readonly ports?: number[];
}

async function readProbe(file: string, accept: (r: ProbeReport) => boolean, timeoutMs: number): Promise<ProbeReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      try {
        const report = JSON.parse(readFileSync(file, 'utf8')) as ProbeReport;
        if (accept(report)) return report;
      } catch {
        // a partial write cannot happen (rename), but be lenient
      }
    }
    if (Date.now() > deadline) throw new Error(`the server probe did not answer within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/**
 * The auditstream service as `auditstream serve` in its own process (test/support/server-process.ts),
 * with the default SQLite log in a fresh temporary folder that is removed afterwards (or on
 * `databaseFile`).
 */
async function startAuditstream(options: TargetOptions): Promise<Target> {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-bench-'));
  const probeFile = path.join(dir, 'probe.json');
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, BENCH_PROBE_FILE: process.env.BENCH_PROBE_FILE };
  process.env.NODE_OPTIONS = [saved.NODE_OPTIONS, `--import ${pathToFileURL(PROBE).href}`].filter(Boolean).join(' ');
  process.env.BENCH_PROBE_FILE = probeFile;
  let pending: ReturnType<typeof startServerProcess>;
  try {
    // spawn() happens synchronously inside, so the environment is restored before anything else starts.
    const file = options.databaseFile ?? path.join(dir, 'audit.db');
    const storage = options.synchronous ? `storage:\n  path: ${file}\n  synchronous: ${options.synchronous}\n` : '';
    pending = startServerProcess(`logging:\n  level: info\n${storage}${options.yaml ?? ''}`, file, '', profileFlags());
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  const settled = pending.then(() => undefined, () => undefined); // also keeps an early failure from being unhandled
  const first = await Promise.race([
    readProbe(probeFile, () => true, 30_000),
    settled.then(() => readProbe(probeFile, () => true, 0)),
  ]).catch(() => undefined);
  if (first) trackPid(first.pid);
  const cleanupFiles = (): void => {
    rmSync(dir, { recursive: true, force: true });
    // startServerProcess writes its config into a folder of its own; remove it too.
    const config = first?.argv[first.argv.indexOf('--config') + 1];
    if (config && path.basename(path.dirname(config)).startsWith('auditstream-process-')) {
      rmSync(path.dirname(config), { recursive: true, force: true });
    }
  };
  let server: Awaited<typeof pending>;
  try {
    // A given log may be large: the server runs SQLite's quick_check over the whole file before it serves.
    server = await withTimeout(pending, options.databaseFile ? 5 * 60_000 : 60_000, 'the auditstream server to serve');
  } catch (err) {
    if (first) {
      try {
        process.kill(first.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    cleanupFiles();
    throw err;
  }
  track(server.child);
  const pid = server.child.pid!;
  let seq = 0;
  const probe = async (): Promise<ProbeReport> => {
    const want = ++seq;
    process.kill(pid, 'SIGUSR2');
    return readProbe(probeFile, (r) => r.seq >= want, 15_000);
  };
  let httpPort: number | undefined;
  if (options.http) {
    const ports = (await probe()).ports ?? [];
    httpPort = ports.find((p) => p !== server.grpcPort);
    if (!httpPort) throw new Error(`could not find the HTTP port among ${ports.join(', ')}`);
  }
  return {
    kind: 'auditstream',
    address: `127.0.0.1:${server.grpcPort}`,
    httpPort,
    memory: async () => (await probe()).memory!,
    async stop() {
      await withTimeout(server.stop(), 15_000, 'the server to stop').catch(() => {
        server.child.kill('SIGKILL');
        return server.exited;
      });
      untrackPid(pid);
      cleanupFiles();
    },
  };
}

/** bench/baseline-server.ts in its own process. */
async function startBaseline(): Promise<Target> {
  const worker = new Worker('baseline-server.ts', 'baseline server');
  const ready = await worker.next<WorkerMessage & { grpcPort: number }>('ready', 60_000);
  return {
    kind: 'baseline',
    address: `127.0.0.1:${ready.grpcPort}`,
    async memory() {
      worker.send({ type: 'memory' });
      return (await worker.next<WorkerMessage & { memory: ProcessMemory }>('memory', 15_000)).memory;
    },
    stop: () => worker.stop(),
  };
}

export function startTarget(kind: TargetKind, options: TargetOptions = {}): Promise<Target> {
  return kind === 'auditstream' ? startAuditstream(options) : startBaseline();
}

/** Starts a target, runs `fn`, and always stops it. */
export async function withTarget<T>(kind: TargetKind, options: TargetOptions, fn: (t: Target) => Promise<T>): Promise<T> {
  const target = await startTarget(kind, options);
  try {
    return await fn(target);
  } finally {
    await target.stop();
  }
}
