import assert from '../support/assert.js';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { test } from '@jest/globals';
import { QueryOrder } from '../../generated/audit/v1/audit_service.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { queryPage } from '../support/history.js';
import { editStored } from '../support/tamper.js';
import { filterOf, makeEvent, publish, StreamReader, withServer } from '../support/server.js';
import { toTimestamp } from '../../src/contract/time-mapping.js';
import type { Timestamp } from '../../generated/google/protobuf/timestamp.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('replay hands over to live under concurrent publishing: no gap, no duplicate, in order', () =>
  withServer({ audit: { subscriber: { queue_size: 16, batch_size: 7 } } }, async (server) => {
    for (let i = 0; i < 10; i++) await server.api.publishBatch({ events: Array.from({ length: 50 }, () => makeEvent()) });
    const publishing = (async () => {
      for (let i = 0; i < 40; i++) await Promise.all(Array.from({ length: 10 }, () => publish(server.client, {})));
    })();
    const reader = StreamReader.open(server.client, { afterSequence: 0 });
    await reader.started();
    await publishing;
    const got = await reader.eventsUntil(900, 20_000);
    assert.deepEqual(got.map((e) => e.sequence), range(1, 900));
    const stats = (await server.api.listSubscriptions()).subscriptions[0];
    assert.equal(stats.dropped, 0);
  }));

test('time ranges: in the past a finite stream, spanning now replay then live, in the future it waits then ends', () =>
  withServer({}, async (server) => {
    const now = Date.now();
    const at = (ms: number): Timestamp => toTimestamp(new Date(now + ms));
    await publish(server.client, { entityId: 'old-1', timestamp: at(-60_000) });
    await publish(server.client, { entityId: 'old-2', timestamp: at(-30_000) });
    await publish(server.client, { entityId: 'older', timestamp: at(-120_000) });

    const past = StreamReader.open(server.client, { filter: filterOf({ timeRange: { start: at(-90_000), end: at(-1_000) } }) });
    assert.equal(await past.ended(), 'OK');
    assert.deepEqual(past.events.map((e) => e.entityId), ['old-1', 'old-2']);

    const spanning = StreamReader.open(server.client, { filter: filterOf({ timeRange: { start: at(-45_000), end: at(60_000) } }) });
    await spanning.eventsUntil(1);
    await publish(server.client, { entityId: 'live', timestamp: toTimestamp(new Date()) });
    assert.deepEqual((await spanning.eventsUntil(2)).map((e) => e.entityId), ['old-2', 'live']);
    spanning.cancel();

    // Which events fall in the window is decided by their own timestamps, not by when they are sent;
    // the only timing left is that two publishes complete within the window's 3 seconds.
    const start = Date.now() + 1_000;
    const future = StreamReader.open(server.client, { filter: filterOf({ timeRange: { start: toTimestamp(new Date(start)), end: toTimestamp(new Date(start + 2_000)) } }) });
    await future.started();
    await publish(server.client, { entityId: 'too-early', timestamp: toTimestamp(new Date(start - 500)) });
    await publish(server.client, { entityId: 'in-range', timestamp: toTimestamp(new Date(start + 500)) });
    assert.equal(await future.ended(), 'OK');
    assert.deepEqual(future.events.map((e) => e.entityId), ['in-range']);
  }));

test('duplicate ids are stored once, also when published concurrently, and delivered once', () =>
  withServer({}, async (server) => {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    const id = randomUUID();
    const acks = await Promise.all(Array.from({ length: 5 }, () => publish(server.client, { id })));
    assert.equal(new Set(acks.map((a) => a.sequence)).size, 1);
    assert.equal(acks.filter((a) => !a.duplicate).length, 1);
    const again = await publish(server.client, { id });
    assert.deepEqual([again.duplicate, again.sequence], [true, acks[0].sequence]);
    await publish(server.client, { entityId: 'marker' });
    assert.deepEqual((await reader.eventsUntil(2)).map((e) => e.id === id || e.entityId), [true, 'marker']);
    assert.equal((await server.api.getStats()).duplicates, 5);
  }));

test('tampering with a stored row is found by VerifyChain', () =>
  withServer({}, async (server) => {
    for (let i = 0; i < 20; i++) await publish(server.client, {});
    const verify = () => new Promise<{ ok: boolean; checked: number; firstBreak?: { sequence: number; kind: string } }>((resolve, reject) =>
      server.client.verifyChain({ fromSequence: 0, toSequence: 0 }, (err, res) => (err ? reject(err) : resolve(res))));
    assert.deepEqual(await verify(), { ok: true, checked: 20, firstSequence: 1, lastSequence: 20, firstBreak: undefined });
    const db = new Database(server.app.config.storage.path);
    editStored(db, 12, (e) => ({ ...e, action: 'forged' }));
    db.close();
    const broken = await verify();
    assert.equal(broken.ok, false);
    assert.equal(broken.checked, 11);
    assert.deepEqual(broken.firstBreak, { sequence: 12, kind: 'hash_mismatch' });
  }));

test('retention removes old events; an older cursor gets a gap notice, then the kept events', () =>
  withServer({ storage: { retention: { max_events: 10 } } }, async (server) => {
    for (let i = 0; i < 30; i++) await publish(server.client, {});
    const log = server.app.dispatcher.log as SqliteEventLog;
    assert.equal(log.applyRetention(new Date()), 20);
    const reader = StreamReader.open(server.client, { afterSequence: 5 });
    const gap = await reader.until('a gap notice', () => reader.messages.find((m) => m.kind?.$case === 'gap'));
    assert.deepEqual(gap.kind?.$case === 'gap' && gap.kind.gap, { fromSequence: 6, toSequence: 20 });
    assert.deepEqual((await reader.eventsUntil(10)).map((e) => e.sequence), range(21, 30));
    const verification = log.verifyChain();
    assert.deepEqual([verification.ok, verification.firstSequence], [true, 21]);
    reader.cancel();
  }));

test('Query searches history with filters, order and pages', () =>
  withServer({}, async (server) => {
    for (let i = 0; i < 25; i++) await publish(server.client, { entityId: i % 2 ? 'odd' : 'even', metadata: { n: i } });
    const first = await queryPage(server.client, { filter: filterOf({ entityIds: ['odd'] }), limit: 5 });
    assert.deepEqual(first.events.map((e) => e.metadata?.n), [23, 21, 19, 17, 15]);
    const second = await queryPage(server.client, { filter: filterOf({ entityIds: ['odd'] }), limit: 5, pageToken: first.next });
    assert.deepEqual(second.events.map((e) => e.metadata?.n), [13, 11, 9, 7, 5]);
    const asc = await queryPage(server.client, { filter: filterOf({ expression: 'event.metadata.n >= 20.0' }), order: QueryOrder.QUERY_ORDER_ASCENDING, limit: 100 });
    assert.deepEqual(asc.events.map((e) => e.metadata?.n), [20, 21, 22, 23, 24]);
    assert.equal(asc.next, '');
    await assert.rejects(queryPage(server.client, { pageToken: 'bogus' }), /page_token: is not a token/);
    await assert.rejects(queryPage(server.client, { limit: 20_000 }), /limit: is 20000, the most is 10000/);
  }));
