import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

/** Pages copied per step of the online backup (4 KiB pages: ~4 MiB), between which appends run. */
export const PAGES_PER_STEP = 1000;

/** The head of a copy: its newest sequence and that event's hash (meta 'last'). */
export interface CopyHead {
  readonly sequence: number;
  readonly hash: Uint8Array;
}

/** The side files SQLite may keep beside a database file. */
export const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/**
 * Copies the open database `db` to `destination` with SQLite's online backup API, a few thousand
 * pages per step with the event loop free in between, so appends go on while it runs. It must run on
 * the connection that writes the log: SQLite folds that connection's commits into a running backup,
 * whereas a commit from any other connection makes the backup start over at its next step (under a
 * steady publish rate a copy from another process might never finish). The copy holds every commit
 * made before the last step.
 *
 * The copy is then switched to rollback-journal mode, so it is one self-contained file (a WAL-mode copy
 * grows -wal and -shm files beside it whenever it is opened), and its head is read from the copy
 * itself. `progress` may throw to abandon the copy; a failed copy leaves no file behind.
 */
export async function backupDatabase(
  db: Database.Database,
  destination: string,
  progress: (copied: number, total: number) => void,
): Promise<CopyHead> {
  return finishCopy(destination, db.backup(destination, {
    progress: ({ totalPages, remainingPages }) => {
      progress(totalPages - remainingPages, totalPages);
      return PAGES_PER_STEP;
    },
  }).then(() => undefined));
}

/** Waits for the copy, then makes it one self-contained file and reads its head; a failure leaves no file. */
export async function finishCopy(destination: string, copied: Promise<void>): Promise<CopyHead> {
  try {
    await copied;
    const copy = new Database(destination, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
      const last = copy.prepare<[], { sequence: number; hash: Buffer }>("SELECT sequence, hash FROM meta WHERE key = 'last'").get();
      if (!last) throw new Error('the copy has no head (meta row "last")');
      return { sequence: last.sequence, hash: new Uint8Array(last.hash) };
    } finally {
      copy.close();
    }
  } catch (err) {
    removeDatabaseFiles(destination);
    throw err;
  }
}

/** A fresh file name beside `databaseFile` (same folder, so the same filesystem), for a temporary copy. */
export function tempFileBeside(databaseFile: string, purpose: string): string {
  const inMemory = databaseFile === '' || databaseFile === ':memory:';
  const folder = inMemory ? os.tmpdir() : path.dirname(path.resolve(databaseFile));
  const base = inMemory ? 'auditstream' : path.basename(databaseFile);
  return path.join(folder, `.${base}.${purpose}-${process.pid}-${randomUUID().slice(0, 8)}.tmp`);
}

/** Removes a database file and its side files, ignoring those that do not exist. */
export function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', ...SIDE_FILES]) fs.rmSync(`${file}${suffix}`, { force: true });
}
