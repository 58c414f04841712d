import assert from '../support/assert.js';
import { status, type ServiceError } from '@grpc/grpc-js';
import { test } from '@jest/globals';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { GatedLog } from '../support/gated-log.js';
import { makeEvent, publish, startServer, StreamReader, api, waitFor } from '../support/server.js';

async function laneSizes(client: Awaited<ReturnType<typeof startServer>>['client']) {
  const stats = await api(client).getStats();
  return Object.fromEntries(stats.lanes.map((l) => [l.name, l.size]));
}

test('a critical event is stored and delivered ahead of regular events queued before it', async () => {
  const log = new GatedLog();
  const server = await startServer({}, { eventLog: log });
  try {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    log.hold();
    // Two appends are in flight at most: r0 and r1 each start one (held), the rest wait in the lanes.
    const first = publish(server.client, { entityId: 'r0' });
    await waitFor('the first append to start', () => log.appendCalls >= 1);
    const second = publish(server.client, { entityId: 'r1' });
    await waitFor('the second append to start', () => log.appendCalls >= 2);
    const regular = [2, 3, 4, 5, 6].map((i) => publish(server.client, { entityId: `r${i}` }));
    await waitFor('5 regular events queued', async () => (await laneSizes(server.client)).regular === 5);
    const critical = publish(server.client, { entityId: 'crit', type: EventType.EVENT_TYPE_SECURITY_BREACH, severity: Severity.SEVERITY_CRITICAL });
    await waitFor('the critical event queued', async () => (await laneSizes(server.client)).critical === 1);
    log.open();
    await Promise.all([first, second, critical, ...regular]);
    const order = (await reader.eventsUntil(8)).map((e) => e.entityId);
    assert.deepEqual(order, ['r0', 'r1', 'crit', 'r2', 'r3', 'r4', 'r5', 'r6']);
    assert.ok((await critical).sequence < (await regular[0]).sequence);
    assert.equal(log.appendCalls, 3, 'the queued events went into one group commit, the critical one first');
  } finally {
    await server.close();
  }
});

test('a flood beyond the queue limit gets RESOURCE_EXHAUSTED and every acknowledged event is delivered', async () => {
  const log = new GatedLog();
  const server = await startServer({ audit: { publisher: { max_queue_depth: 10, backpressure_delay: 20, append_batch_size: 10 } } }, { eventLog: log });
  try {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    log.hold();
    const attempts = Array.from({ length: 40 }, (_, i) => publish(server.client, { entityId: `flood-${i}` }));
    // One batch of 10 is in the held append and 10 fill the lane; the other 20 wait 20 ms and give up.
    const rejectedFirst = await Promise.race(attempts.map((p) => p.then(() => undefined, (err: ServiceError) => err)));
    log.open();
    const results = await Promise.allSettled(attempts);
    const acked = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as ServiceError);
    assert.equal(rejectedFirst?.code, status.RESOURCE_EXHAUSTED);
    assert.ok(rejected.length >= 1 && acked.length >= 20, `acked ${acked.length}, rejected ${rejected.length}`);
    for (const err of rejected) {
      assert.equal(err.code, status.RESOURCE_EXHAUSTED);
      assert.match(err.details, /regular ingest queue is full/);
      assert.equal(err.metadata.get('retry-after-ms')[0], '20');
    }
    const delivered = await reader.eventsUntil(acked.length);
    assert.deepEqual(delivered.map((e) => e.id).sort(), acked.map((a) => a.eventId).sort());
    const stats = await server.api.getStats();
    assert.equal(stats.eventsPublished, acked.length);
    assert.equal(stats.eventsFailed, rejected.length);
    assert.equal(stats.eventsDropped, 0);
  } finally {
    await server.close();
  }
});

test('PublishBatch stores the valid events and names the invalid ones', async () => {
  const server = await startServer();
  try {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    const events = [
      makeEvent({ entityId: 'ok-1' }),
      makeEvent({ type: EventType.EVENT_TYPE_UNSPECIFIED }),
      makeEvent({ entityId: 'ok-2', id: '6f1c1d52-3a52-4a8e-9d0e-2f4a3c1b0a99' }),
      makeEvent({ id: 'not-a-uuid' }),
      makeEvent({ entityId: 'dup', id: '6f1c1d52-3a52-4a8e-9d0e-2f4a3c1b0a99' }),
    ];
    const res = await server.api.publishBatch({ events });
    assert.equal(res.acceptedCount, 3);
    assert.equal(res.rejectedCount, 2);
    const [ok1, badType, ok2, badId, dup] = res.results;
    assert.equal(ok1.outcome?.$case, 'stored');
    assert.deepEqual(badType.outcome?.$case === 'error' && [badType.outcome.error.code, badType.outcome.error.field], ['INVALID_ARGUMENT', 'events[1].type']);
    assert.deepEqual(badId.outcome?.$case === 'error' && [badId.outcome.error.code, badId.outcome.error.field], ['INVALID_ARGUMENT', 'events[3].id']);
    assert.ok(ok2.outcome?.$case === 'stored' && dup.outcome?.$case === 'stored');
    assert.equal(dup.outcome.stored.duplicate, true);
    assert.equal(dup.outcome.stored.sequence, ok2.outcome.stored.sequence);
    assert.deepEqual((await reader.eventsUntil(2)).map((e) => e.entityId), ['ok-1', 'ok-2']);
    const stats = await server.api.getStats();
    assert.deepEqual([stats.eventsPublished, stats.duplicates, stats.eventsFailed], [2, 1, 2]);
  } finally {
    await server.close();
  }
});

test('ids the server draws are time-ordered UUIDv7s, each after the one drawn before', async () => {
  const server = await startServer({});
  try {
    const before = Date.now();
    const batch = await server.api.publishBatch({ events: Array.from({ length: 50 }, () => makeEvent()) });
    const single = await publish(server.client, {});
    const after = Date.now();
    const ids = [...batch.results.map((r) => r.eventId), single.eventId];
    assert.equal(ids.length, 51);
    for (const id of ids) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const drawnAt = parseInt(id.replaceAll('-', '').slice(0, 12), 16); // the first 48 bits: Unix ms
      assert.ok(drawnAt >= before && drawnAt <= after, `${id} drawn at ${drawnAt}, published within ${before}..${after}`);
    }
    assert.deepEqual([...ids].sort(), ids, 'in the order drawn');
  } finally {
    await server.close();
  }
});
