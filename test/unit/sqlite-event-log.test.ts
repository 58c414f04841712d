import assert from '../support/assert.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import Database from 'better-sqlite3';
import { EVENT_TYPES, type EventType, type Severity } from '../../src/domain/catalog.js';
import type { NewAuditEvent, StoredAuditEvent } from '../../src/domain/event.js';
import type { Clock } from '../../src/domain/ports.js';
import { computeHash } from '../../src/store/hash-chain.js';
import { SqliteEventLog, type SqliteEventLogOptions } from '../../src/store/sqlite-event-log.js';
import { MINUTE, newEvent, T0 } from '../support/events.js';
import { editStored } from '../support/tamper.js';


class FakeClock implements Clock {
  constructor(public ms = T0) {}
  now(): Date {
    return new Date(this.ms);
  }
}

/** Event n of the shared factory (its time T0 + n minutes, its user, entity and metadata vary with n). */
const event = (n: number, over: Partial<NewAuditEvent> = {}): NewAuditEvent => newEvent(over, n);

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sequences = (events: readonly StoredAuditEvent[]): number[] => events.map((e) => e.sequence);

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-sqlite-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let dbCount = 0;
function dbPath(): string {
  dbCount += 1;
  return path.join(tmp, `db-${dbCount}`, 'nested', 'events.db'); // parent directories do not exist yet
}

function open(options: Partial<SqliteEventLogOptions> & { clock?: Clock } = {}): SqliteEventLog {
  return new SqliteEventLog({ path: ':memory:', clock: new FakeClock(), ...options });
}

describe('append and read', () => {
  test('an empty log', async () => {
    const log = open();
    assert.equal(log.lastSequence(), 0);
    assert.equal(log.firstSequence(), 1);
    assert.deepEqual(log.readAfter(0, 10), []);
    assert.deepEqual(await log.append([]), []);
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 0, firstSequence: 1, lastSequence: 0 });
    await log.close();
  });

  test('assigns gapless sequences in order, chains hashes and reads back what append returned', async () => {
    const clock = new FakeClock();
    const log = open({ clock });
    const first = await log.append([event(1), event(2), event(3)]);
    clock.ms += 1000;
    const second = await log.append([event(4), event(5)]);
    const appended = [...first, ...second];
    assert.deepEqual(appended.map((r) => r.duplicate), [false, false, false, false, false]);
    assert.deepEqual(sequences(appended.map((r) => r.event)), [1, 2, 3, 4, 5]);
    assert.equal(appended[0].event.receivedAt.getTime(), T0);
    assert.equal(appended[3].event.receivedAt.getTime(), T0 + 1000);
    assert.equal(appended[0].event.previousHash.length, 0);
    for (let i = 1; i < 5; i++) assert.deepEqual(appended[i].event.previousHash, appended[i - 1].event.hash);

    assert.equal(log.firstSequence(), 1);
    assert.equal(log.lastSequence(), 5);
    const all = log.readAfter(0, 100);
    assert.deepEqual(all, appended.map((r) => r.event));
    assert.deepEqual(sequences(log.readAfter(2, 2)), [3, 4]);
    assert.deepEqual(log.readAfter(5, 10), []);
    assert.deepEqual(log.readAfter(1, 0), []);
    // The stored metadata and hash round-trip exactly.
    assert.deepEqual(all[0].metadata, { n: 1, nested: { z: 1, a: [1, 'two', null] } });
    assert.deepEqual(computeHash(all[4]), all[4].hash);
    await log.close();
  });

  test('a duplicate of a stored id returns the original and stores nothing', async () => {
    const log = open();
    await log.append([event(1), event(2)]);
    const [dup, fresh] = await log.append([event(1, { action: 'changed' }), event(3)]);
    assert.equal(dup.duplicate, true);
    assert.equal(dup.event.sequence, 1);
    assert.equal(dup.event.action, 'login');
    assert.equal(fresh.duplicate, false);
    assert.equal(fresh.event.sequence, 3);
    assert.deepEqual(fresh.event.previousHash, log.readAfter(1, 1)[0].hash);

    const onlyDups = await log.append([event(2)]);
    assert.equal(onlyDups[0].duplicate, true);
    assert.equal(onlyDups[0].event.sequence, 2);
    assert.equal(log.lastSequence(), 3);
    assert.equal(log.readAfter(0, 100).length, 3);
    assert.equal(log.verifyChain().ok, true);
    await log.close();
  });

  test('a duplicate earlier in the same batch returns the first one', async () => {
    const log = open();
    const results = await log.append([event(1), event(2), event(1, { action: 'again' }), event(3)]);
    assert.deepEqual(results.map((r) => r.duplicate), [false, false, true, false]);
    assert.deepEqual(sequences(results.map((r) => r.event)), [1, 2, 1, 3]);
    assert.equal(results[2].event, results[0].event);
    assert.equal(results[2].event.action, 'login');
    assert.equal(log.lastSequence(), 3);
    assert.equal(log.verifyChain().ok, true);
    await log.close();
  });

  test('sequences and the chain continue after close and reopen; the directory is created', async () => {
    const file = dbPath();
    const clock = new FakeClock();
    let log = open({ path: file, clock });
    await log.append([event(1), event(2), event(3)]);
    const lastHash = log.readAfter(2, 1)[0].hash;
    await log.close();
    await log.close(); // idempotent
    assert.ok(fs.existsSync(file));

    log = open({ path: file, clock, synchronous: 'normal' });
    assert.equal(log.lastSequence(), 3);
    assert.equal(log.firstSequence(), 1);
    const [dup, next] = await log.append([event(2), event(4)]);
    assert.equal(dup.duplicate, true);
    assert.equal(next.event.sequence, 4);
    assert.deepEqual(next.event.previousHash, lastHash);
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 4, firstSequence: 1, lastSequence: 4 });
    await log.close();
  });
});

