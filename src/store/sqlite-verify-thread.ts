/**
 * A chain verification thread: its own read-only connection, one range walked in one read
 * transaction (one snapshot), the result posted back; then it exits. See SqliteEventLog.verifyChainOffThread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ChainVerification } from '../domain/history.js';
import { describeFailure } from './sqlite-open.js';
import { prepareStatements } from './sqlite-statements.js';
import { walkChain } from './sqlite-verify.js';

export interface VerifyJob {
  readonly path: string;
  /** The newest sequence when verification was asked for: later appends are not part of it. */
  readonly newest: number;
  readonly from?: number | undefined;
  readonly to?: number | undefined;
}

export type VerifyReply = { readonly result: ChainVerification } | { readonly error: { readonly code: string; readonly message: string } };

const job = workerData as VerifyJob;
let reply: VerifyReply;
try {
  const db = new Database(job.path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('mmap_size = 268435456');
    const s = prepareStatements(db);
    reply = { result: db.transaction(() => walkChain(s, job.newest, job.from, job.to))() };
  } finally {
    db.close();
  }
} catch (err) {
  reply = { error: describeFailure(err) };
}
parentPort!.postMessage(reply);
