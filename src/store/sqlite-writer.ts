import type { Worker } from 'node:worker_threads';
import type { Committed, DraftRow } from './sqlite-append.js';
import { asBuffer } from '../lib/bytes.js';
import type { WriterReply, WriterRequest, WriterSettings } from './sqlite-writer-thread.js';
import { startThread } from './thread.js';

/** An append that failed in the writer thread, with SQLite's code (SQLITE_FULL, SQLITE_IOERR_*, ...). */
export class WriteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SqliteError';
  }
}

/**
 * The main thread's side of the writer thread: posts batches in order and resolves each with what the
 * thread committed. Several batches may be in flight (the next one fills while one commits); the thread
 * takes them one after another, each after the `last` the previous commit returned.
 */
export class SqliteWriter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, {
    resolve: (c: Committed) => void;
    reject: (e: Error) => void;
    progress?: ((copied: number, total: number) => void) | undefined;
  }>();
  private nextId = 0;
  private failure?: Error | undefined;
  /** Resolves once the thread has opened the database (or failed to). */
  readonly ready: Promise<void>;

  constructor(settings: WriterSettings) {
    this.worker = startThread('sqlite-writer-thread', settings);
    this.ready = new Promise<void>((resolve) => {
      this.worker.on('message', (reply: WriterReply | 'ready') => (reply === 'ready' ? resolve() : this.settle(reply)));
      this.worker.once('exit', () => resolve());
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the log writer thread exited (${code})`)));
  }

  /** Commits a batch after everything posted before it. */
  append(rows: readonly DraftRow[], receivedAtMs: number): Promise<Committed> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextId;
    return new Promise<Committed>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, rows, receivedAtMs } satisfies WriterRequest);
    });
  }

  /** An online copy on the writer's connection; `progress` is called as pages are copied. */
  backup(destination: string, progress: (copied: number, total: number) => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextId;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve: () => resolve(), reject, progress });
      this.worker.postMessage({ id, backupTo: destination } satisfies WriterRequest);
    });
  }

  async close(): Promise<void> {
    if (this.failure) return;
    this.failure = new Error('the event log is closed');
    await new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage('close');
    });
  }

  private settle(reply: WriterReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    if ('progress' in reply) {
      try {
        waiter.progress?.(...reply.progress);
      } catch (err) {
        // The caller abandons the copy: it is finished by the thread, then removed by the caller.
        waiter.reject(err instanceof Error ? err : new Error(String(err)));
        waiter.progress = undefined;
      }
      return;
    }
    this.waiting.delete(reply.id);
    if ('error' in reply) waiter.reject(new WriteError(reply.error.code, reply.error.message));
    else if ('done' in reply) waiter.resolve(undefined as never);
    else {
      const { placed, last } = reply.committed;
      waiter.resolve({ placed, last: { sequence: last.sequence, hash: asBuffer(last.hash) } });
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}
