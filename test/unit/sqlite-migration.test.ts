import assert from '../support/assert.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import Database from 'better-sqlite3';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import { encodeStoredEvent } from '../../src/contract/event-encoding.js';
import { computeHash } from '../../src/store/hash-chain.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { editStored } from '../support/tamper.js';

const clock = { now: () => new Date('2026-02-01T00:00:00Z') };

/** A copy of test/fixtures/<name>, to upgrade. */
function copyOfFixture(name: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-fixture-')), 'log.db');
  fs.copyFileSync(path.join(import.meta.dirname, '..', 'fixtures', name), file);
  return file;
}

/** The stored hashes (hex) in sequence order, read before the log is opened and upgraded. */
function hashesIn(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT hash FROM events ORDER BY sequence').all() as Array<{ hash: Buffer }>).map((r) => r.hash.toString('hex'));
  } finally {
    db.close();
  }
}

/**
 * test/fixtures/v1-log.db was written by the schema 1 code (commit 4fa3775): 8 events whose metadata
 * entered the hash in clear, sequences 1-3 removed by retention (so the chain starts at an anchor).
 */
test('a schema 1 log is verified, then re-sealed with commitments: it verifies, keeps every value, and sequences continue', async () => {
  const file = copyOfFixture('v1-log.db');
  const before = new Database(file, { readonly: true });
  const oldRows = before.prepare('SELECT sequence, metadata, hash FROM events ORDER BY sequence').all() as Array<{ sequence: number; metadata: string; hash: Buffer }>;
  before.close();
  const log = new SqliteEventLog({ path: file, clock });
  assert.deepEqual(log.verifyChain(), { ok: true, checked: 5, firstSequence: 4, lastSequence: 8 });
  const events = log.readAfter(0, 100);
  assert.deepEqual(events.map((e) => e.sequence), [4, 5, 6, 7, 8]);
  events.forEach((e, i) => {
    assert.deepEqual(e.metadata, JSON.parse(oldRows[i]!.metadata));
    assert.deepEqual(Object.keys(e.metadataCommitments).sort(), ['nested', 'note', 'ssn']);
    assert.notDeepEqual(Buffer.from(e.hash), oldRows[i]!.hash, 'the hash no longer covers the values in clear');
    assert.ok(computeHash(e).equals(e.hash));
  });
  const [next] = await log.append([{ ...events[0]!, id: '00000000-0000-4000-8000-000000000099', metadataSalts: undefined }]);
  assert.equal(next!.event.sequence, 9);
  assert.deepEqual(next!.event.previousHash, events[4]!.hash);
  assert.equal(log.verifyChain().ok, true);
  await log.close();
  // Opening it again does not upgrade twice.
  const again = new SqliteEventLog({ path: file, clock });
  assert.deepEqual(again.readAfter(0, 100).map((e) => Buffer.from(e.hash).toString('hex')), [...events, next!.event].map((e) => Buffer.from(e.hash).toString('hex')));
  await again.close();
});

test('a schema 1 log whose chain is broken is refused, not laundered into a valid one', () => {
  const file = copyOfFixture('v1-log.db');
  const raw = new Database(file);
  raw.prepare("UPDATE events SET metadata = json_set(metadata, '$.note', 'forged') WHERE sequence = 6").run();
  raw.close();
  assert.throws(() => new SqliteEventLog({ path: file, clock }), /cannot upgrade the event log to schema 4: its chain is broken \(sequence 6 does not reproduce its hash\)/);
  const untouched = new Database(file, { readonly: true });
  assert.equal(untouched.pragma('user_version', { simple: true }), 1, 'the failed upgrade left the file as it was');
  untouched.close();
});

/**
 * test/fixtures/v2-log.db was written by the schema 2 code (commit 647d5cc), which kept timestamps to
 * the millisecond: 4 events with metadata commitments.
 */
