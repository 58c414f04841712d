/**
 * The log writer's thread: its own connection to the database, the group commit (sealing, hashing,
 * inserting, fsync) off the event loop. Messages are handled one at a time, in order, so the chain
 * and the sequences are exactly what one writer on the main thread would make.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { appendTransaction, type Committed, type DraftRow } from './sqlite-append.js';
import { PAGES_PER_STEP } from './sqlite-backup.js';
import { headOf, prepareStatements, type ChainPoint } from './sqlite-statements.js';

export interface WriterSettings {
  readonly path: string;
  readonly pragmas: readonly string[];
}

export type WriterRequest =
  | { readonly id: number; readonly rows: readonly DraftRow[]; readonly receivedAtMs: number }
  | { readonly id: number; readonly backupTo: string };
export type WriterReply =
  | { readonly id: number; readonly committed: Committed }
  | { readonly id: number; readonly progress: readonly [copied: number, total: number] }
  | { readonly id: number; readonly done: true }
  | { readonly id: number; readonly error: { readonly code: string; readonly message: string } };

function failure(id: number, err: unknown): WriterReply {
  const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'UNKNOWN';
  return { id, error: { code, message: err instanceof Error ? err.message : String(err) } };
}

const settings = workerData as WriterSettings;
const db = new Database(settings.path);
for (const pragma of settings.pragmas) db.pragma(pragma);
const statements = prepareStatements(db);
const append = appendTransaction(db, statements);
/** The chain's head: this thread is the only writer of events, so it keeps it (as SqliteEventLog's constructor reads it). */
let last: ChainPoint = headOf(statements);
parentPort!.postMessage('ready');

parentPort!.on('message', (request: WriterRequest | 'close') => {
  if (request === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  if ('backupTo' in request) {
    // On this connection, the one that writes: SQLite folds its commits into the running copy.
    db.backup(request.backupTo, {
      progress: ({ totalPages, remainingPages }) => {
        parentPort!.postMessage({ id: request.id, progress: [totalPages - remainingPages, totalPages] } satisfies WriterReply);
        return PAGES_PER_STEP;
      },
    }).then(() => parentPort!.postMessage({ id: request.id, done: true } satisfies WriterReply),
      (err: unknown) => parentPort!.postMessage(failure(request.id, err)));
    return;
  }
  let reply: WriterReply;
  try {
    const committed = append.immediate(request.rows, request.receivedAtMs, last);
    last = committed.last;
    reply = { id: request.id, committed };
  } catch (err) {
    reply = failure(request.id, err);
  }
  parentPort!.postMessage(reply);
});
