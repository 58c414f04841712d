/**
 * The storage floor: what SQLite alone costs per event with the log's own schema and connection
 * tuning, with nothing of auditstream around it (no server, no hashing, no encoding, one thread):
 * rows of the size the log stores, committed with synchronous=FULL in group commits of BATCH.
 * Measures each variant on a fresh database: events/s, CPU per event (user + system), and the WAL
 * bytes each event writes (20 commits after the fill, with checkpoints held back). Variants drop
 * secondary indexes, to show what the random-key ones (entity, user, and the UNIQUE id) cost, and
 * one draws ids as the server and the client library do (time-ordered UUIDv7) instead of random v4s.
 *
 *   npx tsx bench/sqlite-floor.ts [events, default 200,000] [batch, default 500]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { v7 as timeOrderedUuid } from 'uuid';
import { EVENT_TYPES } from '../src/domain/catalog.js';
import { TUNING } from '../src/store/sqlite-event-log.js';
import { DDL, EVENT_COLUMNS } from '../src/store/sqlite-schema.js';
import { seededRandom } from './support/random.js';

const TOTAL = Number(process.argv[2] ?? 200_000);
const BATCH = Number(process.argv[3] ?? 500);
const WAL_COMMITS = 20;
/** About what the log stores per event: 450 bytes of protobuf as base64. */
const ENCODED = randomBytes(450).toString('base64');

const VARIANTS: ReadonlyArray<readonly [label: string, dropped: readonly string[], drawId: () => string]> = [
  ['the schema as it is, random (v4) ids', [], randomUUID],
  ['the schema as it is, time-ordered (v7) ids', [], timeOrderedUuid],
  ['without the entity and user indexes, v4 ids', ['events_entity_sequence', 'events_user_sequence'], randomUUID],
  ['without any secondary index (the UNIQUE id stays), v4 ids', ['events_entity_sequence', 'events_user_sequence', 'events_type_timestamp', 'events_timestamp'], randomUUID],
];

function measure(dropped: readonly string[], drawId: () => string): { perSecond: number; cpuUs: number; walBytes: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-floor-'));
  const file = path.join(dir, 'events.db');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    for (const pragma of TUNING) db.pragma(pragma);
    db.exec(DDL);
    for (const index of dropped) db.exec(`DROP INDEX ${index}`);
    const insert = db.prepare(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (${EVENT_COLUMNS.split(', ').map(() => '?').join(', ')})`);
    // Ids and hashes made before the clock starts: only SQLite is timed.
    const ids = Array.from({ length: TOTAL + WAL_COMMITS * BATCH }, () => drawId());
    const hashes = randomBytes(32 * ids.length);
    const random = seededRandom();
    let sequence = 0;
    const commit = db.transaction((count: number) => {
      for (let i = 0; i < count; i++) {
        sequence += 1;
        insert.run(sequence, ids[sequence - 1], EVENT_TYPES[sequence % EVENT_TYPES.length], 1 + (sequence % 5), 1_700_000_000_000 + sequence * 2,
          `user-${Math.floor(random() * 5_000)}`, 'call', `entity-${Math.floor(random() * 20_000)}`, 1_700_000_000_000 + sequence,
          hashes.subarray(32 * (sequence - 1), 32 * sequence), ENCODED);
      }
    });
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let done = 0; done < TOTAL; done += BATCH) commit(BATCH);
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('wal_autocheckpoint = 0');
    for (let i = 0; i < WAL_COMMITS; i++) commit(BATCH);
    const walBytes = fs.statSync(`${file}-wal`).size / (WAL_COMMITS * BATCH);
    return { perSecond: TOTAL / seconds, cpuUs: (used.user + used.system) / TOTAL, walBytes };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
console.log(`SQLite alone: ${fmt(TOTAL)} rows of the log's schema into a fresh database, commits of ${BATCH}, synchronous=FULL, in ${os.tmpdir()}`);
for (const [label, dropped, drawId] of VARIANTS) {
  const r = measure(dropped, drawId);
  console.log(`  ${label}: ${fmt(r.perSecond)} events/s, ${fmt(r.cpuUs)} us CPU per event, ${(r.walBytes / 1024).toFixed(1)} KiB of WAL per event`);
}
