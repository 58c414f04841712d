import assert from '../support/assert.js';
import { test } from '@jest/globals';
import type { StoredAuditEvent } from '../../src/domain/event.js';
import { RecentEvents } from '../../src/store/recent-events.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { newEvent } from '../support/events.js';

const at = (sequence: number): StoredAuditEvent => ({ sequence }) as StoredAuditEvent;
const run = (from: number, to: number): StoredAuditEvent[] => Array.from({ length: to - from + 1 }, (_, i) => at(from + i));
const sequences = (events: readonly StoredAuditEvent[] | undefined): number[] | undefined => events?.map((e) => e.sequence);

test('serves what it holds up to the newest, and nothing it cannot vouch for', () => {
  const recent = new RecentEvents(5);
  assert.equal(recent.after(0, 10, 0), undefined, 'empty');
  recent.add(run(1, 3));
  assert.deepEqual(sequences(recent.after(0, 10, 3)), [1, 2, 3]);
  assert.deepEqual(sequences(recent.after(1, 1, 3)), [2]);
  assert.deepEqual(sequences(recent.after(3, 10, 3)), [], 'nothing newer');
  assert.equal(recent.after(0, 10, 4), undefined, 'the log has a newer event it does not hold');
  recent.add(run(4, 14));
  assert.equal(recent.after(0, 10, 14), undefined, 'trimmed: the oldest are read from the log');
  assert.deepEqual(sequences(recent.after(9, 10, 14)), [10, 11, 12, 13, 14]);
  recent.add(run(20, 21));
  assert.equal(recent.after(14, 10, 21), undefined, 'a jump replaces what was held');
  assert.deepEqual(sequences(recent.after(19, 10, 21)), [20, 21]);
  recent.clear();
  assert.equal(recent.after(19, 10, 21), undefined);
});

test('the log reads the newest events from memory as the same objects append returned, and from SQLite after an erasure', async () => {
  const log = new SqliteEventLog({ path: ':memory:', clock: { now: () => new Date() } });
  const results = await log.append([1, 2, 3].map((n) => newEvent({ metadata: { email: `u${n}@example.com` } }, n)));
  const appended = results.map((r) => r.event);
  const read = log.readAfter(0, 10);
  assert.ok(read.every((e, i) => e === appended[i]), 'the objects live routing delivered');
  log.erase({ metadataKey: 'email', metadataValue: 'u2@example.com' }, (key) => key === 'email');
  const afterErasure = log.readAfter(0, 10);
  assert.ok(afterErasure.every((e, i) => e !== appended[i]), 'read again from the log');
  assert.equal('email' in afterErasure[1]!.metadata, false);
  await log.close();
});
