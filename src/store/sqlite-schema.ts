import type { EventType, ResultName, Severity } from '../domain/catalog.js';
import type { KeyedBytes, Metadata, StoredAuditEvent } from '../domain/event.js';
import { asBuffer } from '../lib/bytes.js';
import { keyed } from './hash-chain.js';

/** Bumped whenever the DDL below changes shape; stored in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 3;

/**
 * The events table holds every field of a StoredAuditEvent: times as integer milliseconds since the
 * epoch (the event's timestamp with its nanoseconds below the millisecond beside it, schema 3),
 * metadata as JSON text, hashes as BLOBs, the metadata salts and commitments as JSON objects of base64
 * strings (schema 2). See sqlite-migration.ts for databases written before. `sequence` is the rowid
 * and is assigned by the log (last + 1), never by SQLite.
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
  action         TEXT    NOT NULL,
  result         TEXT    NOT NULL,
  metadata       TEXT    NOT NULL,
  correlation_id TEXT    NOT NULL,
  source         TEXT    NOT NULL,
  traceparent    TEXT    NOT NULL,
  received_at    INTEGER NOT NULL,
  previous_hash  BLOB    NOT NULL,
  hash           BLOB    NOT NULL,
  salts          TEXT    NOT NULL DEFAULT '{}',
  commitments    TEXT    NOT NULL DEFAULT '{}',
  timestamp_sub_ms_nanos INTEGER NOT NULL DEFAULT 0
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

/** Column list in table order, for SELECTs and the INSERT. */
export const EVENT_COLUMNS =
  'sequence, id, type, severity, timestamp, user_id, entity_type, entity_id, action, result, metadata, ' +
  'correlation_id, source, traceparent, received_at, previous_hash, hash, salts, commitments, timestamp_sub_ms_nanos';

/**
 * One row of `events` in column order, as a raw-mode statement returns it (arrays are markedly cheaper
 * to materialise than objects, which matters when streaming a million rows).
 */
export type EventRow = [
  sequence: number,
  id: string,
  type: string,
  severity: number,
  timestamp: number,
  userId: string,
  entityType: string,
  entityId: string,
  action: string,
  result: string,
  metadata: string,
  correlationId: string,
  source: string,
  traceparent: string,
  receivedAt: number,
  previousHash: Buffer,
  hash: Buffer,
  salts: string,
  commitments: string,
  timestampSubMsNanos: number,
];

/** Positions in an EventRow that code outside the mapping needs. */
export const ROW_SEQUENCE = 0;
export const ROW_PREVIOUS_HASH = 15;
export const ROW_HASH = 16;

/** The one place a row becomes a domain event. */
export function rowToEvent(row: EventRow): StoredAuditEvent {
  const [sequence, id, type, severity, timestamp, userId, entityType, entityId, action, result, metadata,
    correlationId, source, traceparent, receivedAt, previousHash, hash, salts, commitments, timestampSubMsNanos] = row;
  return {
    id,
    type: type as EventType,
    severity: severity as Severity,
    timestamp: new Date(timestamp),
    timestampSubMsNanos,
    userId,
    entityType,
    entityId,
    action,
    result: result as ResultName,
    metadata: JSON.parse(metadata) as Metadata,
    correlationId,
    source,
    traceparent,
    sequence,
    receivedAt: new Date(receivedAt),
    previousHash,
    hash,
    metadataSalts: parseKeyedBytes(salts),
    metadataCommitments: parseKeyedBytes(commitments),
  };
}

/** Salts or commitments as stored: a JSON object of base64 strings. */
export function keyedBytesJson(bytes: KeyedBytes): string {
  let out = '{';
  for (const key in bytes) out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:"${asBuffer(bytes[key]!).toString('base64')}"`;
  return `${out}}`;
}

function parseKeyedBytes(json: string): KeyedBytes {
  if (json === '{}') return keyed([]);
  const parsed = JSON.parse(json) as Record<string, string>;
  const out = keyed<Uint8Array>([]);
  for (const key of Object.keys(parsed)) out[key] = Buffer.from(parsed[key]!, 'base64');
  return out;
}