describe('sequenceBefore', () => {
  test('is the sequence before the first event at or after the time', async () => {
    const log = open();
    assert.equal(log.sequenceBefore(new Date(T0)), 0);
    // Timestamps (minutes after T0) by sequence: 10, 20, 5 (late arrival), 30.
    await log.append([
      event(1, { timestamp: new Date(T0 + 10 * MINUTE) }),
      event(2, { timestamp: new Date(T0 + 20 * MINUTE) }),
      event(3, { timestamp: new Date(T0 + 5 * MINUTE) }),
      event(4, { timestamp: new Date(T0 + 30 * MINUTE) }),
    ]);
    assert.equal(log.sequenceBefore(new Date(T0)), 0);
    assert.equal(log.sequenceBefore(new Date(T0 + 10 * MINUTE)), 0);
    assert.equal(log.sequenceBefore(new Date(T0 + 11 * MINUTE)), 1);
    assert.equal(log.sequenceBefore(new Date(T0 + 20 * MINUTE)), 1);
    assert.equal(log.sequenceBefore(new Date(T0 + 21 * MINUTE)), 3);
    assert.equal(log.sequenceBefore(new Date(T0 + 31 * MINUTE)), 4);
    await log.close();
  });
});

describe('verifyChain', () => {
  async function filled(n: number): Promise<{ log: SqliteEventLog; raw: Database.Database }> {
    const file = dbPath();
    const log = open({ path: file });
    await log.append(range(1, n).map((i) => event(i)));
    return { log, raw: new Database(file) };
  }

  test('a clean chain verifies, in full and in part', async () => {
    const { log, raw } = await filled(10);
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 10, firstSequence: 1, lastSequence: 10 });
    assert.deepEqual(log.verifyChain(4, 7), { ok: true, checked: 4, firstSequence: 4, lastSequence: 7 });
    assert.deepEqual(log.verifyChain(0, 99), { ok: true, checked: 10, firstSequence: 1, lastSequence: 10 });
    raw.close();
    await log.close();
  });

  test('an UPDATE of a field is a hash mismatch at that sequence', async () => {
    const { log, raw } = await filled(10);
    editStored(raw, 6, (e) => ({ ...e, action: 'tampered' }));
    assert.deepEqual(log.verifyChain(), {
      ok: false,
      checked: 5,
      firstSequence: 1,
      lastSequence: 10,
      firstBreak: { sequence: 6, kind: 'hash_mismatch' },
    });
    raw.prepare("UPDATE events SET encoded = 'CgX//w==' WHERE sequence = 3").run(); // bytes that do not decode
    assert.deepEqual(log.verifyChain().firstBreak, { sequence: 3, kind: 'hash_mismatch' });
    raw.close();
    await log.close();
  });

  test('a row rewritten with a consistent hash breaks the link to the next one', async () => {
    const { log, raw } = await filled(10);
    editStored(raw, 5, (e) => {
      const forged = { ...e, action: 'forged' };
      return { ...forged, hash: computeHash(forged) };
    });
    assert.deepEqual(log.verifyChain().firstBreak, { sequence: 6, kind: 'previous_hash_mismatch' });
    raw.close();
    await log.close();
  });

  test('a lookup column that no longer says what the stored bytes say breaks where it stands', async () => {
    const { log, raw } = await filled(10);
    raw.prepare("UPDATE events SET user_id = 'mallory' WHERE sequence = 5").run();
    assert.deepEqual(log.verifyChain().firstBreak, { sequence: 5, kind: 'hash_mismatch' });
    raw.prepare("UPDATE events SET user_id = (SELECT user_id FROM events WHERE sequence = 4), entity_id = 'elsewhere' WHERE sequence = 5").run();
    assert.deepEqual(log.verifyChain().firstBreak, { sequence: 5, kind: 'hash_mismatch' });
    raw.close();
    await log.close();
  });

  test('off the event loop, over several reader threads, with the same answers', async () => {
    const file = dbPath();
    const log = open({ path: file, verifyEventsPerThread: 10 });
    await log.append(range(1, 40).map((i) => event(i)));
    assert.deepEqual(await log.verifyChainOffThread(), { ok: true, checked: 40, firstSequence: 1, lastSequence: 40 });
    assert.deepEqual(await log.verifyChainOffThread(4, 33), { ok: true, checked: 30, firstSequence: 4, lastSequence: 33 });
    const raw = new Database(file);
    // Two to four threads of at least 10 events each: breaks inside a later range, at the start of one, in the first.
    editStored(raw, 35, (e) => ({ ...e, action: 'tampered' }));
    assert.deepEqual(await log.verifyChainOffThread(), log.verifyChain());
    raw.prepare('DELETE FROM events WHERE sequence = 21').run();
    assert.deepEqual(await log.verifyChainOffThread(), { ok: false, checked: 20, firstSequence: 1, lastSequence: 40, firstBreak: { sequence: 21, kind: 'missing_sequence' } });
    editStored(raw, 14, (e) => ({ ...e, action: 'tampered' }));
    assert.deepEqual(await log.verifyChainOffThread(), { ok: false, checked: 13, firstSequence: 1, lastSequence: 40, firstBreak: { sequence: 14, kind: 'hash_mismatch' } });
    raw.close();
    await log.close();
  });

  test('concurrent verifications take turns: the threads in use do not grow with the callers', async () => {
    const log = open({ path: dbPath(), verifyEventsPerThread: 10 });
    await log.append(range(1, 40).map((i) => event(i)));
    const threads = (): number => Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
    try {
      const before = threads();
      let most = before;
      const sampler = setInterval(() => (most = Math.max(most, threads())), 2);
      const results = await Promise.all(Array.from({ length: 6 }, () => log.verifyChainOffThread()));
      clearInterval(sampler);
      assert.ok(results.every((r) => r.ok && r.checked === 40));
      // One verification's threads (up to four, each with a loader thread when run from source), not
      // six verifications' (24 more threads without the turns, checked).
      assert.ok(most - before <= 8, `${most - before} more threads at most`);
    } finally {
      await log.close();
    }
  });

  test('a DELETE of a middle row, or of the newest, is a missing sequence', async () => {
    const { log, raw } = await filled(10);
    raw.prepare('DELETE FROM events WHERE sequence = 10').run();
    assert.deepEqual(log.verifyChain().firstBreak, { sequence: 10, kind: 'missing_sequence' });
    raw.prepare('DELETE FROM events WHERE sequence = 4').run();
    assert.deepEqual(log.verifyChain(), {
      ok: false,
      checked: 3,
      firstSequence: 1,
      lastSequence: 10,
      firstBreak: { sequence: 4, kind: 'missing_sequence' },
    });
    raw.close();
    await log.close();
  });
});

