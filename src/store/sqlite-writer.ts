import { Worker } from 'node:worker_threads';
import type { NewAuditEvent } from '../domain/event.js';
import type { Committed } from './sqlite-append.js';
import type { WriterReply, WriterRequest, WriterSettings } from './sqlite-writer-thread.js';

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
  private readonly waiting = new Map<number, { resolve: (c: Committed) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure?: Error;

  constructor(settings: WriterSettings) {
    // A .js URL: compiled, it is the file next to this one; under tsx the loader maps it to the .ts source.
    this.worker = new Worker(new URL('./sqlite-writer-thread.js', import.meta.url), { workerData: settings });
    this.worker.on('message', (reply: WriterReply) => this.settle(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the log writer thread exited (${code})`)));
  }

  /** Commits a batch after everything posted before it. */
  append(events: readonly NewAuditEvent[], receivedAt: Date): Promise<Committed> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextId;
    return new Promise<Committed>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, events, receivedAt } satisfies WriterRequest);
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
    this.waiting.delete(reply.id);
    if ('error' in reply) waiter.reject(new WriteError(reply.error.code, reply.error.message));
    else waiter.resolve({ ...reply.committed, last: { sequence: reply.committed.last.sequence, hash: Buffer.from(reply.committed.last.hash) } });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}
