import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BackupHead, BackupResponse } from '../../generated/audit/v1/audit_service.js';
import { loadConfig } from '../config/load.js';
import { connect, EXIT, UsageError } from './client.js';
import type { ConnectionFlags } from './options.js';
import { endProgress, note, out, outJson, progress } from './output.js';

/** What `DEST.head.json` holds: the head the copy covers. */
export interface HeadFile {
  /** The newest sequence in the copy. */
  readonly sequence: number;
  /** That event's hash, hex. */
  readonly hash: string;
  /** The copy's size. */
  readonly bytes: number;
  /** SHA-256 of the copy, hex: restore refuses a file that differs in any byte. */
  readonly sha256: string;
  /** When the copy was received (ISO-8601). */
  readonly time: string;
}

export const headFileOf = (file: string): string => `${file}.head.json`;

/**
 * `auditstream backup DEST`: asks the running server for an online copy of its log (the Backup RPC:
 * see transports/grpc/backup-handler.ts for why the server makes the copy) and writes it to DEST, then
 * the head it covers to DEST.head.json. DEST appears only once complete (written beside it, synced,
 * renamed); an interrupted backup leaves no DEST. Progress goes to stderr when it is a terminal.
 */
export async function backupCommand(dest: string, flags: ConnectionFlags): Promise<number> {
  const folder = path.dirname(path.resolve(dest));
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`backup: the folder ${folder} does not exist`);
  const partial = path.join(folder, `.${path.basename(dest)}.partial-${process.pid}`);
  const fd = fs.openSync(partial, 'wx');
  let open = true;
  const client = connect(flags);
  const stream = client.backup({});
  const interrupt = (): void => stream.cancel();
  process.once('SIGINT', interrupt);
  let head: BackupHead | undefined;
  try {
    const sha = createHash('sha256');
    let received = 0;
    for await (const message of stream as AsyncIterable<BackupResponse>) {
      const kind = message.kind;
      if (kind?.$case === 'progress') {
        const { pagesCopied, pagesTotal } = kind.progress;
        progress(`copying on the server: ${pagesTotal ? Math.floor((100 * pagesCopied) / pagesTotal) : 0}% (${pagesCopied} of ${pagesTotal} pages)`);
      } else if (kind?.$case === 'data') {
        fs.writeSync(fd, kind.data);
        sha.update(kind.data);
        received += kind.data.length;
        progress(`receiving: ${(received / 1048576).toFixed(1)} MiB`);
      } else if (kind?.$case === 'head') {
        head = kind.head;
      }
    }
    endProgress();
    if (!head) throw new Error('backup: the server ended the stream without the head; nothing was written');
    if (head.bytes !== received) throw new Error(`backup: received ${received} bytes, the server sent ${head.bytes}; nothing was written`);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    open = false;
    fs.renameSync(partial, dest);
    const record: HeadFile = { sequence: head.sequence, hash: Buffer.from(head.hash).toString('hex'), bytes: head.bytes, sha256: sha.digest('hex'), time: new Date().toISOString() };
    writeDurably(headFileOf(dest), `${JSON.stringify(record, null, 2)}\n`);
    syncFolder(folder);
    if (flags.json) outJson({ file: dest, headFile: headFileOf(dest), ...record });
    else out(`backed up the log to ${dest} (${record.bytes} bytes): head sequence ${record.sequence}, hash ${record.hash}`);
    return EXIT.OK;
  } finally {
    endProgress();
    process.off('SIGINT', interrupt);
    if (open) fs.closeSync(fd);
    fs.rmSync(partial, { force: true });
    client.close();
  }
}

export interface RestoreFlags {
  readonly db?: string | undefined;
  readonly config?: string | undefined;
  readonly json: boolean;
}

/** A copy or target restore must not use: exit 1 with this one-line reason. */
class Refused extends Error {}

/**
 * `auditstream restore SRC`, with the server stopped: copies SRC beside the target, checks that copy
 * (SQLite's full integrity check, the hash chain, the head against SRC.head.json when present), checks
 * that no server has the target open, then replaces the target atomically. Exit 1 with one line when
 * it refuses; the target is untouched then.
 */