describe('retention', () => {
  test('by count keeps the newest and the chain verifiable from the first kept event', async () => {
    const log = open({ retention: { maxEvents: 4 } });
    await log.append(range(1, 10).map((i) => event(i)));
    assert.equal(log.applyRetention(new Date()), 6);
    assert.equal(log.applyRetention(new Date()), 0);
    assert.equal(log.firstSequence(), 7);
    assert.equal(log.lastSequence(), 10);
    assert.deepEqual(sequences(log.readAfter(0, 100)), [7, 8, 9, 10]);
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 4, firstSequence: 7, lastSequence: 10 });
    await log.append([event(11)]);
    assert.equal(log.applyRetention(new Date()), 1);
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 4, firstSequence: 8, lastSequence: 11 });
    await log.close();
  });

  test('by age removes events received too long ago', async () => {
    const clock = new FakeClock();
    const log = open({ clock, retention: { maxAgeMs: 60 * MINUTE } });
    for (let i = 1; i <= 6; i++) {
      await log.append([event(2 * i - 1), event(2 * i)]); // received at T0, T0+20min, ... T0+100min
      clock.ms += 20 * MINUTE;
    }
    // Cut-off T0+40min: batches received at T0 and T0+20min go.
    assert.equal(log.applyRetention(new Date(T0 + 100 * MINUTE)), 4);
    assert.equal(log.firstSequence(), 5);
    assert.ok(log.readAfter(0, 100).every((e) => e.receivedAt.getTime() >= T0 + 40 * MINUTE));
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 8, firstSequence: 5, lastSequence: 12 });
    assert.equal(log.applyRetention(new Date(T0 + 100 * MINUTE)), 0);
    await log.close();
  });

  test('after removing everything, sequences and the chain continue, also across a reopen', async () => {
    const file = dbPath();
    const clock = new FakeClock();
    let log = open({ path: file, clock, retention: { maxAgeMs: MINUTE } });
    await log.append(range(1, 5).map((i) => event(i)));
    const lastHash = log.readAfter(4, 1)[0].hash;
    assert.equal(log.applyRetention(new Date(T0 + 10 * MINUTE)), 5);
    assert.equal(log.lastSequence(), 5);
    assert.equal(log.firstSequence(), 6);
    assert.deepEqual(log.readAfter(0, 10), []);
    assert.equal(log.sequenceBefore(new Date(T0)), 5);
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 0, firstSequence: 6, lastSequence: 5 });
    await log.close();

    log = open({ path: file, clock });
    assert.equal(log.lastSequence(), 5);
    assert.equal(log.firstSequence(), 6);
    const [next] = await log.append([event(6)]);
    assert.equal(next.event.sequence, 6);
    assert.deepEqual(next.event.previousHash, lastHash);
    assert.deepEqual(log.verifyChain(), { ok: true, checked: 1, firstSequence: 6, lastSequence: 6 });
    await log.close();
  });

  test('without limits it removes nothing; bad limits are refused', async () => {
    const log = open();
    await log.append([event(1)]);
    assert.equal(log.applyRetention(new Date(T0 + 1e9)), 0);
    await log.close();
    assert.throws(() => open({ retention: { maxEvents: -1 } }), /retention.maxEvents/);
  });
});

