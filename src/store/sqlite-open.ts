import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * Opens the log's database file, refusing anything that is not a healthy event log: only a missing
 * file means "start a new log". A zero-length file (a failed copy, a truncated restore) would
 * otherwise open as an empty database and hand out sequence 1 again. Errors are one line naming the
 * file and what to do.
 */
export function openDatabase(file: string, options: { readonly?: boolean | undefined; quickCheck?: boolean | undefined } = {}): Database.Database {
  const inMemory = file === ':memory:' || file === '';
  if (!inMemory) {
    const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
    if (size === undefined && options.readonly) throw new Error(`${file}: no such file`);
    if (size === 0) throw new Error(`${file} is empty (0 bytes), not an event log: restore a backup, or move it away to start a new log`);
    if (size === undefined) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    if (options.quickCheck ?? true) {
      const problems = db.pragma('quick_check(5)', { simple: false }) as Array<{ quick_check: string }>;
      if (problems[0]?.quick_check !== 'ok') throw new Error(`failed its integrity check (${problems.map((p) => p.quick_check).join('; ')})`);
    }
    return db;
  } catch (err) {
    db?.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`${file} is not a usable event log: ${reason}. Restore a backup, or move it away to start a new log`);
  }
}

/** One line for an SQLite failure: its code (SQLITE_FULL, SQLITE_IOERR_WRITE, ...) and message. */
export function describeFailure(err: unknown): { code: string; message: string } {
  const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'UNKNOWN';
  return { code, message: err instanceof Error ? err.message : String(err) };
}