export async function restoreCommand(src: string, flags: RestoreFlags): Promise<number> {
  if (flags.db !== undefined && flags.config !== undefined) throw new UsageError('restore: give --db or --config, not both');
  let target = flags.db;
  let checkpoints: string | undefined;
  if (target === undefined) {
    const { storage } = loadConfig(flags.config);
    if (storage.type !== 'sqlite') throw new UsageError(`restore: ${flags.config} has storage.type ${storage.type}; restore replaces a SQLite log`);
    target = storage.path;
    checkpoints = storage.checkpoints.file;
  }
  checkpoints ??= `${target}.checkpoints`;
  const temp = path.join(path.dirname(path.resolve(target)), `.${path.basename(target)}.restore-${process.pid}.tmp`);
  try {
    const restored = await restore(src, target, temp);
    if (flags.json) outJson({ restored: true, source: src, target, ...restored });
    else out(`restored ${target} from ${src}: ${restored.checked} events verified, head sequence ${restored.sequence} (hash ${restored.hash})`);
    if (fs.existsSync(checkpoints)) {
      note(`note: ${checkpoints} holds signed checkpoints of the replaced log; with storage.checkpoints on, the server refuses to start on a log that ends before the newest of them (it will not hand out those sequences again)`);
    }
    return EXIT.OK;
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    const reason = err.message.replace(/\s*\n\s*/g, ' ');
    if (flags.json) outJson({ restored: false, reason });
    note(`restore refused: ${reason}`);
    return EXIT.FAILED;
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(`${temp}${suffix}`, { force: true });
  }
}

async function restore(src: string, target: string, temp: string): Promise<{ sequence: number; hash: string; checked: number }> {
  const source = fs.statSync(src, { throwIfNoEntry: false });
  if (!source?.isFile()) throw new Refused(`${src}: no such file`);
  const existing = fs.statSync(target, { throwIfNoEntry: false });
  if (existing && existing.ino === source.ino && existing.dev === source.dev) throw new Refused(`${src} is the target itself`);
  const expected = readHeadFile(src);

  // Check the bytes that will be installed (a copy beside the target), not SRC: SRC could change,
  // or come with a -wal file of its own that a check of SRC would read but the copy would not hold.
  fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
  fs.copyFileSync(src, temp, fs.constants.COPYFILE_EXCL);
  fsyncFile(temp);
  const size = fs.statSync(temp).size;
  if (expected && expected.bytes !== size) throw new Refused(`${src} has ${size} bytes, ${headFileOf(src)} says ${expected.bytes}`);
  if (expected?.sha256 !== undefined && (await sha256Of(temp)) !== expected.sha256.toLowerCase()) throw new Refused(`${src} differs from the copy ${headFileOf(src)} describes (SHA-256)`);
  const copy = await verifyCopy(temp, src);
  if (expected && (expected.sequence !== copy.sequence || expected.hash.toLowerCase() !== copy.hash)) {
    throw new Refused(`${src} holds head sequence ${copy.sequence}, ${headFileOf(src)} says ${expected.sequence} (or another hash)`);
  }
  // The read-only check may have left empty -wal/-shm files beside the copy (when it is in WAL mode).
  for (const suffix of ['-wal', '-shm']) fs.rmSync(`${temp}${suffix}`, { force: true });

  if (existing) await refuseIfInUse(target);
  // A stale -wal would be replayed into the restored file on the next open (SQLite cannot tell it
  // belongs to the old file), and a hot -journal rolled back into it: remove them before the rename.
  for (const suffix of ['-wal', '-shm', '-journal']) fs.rmSync(`${target}${suffix}`, { force: true });
  fs.renameSync(temp, target);
  syncFolder(path.dirname(path.resolve(target)));
  return copy;
}

