import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every process the bench starts is registered here and killed (SIGKILL) when the bench exits, on
 * success, failure, Ctrl-C or an uncaught error. Workers also exit by themselves when their IPC channel
 * to the bench closes, and the auditstream server's probe exits when its parent is gone.
 */
const children = new Set<ChildProcess>();
const pids = new Set<number>();

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** A process known only by pid (the server, before startServerProcess resolves). */
export function trackPid(pid: number): void {
  pids.add(pid);
}

export function untrackPid(pid: number): void {
  pids.delete(pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs every registered process still running; returns how many it signalled. */
export function killAll(): number {
  let killed = 0;
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')) killed++;
  }
  for (const pid of pids) {
    if (!alive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // already gone
    }
  }
  children.clear();
  pids.clear();
  return killed;
}

let installed = false;

export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    killAll();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const n = killAll();
      console.error(`\nbench: ${signal}, killed ${n} child process(es)`);
      process.exit(130);
    });
  }
}

/**
 * BENCH_CPU_PROF=<folder>: every bench process (servers and workers) writes a V8 CPU profile there
 * when it exits (open it in Chrome DevTools); for finding what limits a figure, not for timed runs.
 */
export function profileFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

export interface WorkerMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

interface Waiter {
  readonly type: string;
  readonly resolve: (m: WorkerMessage) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A bench worker script (bench/workers/*.ts) in its own Node process, talking JSON over IPC. Messages
 * of type 'progress' go to onProgress; 'error' fails every wait; the rest are kept until next() takes them.
 */
export class Worker {
  readonly child: ChildProcess;
  onProgress?: (m: WorkerMessage) => void;
  private readonly inbox: WorkerMessage[] = [];
  private waiters: Waiter[] = [];
  private failure?: Error;
  readonly exited: Promise<void>;

  constructor(script: string, readonly name: string, args: string[] = []) {
    this.child = fork(path.join(BENCH_DIR, script), args, {
      execArgv: ['--import', 'tsx', ...profileFlags()],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    track(this.child);
    this.child.on('message', (raw) => {
      const m = raw as WorkerMessage;
      if (m.type === 'progress') this.onProgress?.(m);
      else if (m.type === 'error') this.fail(new Error(`${name}: ${String(m.message)}`));
      else {
        const i = this.waiters.findIndex((w) => w.type === m.type);
        if (i < 0) this.inbox.push(m);
        else {
          const [w] = this.waiters.splice(i, 1);
          clearTimeout(w.timer);
          w.resolve(m);
        }
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      this.fail(new Error(`${name} exited (${code ?? signal}) while the bench waited for it`));
      resolve();
    }));
  }

  send(message: WorkerMessage): void {
    if (this.child.connected) this.child.send(message);
  }

  /** The next message of this type (one already received, or the next to come). */
  next<T extends WorkerMessage>(type: string, timeoutMs: number): Promise<T> {
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as T);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`${this.name}: no '${type}' within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiters.push({ type, resolve: resolve as (m: WorkerMessage) => void, reject, timer });
    });
  }

  /** Asks the worker to close its connections and exit; SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)} s waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
