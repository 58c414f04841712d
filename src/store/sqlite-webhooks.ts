import type Database from 'better-sqlite3';
import type { DeadLetter, DeadLetterFailure, DeadLetterStore } from '../domain/dead-letters.js';
import { AppError } from '../domain/errors.js';
import type { SqliteEventLog } from './sqlite-event-log.js';

/** A webhook as stored: its definition and the state an operator sets (paused). */
export interface WebhookRecord {
  /** A UUID; the cursor is `webhook:<id>` in the log's cursors table. */
  readonly id: string;
  /** Unique; labels the webhook's metrics and matches a configured webhook to its row across restarts. */
  readonly name: string;
  readonly url: string;
  /** The HMAC key. Kept in clear: signing needs it (the database file and its backups hold it). */
  readonly secret: string;
  /** The filter as proto JSON text (json-filter.ts's form), so the store needs no contract code. */
  readonly filter: string;
  /** Undefined: webhooks.defaults applies, also after the defaults change. */
  readonly batchSize: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number | undefined;
  /** The subject that created it ("config" for a configured one). */
  readonly owner: string;
  /** The roles whose view it delivers: the owner's at creation, or the ones given. */
  readonly roles: readonly string[];
  readonly paused: boolean;
  readonly pausedReason: string;
  readonly declaredInConfig: boolean;
  readonly createdAt: Date;
}

/** Where webhooks live: the SQLite log's database, or memory for storage.type memory. Synchronous, like the log. */
export interface WebhookStore {
  /** Every webhook, by name. */
  list(): WebhookRecord[];
  /** Stores a new webhook whose cursor starts at `cursor`; ALREADY_EXISTS when the name is taken. */
  insert(record: WebhookRecord, cursor: number): void;
  /** Replaces the stored definition of `record.id`. */
  update(record: WebhookRecord): void;
  /** Removes the webhook, its cursor and its dead letters; returns how many dead letters went. */
  remove(id: string): number;
  cursor(id: string): { get(): number; set(sequence: number): void };
  deadLetters(id: string): DeadLetterStore;
}

/** The cursor's name in the log's `cursors` table. */
export const webhookCursorName = (id: string): string => `webhook:${id}`;

// Tables beside the events (one file to back up, and a webhook's cursor commits with the log's own
// tables). Created here with IF NOT EXISTS, as dead_letters is, rather than by a schema migration: only
// a log with webhooks needs them, an older build ignores them, and no version bump is needed.
const DDL = `
CREATE TABLE IF NOT EXISTS webhooks (
  id           TEXT    PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  url          TEXT    NOT NULL,
  secret       TEXT    NOT NULL,
  filter       TEXT    NOT NULL,
  batch_size   INTEGER,
  timeout_ms   INTEGER,
  max_retries  INTEGER,
  owner        TEXT    NOT NULL,
  roles        TEXT    NOT NULL,
  paused       INTEGER NOT NULL,
  paused_reason TEXT   NOT NULL,
  declared_in_config INTEGER NOT NULL,
  created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_dead_letters (
  webhook_id      TEXT    NOT NULL,
  sequence        INTEGER NOT NULL,
  event_id        TEXT    NOT NULL,
  reason          TEXT    NOT NULL,
  message         TEXT    NOT NULL,
  attempts        INTEGER NOT NULL,
  first_failed_at INTEGER NOT NULL,
  last_failed_at  INTEGER NOT NULL,
  PRIMARY KEY (webhook_id, sequence)
) WITHOUT ROWID;
`;

interface Row {
  id: string; name: string; url: string; secret: string; filter: string;
  batch_size: number | null; timeout_ms: number | null; max_retries: number | null;
  owner: string; roles: string; paused: number; paused_reason: string; declared_in_config: number; created_at: number;
}

const COLUMNS = 'id, name, url, secret, filter, batch_size, timeout_ms, max_retries, owner, roles, paused, paused_reason, declared_in_config, created_at';

type RowValues = [string, string, string, string, string, number | null, number | null, number | null, string, string, number, string, number, number];

function toValues(r: WebhookRecord): RowValues {
  return [
    r.id, r.name, r.url, r.secret, r.filter, r.batchSize ?? null, r.timeoutMs ?? null, r.maxRetries ?? null,
    r.owner, JSON.stringify(r.roles), r.paused ? 1 : 0, r.pausedReason, r.declaredInConfig ? 1 : 0, r.createdAt.getTime(),
  ];
}

function toRecord(r: Row): WebhookRecord {
  return {
    id: r.id, name: r.name, url: r.url, secret: r.secret, filter: r.filter,
    batchSize: r.batch_size ?? undefined, timeoutMs: r.timeout_ms ?? undefined, maxRetries: r.max_retries ?? undefined,
    owner: r.owner, roles: JSON.parse(r.roles) as string[], paused: r.paused === 1, pausedReason: r.paused_reason,
    declaredInConfig: r.declared_in_config === 1, createdAt: new Date(r.created_at),
  };
}

export function nameTaken(name: string): AppError {
  return new AppError('ALREADY_EXISTS', `a webhook named ${JSON.stringify(name)} exists already`, 'name');
}

/** Webhooks in the SQLite log's database; their cursors in the log's `cursors` table. */
export class SqliteWebhooks implements WebhookStore {
  private readonly s;
  private readonly insertTx;
  private readonly removeTx;

