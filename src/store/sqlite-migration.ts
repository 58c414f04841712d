import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import stringify from 'safe-stable-stringify';
import type { StoredAuditEvent } from '../domain/event.js';
import { sealEvent } from './hash-chain.js';
import { encodeStoredEvent } from '../contract/event-encoding.js';
import { keyedBytesJson, LEGACY_COLUMNS, type LegacyRow, legacyRowToEvent } from './sqlite-legacy-rows.js';
import { DDL, EVENT_COLUMNS, type EventRow, SCHEMA_VERSION } from './sqlite-schema.js';

/** Rows re-sealed per statement while upgrading (bounded memory on any log size). */
const CHUNK = 1000;

/**
 * Creates (or checks and upgrades) the schema in one transaction. Refuses a database written by a
 * newer schema, and a schema 1 log whose chain does not verify (upgrading would launder it).
 */
export function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`event log schema version ${version} is newer than this build supports (${SCHEMA_VERSION})`);
  }
  db.transaction(() => {
    if (version === 1) upgradeFromV1(db);
    // Schema 3: the event's nanoseconds below the millisecond; rows written before had none (0), and a
    // timestamp without them hashes as it always did (see rfc3339), so their chain is untouched.
    if (version === 1 || version === 2) db.exec('ALTER TABLE events ADD COLUMN timestamp_sub_ms_nanos INTEGER NOT NULL DEFAULT 0');
    if (version >= 1 && version <= 3) storeAsEncoded(db);
    db.exec(DDL);
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * Schema 4: each event is kept as its protobuf bytes beside the columns lookups need (see DDL). The
 * table is rebuilt in sequence order, each row's bytes made from its columns: the bytes the server
 * sent for it before. Hashes are untouched (they cover the same fields). Runs in the upgrade's
 * transaction, once: about half a minute per million events on a small machine.
 */
function storeAsEncoded(db: Database.Database): void {
  db.exec(`ALTER TABLE events RENAME TO events_before_v4;
           DROP INDEX IF EXISTS events_type_timestamp;
           DROP INDEX IF EXISTS events_timestamp;
           DROP INDEX IF EXISTS events_entity_sequence;
           DROP INDEX IF EXISTS events_user_sequence;`);
  db.exec(DDL);
  const page = db.prepare<[number, number], LegacyRow>(
    `SELECT ${LEGACY_COLUMNS} FROM events_before_v4 WHERE sequence > ? ORDER BY sequence LIMIT ?`).raw(true);
  const insert = db.prepare<EventRow>(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (${EVENT_COLUMNS.split(', ').map(() => '?').join(', ')})`);
  for (let rows = page.all(0, CHUNK); rows.length > 0; rows = page.all(rows.at(-1)![0], CHUNK)) {
    for (const row of rows) {
      const e = legacyRowToEvent(row);
      insert.run(e.sequence, e.id, e.type, e.severity, e.timestamp.getTime(), e.userId, e.entityType, e.entityId,
        e.receivedAt.getTime(), e.hash as Buffer, encodeStoredEvent(e).toString('base64'));
    }
  }
  db.exec('DROP TABLE events_before_v4');
}

/** Schema 1's hash: metadata entered the chain in clear (so a masked copy's hash allowed a search). */
function v1Hash(e: StoredAuditEvent): Buffer {
  const encoding = stringify([
    e.id, e.type, e.severity, e.timestamp.toISOString(), e.userId, e.entityType, e.entityId, e.action,
    e.result, e.metadata, e.correlationId, e.source, e.traceparent, e.sequence, e.receivedAt.toISOString(),
    Buffer.from(e.previousHash).toString('hex'),
  ]);
  return createHash('sha256').update(encoding).digest();
}

/**
 * Schema 1 -> 2: metadata enters the chain as salted commitments. Verifies the whole schema 1 chain
 * from the retention anchor first, then draws salts for every kept event and re-seals the chain from
 * the anchor's hash, so the upgraded log verifies and hashes handed out before no longer match (say
 * so to anyone who kept them: the upgrade is recorded by the new hashes starting at the first kept
 * event).
 */
function upgradeFromV1(db: Database.Database): void {
  db.exec(`ALTER TABLE events ADD COLUMN salts TEXT NOT NULL DEFAULT '{}';
           ALTER TABLE events ADD COLUMN commitments TEXT NOT NULL DEFAULT '{}'`);
  const meta = db.prepare<[string], { sequence: number; hash: Buffer }>('SELECT sequence, hash FROM meta WHERE key = ?');
  const anchor = meta.get('anchor')!;
  const page = db.prepare<[number, number], LegacyRow>(
    `SELECT sequence, id, type, severity, timestamp, user_id, entity_type, entity_id, action, result, metadata,
            correlation_id, source, traceparent, received_at, previous_hash, hash, '{}', '{}', 0
       FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?`).raw(true);
  const update = db.prepare<[string, string, Buffer, Buffer, number]>(
    'UPDATE events SET salts = ?, commitments = ?, previous_hash = ?, hash = ? WHERE sequence = ?');
  let expected = { sequence: anchor.sequence + 1, oldHash: anchor.hash, newHash: anchor.hash };
  for (let rows = page.all(anchor.sequence, CHUNK); rows.length > 0; rows = page.all(expected.sequence - 1, CHUNK)) {
    for (const row of rows) {
      const old = legacyRowToEvent(row);
      const broken = old.sequence !== expected.sequence ? `sequence ${expected.sequence} is missing`
        : !v1Hash(old).equals(old.hash) ? `sequence ${old.sequence} does not reproduce its hash`
        : !expected.oldHash.equals(old.previousHash) ? `sequence ${old.sequence} does not link to the one before` : undefined;
      if (broken) throw new Error(`cannot upgrade the event log to schema ${SCHEMA_VERSION}: its chain is broken (${broken}); restore a backup`);
      const sealed = sealEvent({ ...old, metadataSalts: undefined }, old.sequence, old.receivedAt, expected.newHash);
      update.run(keyedBytesJson(sealed.metadataSalts), keyedBytesJson(sealed.metadataCommitments), Buffer.from(sealed.previousHash), Buffer.from(sealed.hash), old.sequence);
      expected = { sequence: old.sequence + 1, oldHash: Buffer.from(old.hash), newHash: Buffer.from(sealed.hash) };
    }
  }
  const last = meta.get('last')!;
  if (last.sequence === expected.sequence - 1 && last.sequence > anchor.sequence) {
    db.prepare('UPDATE meta SET hash = ? WHERE key = ?').run(expected.newHash, 'last');
  }
}
