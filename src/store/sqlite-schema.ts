import { decodeStoredEvent } from '../contract/event-decoding.js';
import { rememberEncoding } from '../contract/event-encoding.js';
import type { StoredAuditEvent } from '../domain/event.js';

/** Bumped whenever the DDL below changes shape; stored in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 4;

/**
 * Schema 4: the events table keeps each event as its protobuf bytes (`encoded`: audit.v1.AuditEvent,
 * made once at ingest, exactly what subscribers, queries and Kafka are sent) beside the columns that
 * queries, retention and checkpoints look up: id (idempotency), type, severity, timestamp (integer
 * milliseconds since the epoch), user, entity, received_at (retention) and hash. Every event read
 * comes from its bytes; VerifyChain recomputes each hash from them and checks the columns agree. See
 * sqlite-migration.ts for databases written before.
 *
 * The bytes are stored as base64 TEXT, not as a BLOB: better-sqlite3 hands each BLOB out as a new
 * Buffer with its own backing store, which costs about 4 us for an event of 450 bytes on Node 20,
 * against about 1 us for reading the base64 text and decoding it into a pooled Buffer (measured on
 * 300,000 rows); a third more bytes on disk buys replay and verification that speed.
 *
 * `sequence` is the rowid and is assigned by the log (last + 1), never by SQLite.
 *
 * `meta` has two rows, each a (sequence, hash) pair:
 * - `last`: the newest sequence ever stored and its hash, so sequences continue (and the chain links)
 *   after a restart even when retention removed every event; also lets verification notice rows
 *   deleted from the end.
 * - `anchor`: the newest removed event (0 and an empty hash when nothing was removed), so the chain is
 *   verifiable from the first kept event.
 */
export const DDL = `
CREATE TABLE IF NOT EXISTS events (
  sequence       INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  type           TEXT    NOT NULL,
  severity       INTEGER NOT NULL,
  timestamp      INTEGER NOT NULL,
  user_id        TEXT    NOT NULL,
  entity_type    TEXT    NOT NULL,
  entity_id      TEXT    NOT NULL,
  received_at    INTEGER NOT NULL,
  hash           BLOB    NOT NULL,
  encoded        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type_timestamp ON events (type, timestamp);
CREATE INDEX IF NOT EXISTS events_timestamp ON events (timestamp);
CREATE INDEX IF NOT EXISTS events_entity_sequence ON events (entity_id, sequence);
CREATE INDEX IF NOT EXISTS events_user_sequence ON events (user_id, sequence);

CREATE TABLE IF NOT EXISTS meta (
  key      TEXT    PRIMARY KEY,
  sequence INTEGER NOT NULL,
  hash     BLOB    NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS cursors (
  name     TEXT    PRIMARY KEY,
  sequence INTEGER NOT NULL
) WITHOUT ROWID;

-- Readiness commits a row here now and then: a real write, so a full disk is seen (see checkWritable).
CREATE TABLE IF NOT EXISTS health_probe (
  id  INTEGER PRIMARY KEY,
  at  INTEGER NOT NULL,
  pad BLOB    NOT NULL
);

INSERT OR IGNORE INTO meta (key, sequence, hash) VALUES ('last', 0, x''), ('anchor', 0, x'');
`;

/** Every column in table order: for the INSERT, and for verification, which checks they agree. */
export const EVENT_COLUMNS = 'sequence, id, type, severity, timestamp, user_id, entity_type, entity_id, received_at, hash, encoded';

/** One row of `events` in column order, as a raw-mode statement returns it (arrays are cheaper than objects). */
export type EventRow = [
  sequence: number,
  id: string,
  type: string,
  severity: number,
  timestamp: number,
  userId: string,
  entityType: string,
  entityId: string,
  receivedAt: number,
  hash: Buffer,
  encodedBase64: string,
];

/** What reading an event takes: its sequence (for paging) and its stored bytes. */
export const READ_COLUMNS = 'sequence, encoded';
export type ReadRow = [sequence: number, encodedBase64: string];

/** Positions in an EventRow that code outside the mapping needs. */
export const ROW_HASH = 9;
export const ROW_ENCODED = 10;

/** The one place a row becomes a domain event: from its stored bytes, which are then sent as they are. */
export function rowToEvent(row: ReadRow): StoredAuditEvent {
  const bytes = Buffer.from(row[1], 'base64');
  const event = decodeStoredEvent(bytes);
  rememberEncoding(event, bytes);
  return event;
}

/**
 * Whether a row's columns say what its stored bytes say (they are copies kept for lookups, so a row
 * edited in one place and not the other is damage or tampering).
 */
export function columnsAgree(row: EventRow, e: StoredAuditEvent): boolean {
  const [sequence, id, type, severity, timestamp, userId, entityType, entityId, receivedAt, hash] = row;
  return sequence === e.sequence && id === e.id && type === e.type && severity === e.severity &&
    timestamp === e.timestamp.getTime() && userId === e.userId && entityType === e.entityType &&
    entityId === e.entityId && receivedAt === e.receivedAt.getTime() && Buffer.isBuffer(hash) && hash.equals(e.hash);
}