describe('query', () => {
  let log: SqliteEventLog;
  // 40 events: types cycle over 4, severity 1..5, entity-(n%5), user-(n%3), timestamps T0 + n min.
  const TYPES: EventType[] = ['LOGIN_SUCCESS', 'LOGIN_FAILED', 'CALL_CREATED', 'BID_CREATED'];
  beforeAll(async () => {
    log = open();
    await log.append(
      range(1, 40).map((n) => event(n, { type: TYPES[n % 4], severity: ((n % 5) + 1) as Severity })),
    );
  });
  afterAll(async () => {
    await log.close();
  });
  const all = (): StoredAuditEvent[] => log.readAfter(0, 1000);
  const expect = (keep: (e: StoredAuditEvent) => boolean): number[] => sequences(all().filter(keep));

  test('no filter, ascending and descending', () => {
    assert.deepEqual(sequences(log.query({ order: 'asc', limit: 100 }).events), range(1, 40));
    assert.deepEqual(sequences(log.query({ order: 'desc', limit: 3 }).events), [40, 39, 38]);
    assert.deepEqual(log.query({ order: 'asc', limit: 0 }), { events: [] });
  });

  test('each indexed field, OR within a field', () => {
    const q = (extra: object) => sequences(log.query({ order: 'asc', limit: 100, ...extra }).events);
    assert.deepEqual(q({ eventTypes: ['LOGIN_FAILED'] }), expect((e) => e.type === 'LOGIN_FAILED'));
    assert.deepEqual(
      q({ eventTypes: ['LOGIN_FAILED', 'BID_CREATED'] }),
      expect((e) => e.type === 'LOGIN_FAILED' || e.type === 'BID_CREATED'),
    );
    assert.deepEqual(q({ severities: [2, 5] }), expect((e) => e.severity === 2 || e.severity === 5));
    assert.deepEqual(q({ minSeverity: 4 }), expect((e) => e.severity >= 4));
    assert.deepEqual(q({ entityTypes: ['call'] }), expect((e) => e.entityType === 'call'));
    assert.deepEqual(q({ entityIds: ['entity-2'] }), expect((e) => e.entityId === 'entity-2'));
    assert.deepEqual(
      q({ entityIds: ['entity-2', 'entity-4'] }),
      expect((e) => e.entityId === 'entity-2' || e.entityId === 'entity-4'),
    );
    assert.deepEqual(q({ userIds: ['user-1'] }), expect((e) => e.userId === 'user-1'));
    assert.deepEqual(q({ eventTypes: [], userIds: [] }), range(1, 40)); // empty field means any
    assert.deepEqual(q({ entityIds: ['nobody'] }), []);
  });

  test('AND across fields and an inclusive time window', () => {
    const start = new Date(T0 + 10 * MINUTE);
    const end = new Date(T0 + 20 * MINUTE);
    assert.deepEqual(sequences(log.query({ order: 'asc', limit: 100, start, end }).events), range(10, 20));
    assert.deepEqual(sequences(log.query({ order: 'asc', limit: 100, start }).events), range(10, 40));
    assert.deepEqual(sequences(log.query({ order: 'desc', limit: 100, end }).events), range(1, 20).reverse());
    const combined = log.query({ order: 'desc', limit: 100, start, end, userIds: ['user-1'], minSeverity: 2 });
    assert.deepEqual(
      sequences(combined.events),
      expect((e) => e.sequence >= 10 && e.sequence <= 20 && e.userId === 'user-1' && e.severity >= 2).reverse(),
    );
  });

  test('pages with the token in both orders', () => {
    for (const order of ['asc', 'desc'] as const) {
      const seen: number[] = [];
      let token: number | undefined;
      let pages = 0;
      do {
        const page = log.query({ order, limit: 4, userIds: ['user-2'], afterSequence: token });
        seen.push(...sequences(page.events));
        token = page.nextPageToken;
        pages += 1;
      } while (token !== undefined);
      const want = expect((e) => e.userId === 'user-2');
      assert.deepEqual(seen, order === 'asc' ? want : want.reverse());
      assert.equal(pages, Math.ceil(want.length / 4)); // no empty trailing page
    }
  });

  test('a predicate filters in JS across chunks, with paging', () => {
    const predicate = (e: StoredAuditEvent) => (e.metadata.n as number) % 7 === 0;
    const first = log.query({ order: 'desc', limit: 3, predicate });
    assert.deepEqual(sequences(first.events), [35, 28, 21]);
    assert.equal(first.nextPageToken, 21);
    const second = log.query({ order: 'desc', limit: 3, predicate, afterSequence: first.nextPageToken });
    assert.deepEqual(sequences(second.events), [14, 7]);
    assert.equal(second.nextPageToken, undefined);
    const none = log.query({ order: 'asc', limit: 10, predicate: () => false });
    assert.deepEqual(none, { events: [] });
  });

  test('a predicate over many rows keeps fetching chunks until the limit', async () => {
    const big = open();
    await big.append(range(1, 3000).map((n) => event(n, { type: EVENT_TYPES[n % EVENT_TYPES.length] })));
    const page = big.query({ order: 'asc', limit: 2, predicate: (e) => e.sequence > 2500 && e.sequence % 100 === 0 });
    assert.deepEqual(sequences(page.events), [2600, 2700]);
    assert.equal(page.nextPageToken, 2700);
    await big.close();
  });
});

