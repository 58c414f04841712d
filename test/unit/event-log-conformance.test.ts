import assert from '../support/assert.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from '@jest/globals';
import type { NewAuditEvent } from '../../src/domain/event.js';
import type { AppendResult, EventLog } from '../../src/domain/ports.js';
import { computeHash } from '../../src/store/hash-chain.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { ReplicaLog } from '../../src/store/replica-log.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { MINUTE, newEvent, T0 } from '../support/events.js';

/**
 * One specification for every EventLog: the SQLite log, the in-memory log, and the replica a cluster
 * node keeps of the shared topic (fed through a one-partition topic stand-in, as ClusterLog feeds it).
 * What the dispatcher, the history path and the bridges rely on must hold for each.
 */
type Spec = Pick<EventLog, 'append' | 'readAfter' | 'firstSequence' | 'lastSequence' | 'sequenceBefore' | 'query' | 'verifyChain' | 'close'>;

const clock = { now: () => new Date(T0) };

function replica(): Spec {
  const log = new ReplicaLog([0], 10_000);
  let offset = 0;
  return {
    append: (events: readonly NewAuditEvent[]) => Promise.resolve(events.map((event): AppendResult => {
      const held = log.byId(event.id);
      if (held) return { event: held, duplicate: true };
      return log.add({ event, receivedAt: clock.now(), partition: 0, offset: offset++ })!;
    })),
    readAfter: (after, limit) => log.readAfter(after, limit),
    firstSequence: () => log.firstSequence(),
    lastSequence: () => log.lastSequence(),
    sequenceBefore: (time) => log.sequenceBefore(time),
    query: (q) => log.query(q),
    verifyChain: (from, to) => log.verifyChain(from, to),
    close: () => Promise.resolve(),
  };
}

const LOGS: Array<[string, () => Spec]> = [
  ['sqlite', () => new SqliteEventLog({ path: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-spec-')), 'log.db'), clock })],
  ['memory', () => new MemoryEventLog(10_000, clock)],
  ['replica', replica],
];

const at = (n: number) => new Date(T0 + n * MINUTE);

for (const [name, open] of LOGS) {
  describe(`EventLog specification: ${name}`, () => {
    test('sequences from 1, strictly increasing with no gaps; each event stored exactly as sent', async () => {
      const log = open();
      assert.equal(log.lastSequence(), 0);
      assert.equal(log.firstSequence(), 1, 'empty: lastSequence() + 1');
      const sent = [newEvent({ metadata: { a: 1, nested: { b: [true, null, 'x'] } }, timestampSubMsNanos: 123_456 }), newEvent(), newEvent()];
      const results = await log.append(sent);
      assert.deepEqual(results.map((r) => [r.event.sequence, r.duplicate]), [[1, false], [2, false], [3, false]]);
      const stored = log.readAfter(0, 10);
      assert.deepEqual(stored.map((e) => e.sequence), [1, 2, 3]);
      sent.forEach((e, i) => {
        const got = stored[i]!;
        for (const [key, value] of Object.entries(e)) assert.deepEqual(got[key as keyof typeof got], value, `${name}: ${key}`);
        assert.equal(got.timestampSubMsNanos ?? 0, e.timestampSubMsNanos ?? 0);
      });
      assert.equal(log.lastSequence(), 3);
      await log.close();
    });

    test('an id already stored, or earlier in the same batch, answers with the original and is not stored again', async () => {
      const log = open();
      const first = newEvent();
      await log.append([first]);
      const again = await log.append([newEvent(), { ...first, action: 'changed' }, newEvent({ id: first.id })]);
      assert.deepEqual(again.map((r) => [r.event.sequence, r.duplicate]), [[2, false], [1, true], [1, true]]);
      assert.equal(again[1]!.event.action, first.action, 'the original, not the retry');
      const twice = newEvent();
      const inBatch = await log.append([twice, { ...twice }]);
      assert.deepEqual(inBatch.map((r) => [r.event.sequence, r.duplicate]), [[3, false], [3, true]]);
      assert.equal(log.lastSequence(), 3);
      await log.close();
    });

    test('readAfter pages in sequence order; the chain links every event and verifies', async () => {
      const log = open();
      await log.append(Array.from({ length: 25 }, () => newEvent()));
      const pages = [log.readAfter(0, 10), log.readAfter(10, 10), log.readAfter(20, 10), log.readAfter(25, 10)];
      assert.deepEqual(pages.map((p) => p.length), [10, 10, 5, 0]);
      const all = pages.flat();
      all.forEach((e, i) => {
        assert.equal(e.sequence, i + 1);
        // A replica's chain runs over the topic's offsets, the same on every node, not its local order.
        const chained = e.position ? { ...e, sequence: e.position.offset } : e;
        assert.ok(computeHash(chained).equals(e.hash), `${name}: event ${e.sequence} reproduces its hash`);
      });
      assert.deepEqual({ ...log.verifyChain(), firstBreak: undefined }, { ok: true, checked: 25, firstSequence: 1, lastSequence: 25, firstBreak: undefined });
      await log.close();
    });

    test('history: fields, inclusive time bounds, both orders, pages, predicate; sequenceBefore by time', async () => {
      const log = open();
      const base = T0 + 1_000 * MINUTE; // after every event other tests' factory calls stamp
      const events = Array.from({ length: 12 }, (_, i) => newEvent({
        timestamp: new Date(base + i * MINUTE), userId: i % 2 ? 'odd' : 'even', type: i % 3 ? 'LOGIN_SUCCESS' : 'LOGIN_FAILED',
      }));
      await log.append(events);
      const q = { order: 'asc' as const, limit: 100 };
      assert.deepEqual(log.query({ ...q, userIds: ['odd'] }).events.map((e) => e.sequence), [2, 4, 6, 8, 10, 12]);
      assert.deepEqual(log.query({ ...q, eventTypes: ['LOGIN_FAILED'] }).events.map((e) => e.sequence), [1, 4, 7, 10]);
      assert.deepEqual(log.query({ ...q, start: new Date(base + 2 * MINUTE), end: new Date(base + 4 * MINUTE) }).events.map((e) => e.sequence), [3, 4, 5]);
      assert.deepEqual(log.query({ ...q, predicate: (e) => e.sequence % 5 === 0 }).events.map((e) => e.sequence), [5, 10]);
      const newest = log.query({ order: 'desc', limit: 5 });
      assert.deepEqual(newest.events.map((e) => e.sequence), [12, 11, 10, 9, 8]);
      assert.ok(newest.nextPageToken !== undefined, 'more to read');
      const rest = log.query({ order: 'desc', limit: 100, afterSequence: newest.nextPageToken });
      assert.deepEqual(rest.events.map((e) => e.sequence), [7, 6, 5, 4, 3, 2, 1]);
      assert.equal(rest.nextPageToken, undefined);
      assert.equal(log.sequenceBefore(new Date(base + 3 * MINUTE)), 3, 'replaying after 3 starts at the event stamped at that time');
      assert.equal(log.sequenceBefore(at(100_000)), 12, 'nothing that late: the newest');
      await log.close();
    });
  });
}
