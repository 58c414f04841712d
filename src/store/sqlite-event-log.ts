import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { availableParallelism } from 'node:os';
import { encodedEvent } from '../contract/event-encoding.js';
import { AppError } from '../domain/errors.js';
import type { NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import type { AppendResult, Clock, EventLog, StoredBytes } from '../domain/ports.js';
import type { ErasureOutcome, ErasureSelector, PersonalData } from '../domain/erasure.js';
import type { ChainVerification, HistoryPage, HistoryQuery } from '../domain/history.js';
import { appendResults, appendTransaction, draftEvent, encodedSize } from './sqlite-append.js';
import { backupDatabase, finishCopy } from './sqlite-backup.js';
import { RecentEvents } from './recent-events.js';
import { retentionTransaction, type RetentionOptions, validateRetention } from './sqlite-retention.js';
import { SqliteWriter } from './sqlite-writer.js';
import { eraseRows } from './sqlite-erasure.js';
import { runHistoryQuery, type SqlParam, TimeRanges } from './sqlite-query.js';
import { type ReadRow, rowToEvent, SCHEMA_VERSION } from './sqlite-schema.js';
import { migrate } from './sqlite-migration.js';
import { describeFailure, openDatabase } from './sqlite-open.js';
import { type ChainPoint, headOf, prepareStatements, type Statements } from './sqlite-statements.js';
import { verifyOnThreads, walkChain } from './sqlite-verify.js';



export interface SqliteEventLogOptions {
  /** Database file (its directory is created if missing), or ':memory:'. */
  readonly path: string;
  readonly clock: Clock;
  /** SQLite `synchronous`: 'full' (default) survives power loss, 'normal' survives a process crash. */
  readonly synchronous?: 'full' | 'normal' | undefined;
  readonly retention?: RetentionOptions | undefined;
  /**
   * Tuning: a history query over a time window (and no type, entity or user) uses the timestamp index
   * when the window holds about this many events or fewer, else walks the log in sequence order.
   * Default 20,000.
   */
  readonly indexedWindowRows?: number | undefined;
  /** Run SQLite's quick_check when opening (default true): a damaged file is refused at start. */
  readonly integrityCheck?: boolean | undefined;
  /** Open an existing log to read and verify only (`auditstream verify --offline`): nothing is written. */
  readonly readOnly?: boolean | undefined;
  /** Commit appends on a thread of their own (default for a file; ':memory:' always commits in place). */
  readonly writerThread?: boolean | undefined;
  /** Tuning: VerifyChain gives each reader thread at least this many events (default 50,000). */
  readonly verifyEventsPerThread?: number | undefined;
}

/**
 * Connection tuning: a 64 MiB page cache and reads through a 256 MiB memory map (the secondary
 * indexes take random inserts), and checkpoints every ~40 MiB of WAL rather than 4 MiB, so pages
 * rewritten by consecutive commits are written back once (measured: about half the commit time); the
 * WAL file is truncated back to 64 MiB after a checkpoint.
 */
export const TUNING = [
  'cache_size = -65536',
  'mmap_size = 268435456',
  'wal_autocheckpoint = 10000',
  'journal_size_limit = 67108864',
  'temp_store = MEMORY',
];

/** What the readiness probe writes, and at most after a failed batch. */
const PROBE_BYTES = 4096;
const MAX_PROBE_BYTES = 16 * 1024 * 1024;

/** How many of the newest events readAfter serves from memory (about 1-2 KB each). */
const RECENT_EVENTS = 10_000;

/** Chain verification runs on up to this many reader threads. */
const VERIFY_THREADS = Math.min(4, availableParallelism());

/** At most this many distinct history-query shapes keep a prepared statement. */
const QUERY_CACHE_SIZE = 128;

/**
 * The durable event log (`storage.type: sqlite`): better-sqlite3 in WAL mode, one transaction per
 * appended batch. The sequence and hash of the newest event and of the newest removed one (the
 * retention anchor) live in the `meta` table, so the sequence and the chain continue across restarts
 * and after retention removed everything.
 *
 * Single writer: one instance per database file.
 */
export class SqliteEventLog implements EventLog {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly retention: RetentionOptions;
  private readonly indexedWindowRows: number;
  private readonly verifyEventsPerThread: number;
  private readonly time: TimeRanges;
  /** Prepared history-query statements by SQL text (the text depends only on the query's shape). */
  private readonly queryCache = new LRUCache<string, Database.Statement<SqlParam[], ReadRow>>({ max: QUERY_CACHE_SIZE });
  private readonly path: string;
  private probeBytes = PROBE_BYTES;
  /** Why writing failed last, until a write succeeds. */
  private problem?: string | undefined;
  /** The newest sequence ever stored and its hash (mirrors meta 'last'; updated after each commit). */
  private last: ChainPoint;
  /** The verification running now (verifyChainOffThread runs one at a time). */
  private verifying: Promise<unknown> = Promise.resolve();
  /** The newest events, for readers just behind the head (recent-events.ts). */
  private readonly recent = new RecentEvents(RECENT_EVENTS);

  private readonly s: Statements;
  private readonly appendTx: ReturnType<typeof appendTransaction>;
  /** The log writer's thread (file logs): appends commit there. */
  private readonly writer?: SqliteWriter | undefined;
  private readonly retentionTx: Database.Transaction<(nowMs: number) => number>;

  constructor(options: SqliteEventLogOptions) {
    this.clock = options.clock;
    this.retention = validateRetention(options.retention ?? {});
    this.indexedWindowRows = options.indexedWindowRows ?? 20_000;
    this.verifyEventsPerThread = options.verifyEventsPerThread ?? 50_000;
    const synchronous = options.synchronous ?? 'full';
    if (synchronous !== 'full' && synchronous !== 'normal') {
      throw new Error(`synchronous must be 'full' or 'normal', got ${String(synchronous)}`);
    }
    const inMemory = options.path === ':memory:' || options.path === '';
    this.path = options.path;
    this.db = openDatabase(options.path, { quickCheck: options.integrityCheck ?? true, readonly: options.readOnly ?? false });
    try {
      if (options.readOnly) requireCurrentSchema(this.db, options.path);
      else {
        const mode = this.db.pragma('journal_mode = WAL', { simple: true });
        if (!inMemory && mode !== 'wal') throw new Error(`could not switch ${options.path} to WAL (got ${String(mode)})`);
        this.db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
        for (const pragma of TUNING) this.db.pragma(pragma);
        migrate(this.db);
      }
      this.db.pragma('busy_timeout = 5000');
      this.s = prepareStatements(this.db);
    } catch (err) {
      this.db.close();
      const message = err instanceof Error ? err.message : String(err);
      throw message.includes(options.path) ? err : new Error(`${options.path}: ${message}`);
    }

    this.time = new TimeRanges(this.s, () => this.firstSequence(), () => this.last.sequence);

    // Never reuse a sequence: trust meta, unless rows beyond it exist (written by something else).
    this.last = headOf(this.s);
    this.appendTx = appendTransaction(this.db, this.s);
    // A file log commits on its own thread, so the event loop never waits on fsync; an in-memory one
    // (tests) cannot be shared with a thread and commits here.
    if (!inMemory && !options.readOnly && options.writerThread !== false) {
      this.writer = new SqliteWriter({ path: options.path, pragmas: [`synchronous = ${synchronous.toUpperCase()}`, 'busy_timeout = 5000', ...TUNING] });
    }

    this.retentionTx = retentionTransaction(this.db, this.s, this.retention, () => this.last.sequence);
  }

  async append(events: readonly NewAuditEvent[]): Promise<AppendResult[]> {
    if (events.length === 0) return [];
    // Normalizing, committing and encoding happen here, on the caller's thread; the writer only
    // numbers, links, hashes and inserts (the part that must be done in order).
    const drafts = events.map(draftEvent);
    const rows = drafts.map((d) => d.row);
    const receivedAt = this.clock.now();
    let committed;
    try {
      committed = this.writer ? await this.writer.append(rows, receivedAt.getTime()) : this.appendTx.immediate(rows, receivedAt.getTime(), this.last);
    } catch (err) {
      this.problem = this.failureOf(err);
      // Until a write succeeds, the readiness probe writes at least as much as this batch needed: a
      // smaller probe would fit in the last free pages of a full disk and call the log writable while
      // appends fail. An event needs more than its encoding (stored as base64, its row's overflow
      // pages, a page in each of five indexes, WAL frame headers), hence twice it and 8 KiB more.
      this.probeBytes = Math.min(MAX_PROBE_BYTES, rows.reduce((n, row) => n + 8192 + 2 * encodedSize(row), PROBE_BYTES));
      throw err;
    }
    this.last = committed.last; // only after the commit succeeded
    this.problem = undefined;
    this.probeBytes = PROBE_BYTES;
    const results = appendResults(drafts, committed.placed, receivedAt);
    this.recent.add(results.filter((r) => !r.duplicate).map((r) => r.event));
    return results;
  }

  readAfter(afterSequence: number, limit: number): StoredAuditEvent[] {
    if (!(limit > 0)) return [];
    return this.recent.after(afterSequence, Math.floor(limit), this.last.sequence)
      ?? this.s.readAfter.all(afterSequence, Math.floor(limit)).map(rowToEvent);
  }

  readStoredBytesAfter(afterSequence: number, limit: number): StoredBytes[] {
    if (!(limit > 0)) return [];
    const recent = this.recent.after(afterSequence, Math.floor(limit), this.last.sequence);
    if (recent) return recent.map((e) => ({ sequence: e.sequence, bytes: encodedEvent(e) }));
    return this.s.readAfter.all(afterSequence, Math.floor(limit)).map(([sequence, base64]) => ({ sequence, bytes: Buffer.from(base64, 'base64') }));
  }

  readStored(sequence: number): StoredAuditEvent | undefined {
    const event = this.s.readAfter.all(sequence - 1, 1).map(rowToEvent)[0];
    return event?.sequence === sequence ? event : undefined;
  }

  firstSequence(): number {
    return this.s.oldest.get()?.sequence ?? this.last.sequence + 1;
  }

  lastSequence(): number {
    return this.last.sequence;
  }

  sequenceBefore(time: Date): number {
    const first = this.time.minSequenceSince(time.getTime());
    return first === undefined ? this.last.sequence : first - 1;
  }

  /** The chain over [fromSequence, toSequence] checked on this thread (walkChain in sqlite-verify.ts). */
  verifyChain(fromSequence?: number, toSequence?: number): ChainVerification {
    try {
      return walkChain(this.s, this.last.sequence, fromSequence, toSequence);
    } catch (err) {
      throw damaged(err);
    }
  }

  /** verifyChain off the event loop, split over reader threads (verifyOnThreads); in place without a writer thread (':memory:', read-only). */
  async verifyChainOffThread(fromSequence?: number, toSequence?: number): Promise<ChainVerification> {
    if (!this.writer) return this.verifyChain(fromSequence, toSequence);
    // One verification at a time, the others wait their turn: concurrent calls would each start their
    // own threads and connections, as many as callers cared to send.
    const turn = this.verifying.then(async () => {
      const anchor = this.s.getMeta.get('anchor')!.sequence;
      const span = { path: this.path, newest: this.last.sequence, anchor, from: fromSequence, to: toSequence };
      return verifyOnThreads(span, VERIFY_THREADS, this.verifyEventsPerThread);
    });
    this.verifying = turn.catch(() => undefined);
    try {
      return await turn;
    } catch (err) {
      throw damaged(err);
    }
  }

  /**
   * Removes, in one transaction, the oldest events beyond `retention.maxEvents` and those received
   * more than `retention.maxAgeMs` before `now`, and moves the anchor to the newest removed event.
   * Returns how many events were removed.
   */
  applyRetention(now: Date): number {
    if (this.retention.maxAgeMs === undefined && this.retention.maxEvents === undefined) return 0;
    const removed = this.retentionTx.immediate(now.getTime());
    if (removed > 0) this.recent.clear();
    return removed;
  }

  erase(selector: ErasureSelector, personal: PersonalData): ErasureOutcome {
    this.recent.clear(); // before: whatever the outcome, held copies may be what was erased
    return eraseRows(this.db, selector, personal);
  }

  /** An online copy of the database on this connection (see sqlite-backup.ts), with the head it holds. */
  backup(destination: string, progress: (copied: number, total: number) => void): Promise<{ sequence: number; hash: Uint8Array }> {
    // On the connection that writes (see sqlite-backup.ts): the writer thread's, when there is one.
    return this.writer ? finishCopy(destination, this.writer.backup(destination, progress)) : backupDatabase(this.db, destination, progress);
  }

  /** One page of a history search over the stored events. */
  query(q: HistoryQuery): HistoryPage {
    const plan = this.time.plan(q, this.indexedWindowRows);
    if (plan === 'empty') return { events: [] };
    return runHistoryQuery(q, (sql, params) => this.prepareQuery(sql).all(...params), plan);
  }

  /** A named consumer position (e.g. the Kafka forwarder's); 0 when never set. */
  getCursor(name: string): number {
    return this.s.getCursor.get(name)?.sequence ?? 0;
  }

  setCursor(name: string, sequence: number): void {
    this.s.setCursor.run(name, sequence);
  }

  /** The connection, for tables that belong with the events (the Kafka forwarder's dead letters). */
  get file(): string {
    return this.database.name;
  }

  get database(): Database.Database {
    return this.db;
  }

  /**
   * Commits a write (a 4 KiB row in health_probe, replaced each time; after a failed append, as large
   * as that batch): only a real commit finds a full disk or a failing device; taking the write lock
   * alone succeeds on a full disk.
   */
  checkWritable(): boolean {
    if (!this.db.open) {
      this.problem = `the event log is closed (${this.path})`;
      return false;
    }
    try {
      this.s.probe.run(Date.now(), this.probeBytes);
      this.problem = undefined;
      return true;
    } catch (err) {
      this.problem = this.failureOf(err);
      return false;
    }
  }

  /** Why the last append or probe failed, until one succeeds. */
  writeProblem(): string | undefined {
    return this.problem;
  }

  /** Resolves once the writer thread is up, so the first publish does not wait for it. */
  async ready(): Promise<void> {
    await this.writer?.ready;
  }

  async close(): Promise<void> {
    await this.writer?.close();
    if (this.db.open) this.db.close();
  }

  private failureOf(err: unknown): string {
    const { code, message } = describeFailure(err);
    return `${code}: ${message} (${this.path})`;
  }

  private prepareQuery(sql: string): Database.Statement<SqlParam[], ReadRow> {
    let stmt = this.queryCache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<SqlParam[], ReadRow>(sql).raw(true);
      this.queryCache.set(sql, stmt);
    }
    return stmt;
  }
}

/** Pages SQLite cannot read: say what and where (DATA_LOSS), not INTERNAL; anything else as it is. */
function damaged(err: unknown): unknown {
  const { code, message } = describeFailure(err);
  if (!code.startsWith('SQLITE_CORRUPT') && !code.startsWith('SQLITE_IOERR') && code !== 'SQLITE_NOTADB') return err;
  return new AppError('DATA_LOSS', `the log's database is damaged (${code}: ${message}); restore a backup`);
}

/** A read-only open cannot upgrade: it needs a log of this build's schema. */
function requireCurrentSchema(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version !== SCHEMA_VERSION) {
    throw new Error(`${file} has event log schema ${version}, this build reads ${SCHEMA_VERSION} (start the server once to upgrade it)`);
  }
}
