import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { QueryResponse, SubscribeResponse } from '../../generated/audit/v1/audit_service.js';
import { toProtoEvent } from '../../src/contract/event-mapping.js';
import { Severity } from '../../src/domain/catalog.js';
import type { StoredAuditEvent } from '../../src/domain/event.js';
import { sealEvent } from '../../src/store/hash-chain.js';
import { eventsFrame, eventsFrames, QUERY_BATCH_TAG, sharedEventsFrames } from '../../src/transports/grpc/wire.js';

function stored(sequence: number, metadata: Record<string, unknown>): StoredAuditEvent {
  return sealEvent({
    id: `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`, type: 'PAYMENT_PROCESSED', severity: Severity.HIGH,
    timestamp: new Date(1_700_000_000_123), userId: 'u', entityType: 'payment', entityId: `p${sequence}`, action: 'charge',
    result: 'SUCCESS', metadata, correlationId: 'c', source: 's', traceparent: '',
  }, sequence, new Date(1_700_000_000_456), new Uint8Array(32));
}

test('a concatenated batch frame is byte for byte what ts-proto encodes', () => {
  for (const sizes of [[0], [1], [3], [200], [1, 20_000, 5]]) {
    // Metadata sizes chosen so event and batch lengths cross varint byte boundaries (128, 16384).
    const events = sizes.map((n, i) => stored(i + 1, n ? { blob: 'x'.repeat(n) } : {}));
    const expected = Buffer.from(SubscribeResponse.encode({ kind: { $case: 'events', events: { events: events.map(toProtoEvent) } } }).finish());
    assert.ok(eventsFrame(events).equals(expected), `sizes ${sizes}`);
    const query = Buffer.from(QueryResponse.encode({ kind: { $case: 'events', events: { events: events.map(toProtoEvent) } } }).finish());
    assert.ok(eventsFrame(events, QUERY_BATCH_TAG).equals(query), `Query, sizes ${sizes}`);
  }
  assert.ok(eventsFrame([]).equals(Buffer.from(SubscribeResponse.encode({ kind: { $case: 'events', events: { events: [] } } }).finish())));
});

test('large events are split over frames of at most 4 MiB, in order, each as ts-proto encodes it', () => {
  const events = Array.from({ length: 150 }, (_, i) => stored(i + 1, { blob: 'x'.repeat(60_000) }));
  const frames = eventsFrames(events);
  assert.ok(frames.length >= 3, `${frames.length} frames`);
  assert.ok(frames.every((f) => f.length <= 4 * 1024 * 1024), 'each under the 4 MiB default receive limit');
  const decoded = frames.flatMap((f) => {
    const m = SubscribeResponse.decode(f);
    return m.kind?.$case === 'events' ? m.kind.events.events.map((e) => e.sequence) : [];
  });
  assert.deepEqual(decoded, events.map((e) => e.sequence));
  assert.deepEqual(eventsFrames(events.slice(0, 3)), [eventsFrame(events.slice(0, 3))], 'small batches stay one frame');
});

test('subscribers sent the same events share one frame; any other batch gets its own', () => {
  const [a, b, c, d] = [1, 2, 3, 4].map((n) => stored(n, { n }));
  const frames = sharedEventsFrames([a!, b!, d!]);
  assert.equal(sharedEventsFrames([a!, b!, d!])[0], frames[0], 'the same events in a new array: the same Buffer');
  // Same first event and length, other events: what a subscriber with another filter is sent.
  assert.ok(sharedEventsFrames([a!, c!, d!])[0]!.equals(eventsFrame([a!, c!, d!])));
  assert.ok(sharedEventsFrames([a!, b!])[0]!.equals(eventsFrame([a!, b!])));
  // A copy of an event (redacted or re-cursored) is another object, however alike.
  const copy = { ...b!, metadata: {} };
  assert.ok(sharedEventsFrames([a!, copy, d!])[0]!.equals(eventsFrame([a!, copy, d!])));
  assert.ok(sharedEventsFrames([a!, b!, d!])[0]!.equals(eventsFrame([a!, b!, d!])), 'and the first batch is still right');
  assert.notEqual(eventsFrames([a!, b!, d!])[0], eventsFrames([a!, b!, d!])[0], 'Query frames are built for each page, never kept');
});