describe('time ranges with out-of-order timestamps', () => {
  // 300 events, timestamps roughly following sequences with up to ±10 minutes of jitter.
  let seed = 7;
  const jitter = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.round(((seed / 2 ** 31) - 0.5) * 20 * MINUTE);
  };
  const events = range(1, 300).map((n) => event(n, { timestamp: new Date(T0 + n * MINUTE + jitter()) }));
  const logs: Record<string, SqliteEventLog> = {};
  beforeAll(async () => {
    // indexedWindowRows 0 sends every time window through the walk in sequence order.
    logs.indexed = open();
    logs.walked = open({ indexedWindowRows: 0 });
    for (const log of Object.values(logs)) await log.append(events);
  });
  afterAll(async () => {
    for (const log of Object.values(logs)) await log.close();
  });
  const at = (minute: number): Date => new Date(T0 + minute * MINUTE);

  test('sequenceBefore matches a linear search at every minute', () => {
    for (let minute = -15; minute <= 315; minute++) {
      const t = at(minute).getTime();
      const index = events.findIndex((e) => e.timestamp.getTime() >= t);
      const want = index < 0 ? 300 : index; // sequence index + 1, minus 1
      assert.equal(logs.indexed.sequenceBefore(at(minute)), want, `minute ${minute}`);
    }
  });

  test('windows, open-ended ranges, both orders and paging match a filter over all events', () => {
    const ranges: Array<{ start?: Date; end?: Date }> = [
      { start: at(100), end: at(160) },
      { start: at(5) },
      { start: at(290) },
      { end: at(10) },
      { end: at(250) },
      { start: at(400) },
      { end: at(-100) },
      { start: at(200), end: at(100) },
    ];
    for (const [name, log] of Object.entries(logs)) {
      for (const r of ranges) {
        for (const order of ['asc', 'desc'] as const) {
          const inRange = (e: NewAuditEvent): boolean =>
            (r.start === undefined || e.timestamp >= r.start) && (r.end === undefined || e.timestamp <= r.end);
          const want = range(1, 300).filter((n) => inRange(events[n - 1]));
          if (order === 'desc') want.reverse();
          const seen: number[] = [];
          let token: number | undefined;
          do {
            const page = log.query({ ...r, order, limit: 25, afterSequence: token });
            seen.push(...sequences(page.events));
            token = page.nextPageToken;
          } while (token !== undefined);
          assert.deepEqual(seen, want, `${name} ${order} ${r.start?.toISOString()}..${r.end?.toISOString()}`);
        }
      }
    }
  });
});

describe('cursors', () => {
  test('default to 0 and persist across a reopen', async () => {
    const file = dbPath();
    let log = open({ path: file });
    assert.equal(log.getCursor('kafka'), 0);
    log.setCursor('kafka', 42);
    log.setCursor('kafka', 43);
    log.setCursor('other', 7);
    await log.close();
    log = open({ path: file });
    assert.equal(log.getCursor('kafka'), 43);
    assert.equal(log.getCursor('other'), 7);
    await log.close();
  });
});
