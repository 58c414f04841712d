import { open } from 'node:fs/promises';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { BackupRequest, BackupResponse } from '../../../generated/audit/v1/audit_service.js';
import { AppError } from '../../domain/errors.js';
import type { EventLog } from '../../domain/ports.js';
import { removeDatabaseFiles, tempFileBeside } from '../../store/sqlite-backup.js';
import { drained } from './drained.js';
import { type PipelineDeps, serverStream } from './pipeline.js';

class Cancelled extends Error {}

/** The copy is streamed in chunks of this size. */
const CHUNK_BYTES = 1024 * 1024;
/** At most one progress message per this many milliseconds (and the last one). */
const PROGRESS_INTERVAL_MS = 250;

/**
 * Backup (admin only): an online copy of the SQLite log, streamed to the caller.
 *
 * Why an RPC and not a CLI that opens the file: SQLite's backup API restarts the copy whenever a
 * connection other than its own writes the source, so a copy made by another process under a steady
 * publish rate restarts at every commit and may never finish; only the server's own connection can
 * copy the log while it is being written (its commits are folded into the running copy). An RPC also
 * serves an operator on another machine, with no access to the server's disk.
 *
 * The copy goes to a temporary file beside the database (the same filesystem, which has room for a
 * copy of the log, unlike a small /tmp), is streamed as progress messages, the file's bytes, then its
 * head (read from the copy itself), and is deleted afterwards, also when the caller cancels or it fails.
 */
export function createBackupHandler(deps: PipelineDeps & { eventLog: EventLog }) {
  return serverStream<BackupRequest, BackupResponse>(deps, 'Backup', 'ops', async (call) => {
    const started = performance.now();
    let temp: string | undefined;
    try {
      const head = await backup(call, deps.eventLog, (file) => (temp = file));
      if (!head) return; // cancelled
      deps.log.info({ rpc: 'Backup', sequence: head.sequence, bytes: head.bytes, ms: Math.round(performance.now() - started) }, 'backup sent');
      call.end();
    } finally {
      if (temp) removeDatabaseFiles(temp);
    }
  });
}

async function backup(
  call: ServerWritableStream<BackupRequest, BackupResponse>,
  log: EventLog,
  usingTemp: (file: string) => void,
): Promise<{ sequence: number; bytes: number } | undefined> {
  if (!log.backup || log.file === undefined) throw new AppError('FAILED_PRECONDITION', 'backup needs the SQLite log (storage.type sqlite)');
  const temp = tempFileBeside(log.file, 'backup');
  usingTemp(temp);

  const progress = (pagesCopied: number, pagesTotal: number): void => {
    call.write({ kind: { $case: 'progress', progress: { pagesCopied, pagesTotal } } });
  };
  let lastProgress = 0;
  let pages = 0;
  let head;
  try {
    head = await log.backup(temp, (copied, total) => {
      if (call.cancelled) throw new Cancelled('the caller cancelled the backup');
      pages = total;
      const now = performance.now();
      if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
      lastProgress = now;
      progress(copied, total);
    });
  } catch (err) {
    if (err instanceof Cancelled) return undefined;
    throw err;
  }
  progress(pages, pages); // the last step reports nothing

  const file = await open(temp, 'r');
  let bytes = 0;
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      if (call.cancelled) return undefined;
      const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, bytes);
      if (bytesRead === 0) break;
      bytes += bytesRead;
      // A copy per message: grpc-js may still hold the previous one when write() returns.
      if (!call.write({ kind: { $case: 'data', data: Buffer.from(buffer.subarray(0, bytesRead)) } })) {
        if (!(await drained(call))) return undefined;
      }
    }
  } finally {
    await file.close();
  }
  call.write({ kind: { $case: 'head', head: { sequence: head.sequence, hash: Buffer.from(head.hash), bytes } } });
  return { sequence: head.sequence, bytes };
}