test('a schema 2 log gains the sub-millisecond column: its hashes are untouched, and new events keep their nanoseconds', async () => {
  const file = copyOfFixture('v2-log.db');
  const oldHashes = hashesIn(file);
  const log = new SqliteEventLog({ path: file, clock });
  assert.deepEqual(log.verifyChain(), { ok: true, checked: 4, firstSequence: 1, lastSequence: 4 });
  const events = log.readAfter(0, 100);
  assert.deepEqual(events.map((e) => Buffer.from(e.hash).toString('hex')), oldHashes, 'rows written before keep their hashes');
  assert.deepEqual(events.map((e) => e.timestampSubMsNanos), [0, 0, 0, 0]);
  const [next] = await log.append([{ ...events[0]!, id: '00000000-0000-4000-8000-000000000099', timestampSubMsNanos: 456_789, metadataSalts: undefined }]);
  assert.equal(next!.event.timestampSubMsNanos, 456_789);
  await log.close();
  const again = new SqliteEventLog({ path: file, clock });
  assert.equal(again.readAfter(4, 1)[0]!.timestampSubMsNanos, 456_789);
  assert.deepEqual(again.verifyChain(), { ok: true, checked: 5, firstSequence: 1, lastSequence: 5 });
  await again.close();
  const raw = new Database(file);
  assert.equal(raw.pragma('user_version', { simple: true }), 4);
  // The nanoseconds are in the chain: changing them is tampering.
  editStored(raw, 5, (e) => ({ ...e, timestampSubMsNanos: 456_788 }));
  raw.close();
  const tampered = new SqliteEventLog({ path: file, clock });
  assert.equal(tampered.verifyChain().ok, false);
  await tampered.close();
});

/**
 * test/fixtures/v3-log.db was written by the schema 3 code (commit 6d9fd4c): 3 events (nested and
 * non-ASCII metadata, none, nanoseconds below the millisecond), before events kept their encoding.
 */
test('a schema 3 log is rebuilt to keep each event as its protobuf bytes: hashes untouched, the bytes are what was sent for the event, and verification covers them', async () => {
  const file = copyOfFixture('v3-log.db');
  const oldHashes = hashesIn(file);
  const log = new SqliteEventLog({ path: file, clock });
  assert.deepEqual(log.verifyChain(), { ok: true, checked: 3, firstSequence: 1, lastSequence: 3 });
  const events = log.readAfter(0, 100);
  assert.deepEqual(events.map((e) => Buffer.from(e.hash).toString('hex')), oldHashes, 'rows written before keep their hashes');
  const [next] = await log.append([{ ...events[0]!, id: '00000000-0000-4000-8000-000000000099', metadataSalts: undefined }]);
  await log.close();

  const raw = new Database(file);
  assert.equal(raw.pragma('user_version', { simple: true }), 4);
  const stored = (raw.prepare('SELECT encoded FROM events ORDER BY sequence').all() as Array<{ encoded: string }>).map((r) => Buffer.from(r.encoded, 'base64'));
  const columns = (raw.prepare("SELECT name FROM pragma_table_info('events')").all() as Array<{ name: string }>).map((c) => c.name);
  assert.deepEqual(columns, ['sequence', 'id', 'type', 'severity', 'timestamp', 'user_id', 'entity_type', 'entity_id', 'received_at', 'hash', 'encoded']);
  const indexes = (raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
  assert.deepEqual(indexes, ['events_entity_sequence', 'events_timestamp', 'events_type_timestamp', 'events_user_sequence']);
  assert.equal((raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'events_before%'").get() as { n: number }).n, 0, 'the old table is gone');
  assert.equal(stored.length, 4);
  [...events, next!.event].forEach((e, i) => {
    assert.ok(stored[i]!.equals(encodeStoredEvent(e)), `sequence ${e.sequence} is stored as the bytes it is sent as`);
    assert.equal(AuditEvent.decode(stored[i]!).sequence, e.sequence);
  });
  assert.deepEqual(AuditEvent.decode(stored[0]!).metadata, { ip: '10.0.0.1', nested: { a: [1, 'x', null, true], b: 2 } });
  // The stored bytes are what subscribers get: bytes that are not the hashed event's are tampering.
  raw.prepare('UPDATE events SET encoded = ? WHERE sequence = 2').run(encodeStoredEvent({ ...events[1]!, action: 'forged' }).toString('base64'));
  raw.close();
  const tampered = new SqliteEventLog({ path: file, clock });
  assert.deepEqual(tampered.verifyChain().firstBreak, { sequence: 2, kind: 'hash_mismatch' });
  await tampered.close();
});
