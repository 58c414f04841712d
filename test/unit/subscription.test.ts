import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { Subscription } from '../../src/dispatch/subscription.js';
import type { NewAuditEvent } from '../../src/domain/event.js';
import { MATCH_ALL } from '../../src/domain/filter.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { encodeStoredEvent } from '../../src/contract/event-encoding.js';
import type { StoredBytes } from '../../src/domain/ports.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newEvent as sharedEvent } from '../support/events.js';

const clock = { now: () => new Date() };
let n = 0;
/** Events spread over seven entities (c0..c6), as the index tests below expect. */
const newEvent = (fields: Partial<NewAuditEvent> = {}): NewAuditEvent => sharedEvent({ entityId: `c${++n % 7}`, timestamp: new Date(), ...fields });

function dispatcher(capacity = 100_000, queueSize = 8): Dispatcher {
  return new Dispatcher(new MemoryEventLog(capacity, clock), {
    maxQueueDepth: 10_000, criticalQueueDepth: 100, backpressureDelayMs: 10, appendBatchSize: 64,
    subscriberQueueSize: queueSize, maxSubscriptions: 100, maxExpressionLength: 100,
  }, clock);
}

/**
 * Takes what the subscription offers, like a transport that reads `perTake` at a time (with
 * `stored`, one that sends events as the log stored them: those batches go to `onStored`).
 */
function drain(sub: Subscription, perTake: number, onStored?: (stored: StoredBytes[]) => void): number[] {
  const seen: number[] = [];
  for (let d = sub.take(perTake, onStored !== undefined); d; d = sub.take(perTake, onStored !== undefined)) {
    if (d.stored) {
      onStored!(d.stored);
      seen.push(...d.stored.map((e) => e.sequence));
      sub.delivered(d.stored);
      if (d.stored.length === 0 && sub.mode === 'live') break;
      continue;
    }
    seen.push(...d.events.map((e) => e.sequence));
    sub.delivered(d.events);
    if (d.events.length === 0 && sub.mode === 'live') break;
  }
  return seen;
}

test('replay hands over to live with no gap and no duplicate under concurrent publishing', async () => {
  const d = dispatcher();
  for (let i = 0; i < 500; i++) await d.publish(newEvent());
  const sub = d.subscribe({ filter: MATCH_ALL, afterSequence: 0, clientName: '', transport: 'test' });
  assert.equal(sub.mode, 'catch-up');
  const seen: number[] = [];
  // Interleave: publishes land while the subscriber reads history in small bites, and it overflows
  // its tiny live queue again and again.
  for (let round = 0; round < 200; round++) {
    const burst = Array.from({ length: round % 13 }, () => d.publish(newEvent()));
    seen.push(...drain(sub, 1 + (round % 5)));
    await Promise.all(burst);
  }
  seen.push(...drain(sub, 50));
  const last = d.log.lastSequence();
  assert.deepEqual(seen, Array.from({ length: last }, (_, i) => i + 1));
  assert.equal(sub.mode, 'live');
  assert.ok(sub.counters.overflows > 0, 'the small queue overflowed into catch-up at least once');
  assert.equal(sub.counters.dropped, 0);
});

test('a match-all catch-up from the SQLite log sends its stored bytes as they are, and hands over to live with no gap and no duplicate', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-sub-')), 'log.db');
  const before = new SqliteEventLog({ path: file, clock });
  await before.append(Array.from({ length: 400 }, () => newEvent()));
  await before.close();
  // Reopened: nothing is held in memory, so catch-up reads the rows.
  const log = new SqliteEventLog({ path: file, clock });
  const d = new Dispatcher(log, {
    maxQueueDepth: 10_000, criticalQueueDepth: 100, backpressureDelayMs: 10, appendBatchSize: 64,
    subscriberQueueSize: 8, maxSubscriptions: 100, maxExpressionLength: 100,
  }, clock);
  try {
    const sub = d.subscribe({ filter: MATCH_ALL, afterSequence: 0, clientName: '', transport: 'test' });
    const filtered = d.subscribe({ filter: { ...MATCH_ALL, entityIds: ['c3'] }, afterSequence: 0, clientName: '', transport: 'test' });
    const sent: StoredBytes[] = [];
    const seen: number[] = [];
    const seenFiltered: number[] = [];
    for (let round = 0; round < 120; round++) {
      const burst = Array.from({ length: round % 13 }, () => d.publish(newEvent()));
      seen.push(...drain(sub, 1 + (round % 30), (stored) => sent.push(...stored)));
      seenFiltered.push(...drain(filtered, 7, () => assert.fail('a filtered catch-up decodes and matches each event')));
      await Promise.all(burst);
    }
    seen.push(...drain(sub, 50, (stored) => sent.push(...stored)));
    seenFiltered.push(...drain(filtered, 50, () => assert.fail('a filtered catch-up decodes and matches each event')));
    const all = log.readAfter(0, 100_000);
    assert.deepEqual(seen, all.map((e) => e.sequence));
    assert.deepEqual(seenFiltered, all.filter((e) => e.entityId === 'c3').map((e) => e.sequence));
    assert.ok(sent.length >= 400, `${sent.length} events went out as stored bytes`);
    assert.ok(sub.counters.overflows > 0, 'the small queue overflowed into catch-up at least once');
    for (const { sequence, bytes } of sent) assert.deepEqual(Buffer.from(bytes), encodeStoredEvent(all[sequence - 1]!), `event ${sequence}`);
    assert.equal(sub.mode, 'live');
  } finally {
    await log.close();
  }
});

test('a filtered catch-up delivers exactly the matching events', async () => {
  const d = dispatcher();
  for (let i = 0; i < 300; i++) await d.publish(newEvent());
  const sub = d.subscribe({ filter: { ...MATCH_ALL, entityIds: ['c3'] }, afterSequence: 0, clientName: '', transport: 'test' });
  const seen = drain(sub, 4);
  const expected = d.log.readAfter(0, 1000).filter((e) => e.entityId === 'c3').map((e) => e.sequence);
  assert.deepEqual(seen, expected);
});

test('a cursor older than the log keeps gets a gap notice, then continues from the oldest kept event', async () => {
  const d = dispatcher(100);
  for (let i = 0; i < 400; i++) await d.publish(newEvent());
  const first = d.log.firstSequence();
  assert.ok(first > 1);
  const sub = d.subscribe({ filter: MATCH_ALL, afterSequence: 0, clientName: '', transport: 'test' });
  const delivery = sub.take(10)!;
  assert.deepEqual(delivery.gap, { from: 1, to: first - 1 });
  assert.equal(delivery.events[0].sequence, first);
  assert.equal(sub.counters.dropped, first - 1);
});

test('a subscription from a past time starts at the first event at or after it', async () => {
  const d = dispatcher();
  const t0 = Date.now() - 10_000;
  for (let i = 0; i < 10; i++) await d.publish(newEvent({ timestamp: new Date(t0 + i * 1000) }));
  const sub = d.subscribe({ filter: { ...MATCH_ALL, start: new Date(t0 + 4000), end: new Date(t0 + 6000) }, clientName: '', transport: 'test' });
  assert.deepEqual(drain(sub, 10), [5, 6, 7]);
  assert.equal(sub.endReason(new Date()), 'completed'); // its end has passed: a finite stream
});
