import assert from '../support/assert.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import Database from 'better-sqlite3';
import { computeHash } from '../../src/store/hash-chain.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';

/**
 * test/fixtures/v1-log.db was written by the schema 1 code (commit 4fa3775): 8 events whose metadata
 * entered the hash in clear, sequences 1-3 removed by retention (so the chain starts at an anchor).
 */
const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'v1-log.db');
const clock = { now: () => new Date('2026-02-01T00:00:00Z') };

function copyOfFixture(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-v1-')), 'log.db');
  fs.copyFileSync(FIXTURE, file);
  return file;
}

test('a schema 1 log is verified, then re-sealed with commitments: it verifies, keeps every value, and sequences continue', async () => {
  const file = copyOfFixture();
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
  const file = copyOfFixture();
  const raw = new Database(file);
  raw.prepare("UPDATE events SET metadata = json_set(metadata, '$.note', 'forged') WHERE sequence = 6").run();
  raw.close();
  assert.throws(() => new SqliteEventLog({ path: file, clock }), /cannot upgrade the event log to schema 3: its chain is broken \(sequence 6 does not reproduce its hash\)/);
  const untouched = new Database(file, { readonly: true });
  assert.equal(untouched.pragma('user_version', { simple: true }), 1, 'the failed upgrade left the file as it was');
  untouched.close();
});

/**
 * test/fixtures/v2-log.db was written by the schema 2 code (commit 647d5cc), which kept timestamps to
 * the millisecond: 4 events with metadata commitments.
 */
test('a schema 2 log gains the sub-millisecond column: its hashes are untouched, and new events keep their nanoseconds', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-v2-')), 'log.db');
  fs.copyFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'v2-log.db'), file);
  const before = new Database(file, { readonly: true });
  const oldHashes = (before.prepare('SELECT hash FROM events ORDER BY sequence').all() as Array<{ hash: Buffer }>).map((r) => r.hash.toString('hex'));
  before.close();
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
  assert.equal(raw.pragma('user_version', { simple: true }), 3);
  // The nanoseconds are in the chain: changing them is tampering.
  raw.prepare('UPDATE events SET timestamp_sub_ms_nanos = 456788 WHERE sequence = 5').run();
  raw.close();
  const tampered = new SqliteEventLog({ path: file, clock });
  assert.equal(tampered.verifyChain().ok, false);
  await tampered.close();
});