/** SRC.head.json when present; a file that cannot be read as one refuses the restore. */
function readHeadFile(src: string): HeadFile | undefined {
  const file = headFileOf(src);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Refused(`cannot read ${file}: ${(err as Error).message}`);
  }
  let head: Partial<HeadFile>;
  try {
    head = JSON.parse(text) as Partial<HeadFile>;
  } catch {
    throw new Refused(`${file} is not JSON`);
  }
  const ok = Number.isSafeInteger(head.sequence) && Number.isSafeInteger(head.bytes) && typeof head.hash === 'string' &&
    (head.sha256 === undefined || typeof head.sha256 === 'string');
  if (!ok) throw new Refused(`${file} does not hold a head (sequence, hash, bytes)`);
  return head as HeadFile;
}

/**
 * A copy restore may install: it opens read-only as an event log of this build's schema, passes
 * SQLite's full integrity check (structure and every index against its table: slower than the
 * quick_check at start, but a restore is rare), its hash chain verifies from the first kept event to
 * the head, and the head recorded in meta is the newest event (the server continues the chain from it).
 */
async function verifyCopy(file: string, name: string): Promise<{ sequence: number; hash: string; checked: number }> {
  const { SqliteEventLog } = await import('../store/sqlite-event-log.js');
  const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err)).replaceAll(file, name);
  let log;
  try {
    log = new SqliteEventLog({ path: file, clock: { now: () => new Date() }, readOnly: true, integrityCheck: false });
  } catch (err) {
    throw new Refused(reason(err));
  }
  try {
    const db = log.database;
    const problems = db.pragma('integrity_check(5)') as Array<{ integrity_check: string }>;
    if (problems[0]?.integrity_check !== 'ok') throw new Refused(`${name} failed SQLite's integrity check (${problems.map((p) => p.integrity_check).filter((p) => !p.startsWith('***')).join('; ')})`);
    const chain = log.verifyChain();
    if (!chain.ok) throw new Refused(`${name}: the hash chain is broken at sequence ${chain.firstBreak?.sequence} (${chain.firstBreak?.kind})`);
    const meta = db.prepare<[string], { sequence: number; hash: Buffer }>('SELECT sequence, hash FROM meta WHERE key = ?');
    const last = meta.get('last')!;
    const anchor = meta.get('anchor')!;
    const newest = db.prepare<[number], { hash: Buffer }>('SELECT hash FROM events WHERE sequence = ?').get(last.sequence)?.hash ??
      (anchor.sequence === last.sequence ? anchor.hash : undefined);
    if (log.lastSequence() !== last.sequence || !newest || !Buffer.from(newest).equals(Buffer.from(last.hash))) {
      throw new Refused(`${name}: the recorded head (sequence ${last.sequence}) is not the newest event`);
    }
    return { sequence: last.sequence, hash: Buffer.from(last.hash).toString('hex'), checked: chain.checked };
  } catch (err) {
    throw err instanceof Refused ? err : new Refused(reason(err));
  } finally {
    await log.close();
  }
}

/**
 * Refuses a target a server has open. A connection to a WAL database holds a shared lock on the
 * file for as long as it is open (not only during transactions), so an exclusive lock, which
 * `locking_mode = EXCLUSIVE` plus `BEGIN EXCLUSIVE` asks for on the file itself, cannot be had while
 * the server runs: SQLITE_BUSY after a short wait. (A plain BEGIN EXCLUSIVE would not do: in WAL mode
 * it only excludes other writers, and an idle server is writing nothing.) The check is closed before
 * the files are swapped; the server must stay stopped until restore has finished.
 */
async function refuseIfInUse(target: string): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  let db;
  try {
    db = new Database(target, { fileMustExist: true, timeout: 200 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new Refused(`${target} is in use (is the server running? stop it first)`);
    // Anything else (a damaged or unreadable target) is what a restore replaces.
  } finally {
    db?.close();
  }
}

function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sha = createHash('sha256');
    fs.createReadStream(file).on('data', (c) => sha.update(c)).on('error', reject).on('end', () => resolve(sha.digest('hex')));
  });
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeDurably(file: string, text: string): void {
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, text);
  fsyncFile(temp);
  fs.renameSync(temp, file);
}

function syncFolder(folder: string): void {
  const fd = fs.openSync(folder, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