  constructor(private readonly log: SqliteEventLog) {
    const db = log.database;
    db.exec(DDL);
    this.s = {
      list: db.prepare<[], Row>(`SELECT ${COLUMNS} FROM webhooks ORDER BY name`),
      byName: db.prepare<[string], { id: string }>('SELECT id FROM webhooks WHERE name = ?'),
      insert: db.prepare<RowValues>(`INSERT INTO webhooks (${COLUMNS}) VALUES (${COLUMNS.split(',').map(() => '?').join(', ')})`),
      update: db.prepare<[...RowValues, string]>(`UPDATE webhooks SET (${COLUMNS}) = (${COLUMNS.split(',').map(() => '?').join(', ')}) WHERE id = ?`),
      remove: db.prepare<[string]>('DELETE FROM webhooks WHERE id = ?'),
      removeLetters: db.prepare<[string]>('DELETE FROM webhook_dead_letters WHERE webhook_id = ?'),
      // The log has no API to forget a cursor; the row is the log's, keyed by our name.
      removeCursor: db.prepare<[string]>('DELETE FROM cursors WHERE name = ?'),
    };
    this.insertTx = db.transaction((record: WebhookRecord, cursor: number) => {
      if (this.s.byName.get(record.name)) throw nameTaken(record.name);
      this.s.insert.run(...toValues(record));
      log.setCursor(webhookCursorName(record.id), cursor);
    });
    this.removeTx = db.transaction((id: string): number => {
      const letters = this.s.removeLetters.run(id).changes;
      this.s.remove.run(id);
      this.s.removeCursor.run(webhookCursorName(id));
      return letters;
    });
  }

  list(): WebhookRecord[] {
    return this.s.list.all().map(toRecord);
  }

  insert(record: WebhookRecord, cursor: number): void {
    this.insertTx(record, cursor);
  }

  update(record: WebhookRecord): void {
    const owner = this.s.byName.get(record.name);
    if (owner && owner.id !== record.id) throw nameTaken(record.name);
    this.s.update.run(...toValues(record), record.id);
  }

  remove(id: string): number {
    return this.removeTx(id);
  }

  cursor(id: string): { get(): number; set(sequence: number): void } {
    const name = webhookCursorName(id);
    return { get: () => this.log.getCursor(name), set: (sequence) => this.log.setCursor(name, sequence) };
  }

  deadLetters(id: string): DeadLetterStore {
    return new SqliteWebhookDeadLetters(this.log.database, id);
  }
}

interface LetterRow {
  sequence: number; event_id: string; reason: string; message: string; attempts: number; first_failed_at: number; last_failed_at: number;
}

const LETTER_COLUMNS = 'sequence, event_id, reason, message, attempts, first_failed_at, last_failed_at';

/** An endpoint's error text is not ours to bound: a dead letter stays small whatever it says. */
const MAX_MESSAGE = 1_000;

/** One webhook's dead letters (the table holds every webhook's, keyed by webhook id and sequence). */
class SqliteWebhookDeadLetters implements DeadLetterStore {
  private readonly s;

  constructor(db: Database.Database, private readonly webhookId: string) {
    this.s = {
      // A repeated failure keeps the first time and adds up the attempts, as the Kafka letters do.
      upsert: db.prepare<[string, number, string, string, string, number, number, number]>(
        `INSERT INTO webhook_dead_letters (webhook_id, ${LETTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (webhook_id, sequence) DO UPDATE SET reason = excluded.reason, message = excluded.message,
           attempts = attempts + excluded.attempts, last_failed_at = excluded.last_failed_at`,
      ),
      list: db.prepare<[string, number, number], LetterRow>(
        `SELECT ${LETTER_COLUMNS} FROM webhook_dead_letters WHERE webhook_id = ? AND sequence > ? ORDER BY sequence LIMIT ?`),
      get: db.prepare<[string, number], LetterRow>(`SELECT ${LETTER_COLUMNS} FROM webhook_dead_letters WHERE webhook_id = ? AND sequence = ?`),
      remove: db.prepare<[string, number]>('DELETE FROM webhook_dead_letters WHERE webhook_id = ? AND sequence = ?'),
      count: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM webhook_dead_letters WHERE webhook_id = ?'),
    };
  }

  record(f: DeadLetterFailure): void {
    const at = f.failedAt.getTime();
    this.s.upsert.run(this.webhookId, f.sequence, f.eventId, f.reason, f.message.slice(0, MAX_MESSAGE), f.attempts, at, at);
  }

  list(afterSequence: number, limit: number): DeadLetter[] {
    if (!(limit > 0)) return [];
    return this.s.list.all(this.webhookId, afterSequence, Math.floor(limit)).map((r) => this.toLetter(r));
  }

  get(sequences: readonly number[]): DeadLetter[] {
    return [...new Set(sequences)]
      .sort((a, b) => a - b)
      .map((seq) => this.s.get.get(this.webhookId, seq))
      .filter((row): row is LetterRow => row !== undefined)
      .map((r) => this.toLetter(r));
  }

  remove(sequence: number): void {
    this.s.remove.run(this.webhookId, sequence);
  }

  count(): number {
    return this.s.count.get(this.webhookId)?.n ?? 0;
  }

  private toLetter(r: LetterRow): DeadLetter {
    return {
      sequence: r.sequence, eventId: r.event_id, destination: webhookCursorName(this.webhookId), reason: r.reason, message: r.message,
      attempts: r.attempts, firstFailedAt: new Date(r.first_failed_at), lastFailedAt: new Date(r.last_failed_at),
    };
  }
}
