import assert from '../support/assert.js';
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { PublishBatchResponse, QueryOrder } from '../../generated/audit/v1/audit_service.js';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { readAll } from '../support/history.js';
import { deepStruct, double, entry, EVENT, eventBytes, len, num, value } from '../support/proto-bytes.js';
import { RawClient } from '../support/raw-client.js';
import { filterOf, makeEvent, startServer, StreamReader, type TestServer } from '../support/server.js';
import { toTimestamp } from '../../src/contract/time-mapping.js';

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

describe('bad input gets the right status and a message naming the problem', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ audit: { publisher: { max_metadata_bytes: 1024 } } });
  });
  afterAll(() => server.close());

  const publishCases: Array<[string, Parameters<typeof makeEvent>[0], string, RegExp]> = [
    ['missing type', { type: EventType.EVENT_TYPE_UNSPECIFIED }, 'event.type', /event\.type: is required/],
    ['unknown event type', { type: 999 as EventType }, 'event.type', /unknown event type 999/],
    ['unknown severity', { severity: 42 as Severity }, 'event.severity', /unknown severity 42/],
    ['bad UUID', { id: 'not-a-uuid' }, 'event.id', /"not-a-uuid" is not a UUID/],
    ['missing action', { action: '' }, 'event.action', /event\.action: is required/],
    ['metadata over the size limit', { metadata: { blob: 'x'.repeat(2000) } }, 'event.metadata', /event\.metadata: is \d+ bytes as JSON \(UTF-8\), the limit is 1024 bytes/],
    ['over-long string', { userId: 'u'.repeat(300) }, 'event.user_id', /event\.user_id: is 300 characters \(Unicode code points\), the limit is 256/],
  ];
  for (const [name, fields, field, message] of publishCases) {
    test(`Publish: ${name}`, async () => {
      const err = await rejection(server.api.publish({ event: makeEvent(fields) }));
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, message);
      assert.equal(err.metadata.get('invalid-field')[0], field);
    });
  }

  test('Publish: no event at all', async () => {
    const err = await rejection(server.api.publish({ event: undefined }));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /^event: is required/);
  });

  const subscribeCases: Array<[string, Parameters<typeof StreamReader.open>[1], RegExp]> = [
    ['bad CEL', { filter: filterOf({ expression: 'event.type ==' }) }, /filter\.expression: invalid CEL expression/],
    ['CEL that is not boolean', { filter: filterOf({ expression: '1 + 2' }) }, /filter\.expression: .*must evaluate to bool/],
    ['CEL over an unknown variable', { filter: filterOf({ expression: 'user.id == "x"' }) }, /filter\.expression: .*Unknown variable: user/],
    ['unknown event type in the filter', { filter: filterOf({ eventTypes: [EventType.EVENT_TYPE_CALL_CREATED, 777 as EventType] }) }, /filter\.event_types\[1\]: unknown event type 777/],
    ['time range backwards', { filter: filterOf({ timeRange: { start: toTimestamp(new Date(2000)), end: toTimestamp(new Date(1000)) } }) }, /filter\.time_range: start is after end/],
    ['after_sequence beyond the log', { afterSequence: 1_000_000 }, /after_sequence: 1000000 is beyond the last stored sequence/],
  ];
  for (const [name, request, message] of subscribeCases) {
    test(`Subscribe: ${name}`, async () => {
      const reader = StreamReader.open(server.client, request);
      const result = await reader.ended();
      assert.notEqual(result, 'OK');
      assert.equal((result as ServiceError).code, status.INVALID_ARGUMENT);
      assert.match((result as ServiceError).details, message);
      assert.equal(reader.messages.length, 0);
    });
  }

  test('unknown subscription id: NOT_FOUND on Unsubscribe and GetSubscriptionStats', async () => {
    for (const call of [server.api.unsubscribe('nope'), server.api.subscriptionStats('nope')]) {
      const err = await rejection(call);
      assert.equal(err.code, status.NOT_FOUND);
      assert.match(err.details, /subscription_id: no active subscription "nope"/);
    }
  });

  test('rejected publishes are counted and nothing was stored', async () => {
    const stats = await server.api.getStats();
    assert.equal(stats.eventsPublished, 0);
    assert.ok(stats.eventsFailed >= publishCases.length + 1);
  });
});

describe('acknowledged means stored exactly as sent, or refused: raw request bytes', () => {
  let server: TestServer;
  let raw: RawClient;
  beforeAll(async () => {
    server = await startServer();
    raw = new RawClient(server.address);
  });
  afterAll(async () => {
    raw.close();
    await server.close();
  });

  /** Publishes hand-built event bytes; resolves with the error status (the call must fail). */
  async function refused(...eventFields: Buffer[]): Promise<ServiceError> {
    return rejection(raw.unary('Publish', len(1, eventFields)));
  }

  const eventCases: Array<[string, Buffer[], string, RegExp]> = [
    ['invalid UTF-8 in a string field', [eventBytes('u1', len(EVENT.userId, Buffer.from([0x61, 0xff, 0x62])))], 'event.user_id', /^event\.user_id: is not valid UTF-8$/],
    ['an encoded surrogate (invalid UTF-8) in metadata', [eventBytes('u2', len(EVENT.metadata, [entry('note', [value.string(Buffer.from([0xed, 0xa0, 0xbd]))])]))], 'event.metadata.note', /^event\.metadata\.note: is not valid UTF-8$/],
    ['invalid UTF-8 in a metadata key', [eventBytes('u3', len(EVENT.metadata, [entry(Buffer.from([0x6b, 0xc3]), [value.bool(true)])]))], 'event.metadata', /^event\.metadata: a key is not valid UTF-8$/],
    ['timestamp nanos above 999,999,999', [eventBytes('t1', len(EVENT.timestamp, [num(1, 1_700_000_000), num(2, 1_000_000_000)]))], 'event.timestamp', /^event\.timestamp: nanos 1000000000 is outside 0\.\.999,999,999$/],
    ['negative timestamp nanos', [eventBytes('t2', len(EVENT.timestamp, [num(1, 1_700_000_000), num(2, -5)]))], 'event.timestamp', /^event\.timestamp: nanos -5 is outside/],
    ['timestamp seconds after 9999-12-31', [eventBytes('t3', len(EVENT.timestamp, [num(1, 253_402_300_800)]))], 'event.timestamp', /^event\.timestamp: seconds 253402300800 is outside the range of a timestamp/],
    ['timestamp seconds before 0001-01-01', [eventBytes('t4', len(EVENT.timestamp, [num(1, -62_135_596_801)]))], 'event.timestamp', /^event\.timestamp: seconds -62135596801 is outside the range/],
    ['timestamp seconds beyond 2^53', [eventBytes('t5', len(EVENT.timestamp, [num(1, 2n ** 62n)]))], 'event.timestamp', /^event\.timestamp: seconds 4611686018427387904 is outside/],
    ['a __proto__ metadata key', [eventBytes('p1', len(EVENT.metadata, [entry('__proto__', [value.struct([entry('admin', [value.bool(true)])])])]))], 'event.metadata.__proto__', /^event\.metadata\.__proto__: this key is not accepted$/],
    ['a nested __proto__ key with a scalar value', [eventBytes('p2', len(EVENT.metadata, [entry('a', [value.struct([entry('__proto__', [value.number(1)])])])]))], 'event.metadata.a.__proto__', /^event\.metadata\.a\.__proto__: this key is not accepted$/],
    ['a metadata Value with no kind', [eventBytes('k1', len(EVENT.metadata, [entry('keep', [value.bool(true)]), entry('foo', [])]))], 'event.metadata.foo', /^event\.metadata\.foo: value has no kind$/],
    ['a metadata entry with no value', [eventBytes('k2', len(EVENT.metadata, [entry('foo')]))], 'event.metadata.foo', /^event\.metadata\.foo: value has no kind/],
    ['a list element with no kind', [eventBytes('k3', len(EVENT.metadata, [entry('l', [value.list([[value.number(1)], []])])]))], 'event.metadata.l[1]', /^event\.metadata\.l\[1\]: value has no kind$/],
    ['a NaN metadata number', [eventBytes('k4', len(EVENT.metadata, [entry('n', [double(2, NaN)])]))], 'event.metadata.n', /^event\.metadata\.n: NaN is not a number JSON can hold$/],
    ['a metadata key sent twice', [eventBytes('k5', len(EVENT.metadata, [entry('k', [value.number(1)]), entry('k', [value.number(2)])]))], 'event.metadata.k', /^event\.metadata\.k: the key appears more than once$/],
    ['a Struct nested 300 levels deep', [eventBytes('d1', len(EVENT.metadata, deepStruct(300)))], 'event.metadata', /^event\.metadata: nests deeper than 100 protobuf messages$/],
    ['a Struct nested deeper than max_metadata_depth', [eventBytes('d2', len(EVENT.metadata, deepStruct(12)))], 'event.metadata', /^event\.metadata: nests deeper than 8 levels$/],
    ['an event type beyond 32 bits (would be truncated to CALL_CREATED)', [num(EVENT.type, 2n ** 32n + 1n), len(EVENT.action, 'x')], 'event.type', /^event\.type: 4294967297 is out of range for a 32-bit field$/],
    ['a string field sent twice', [eventBytes('s1', len(EVENT.userId, 'a'), len(EVENT.userId, 'b'))], 'event.user_id', /^event\.user_id: appears more than once$/],
    ['a string field sent as a number', [eventBytes('w1', num(EVENT.userId, 7))], 'event.user_id', /^event\.user_id: is not valid protobuf: sent as wire type varint, expected length-delimited/],
  ];
  for (const [name, fields, field, message] of eventCases) {
    test(`Publish: ${name} is INVALID_ARGUMENT naming ${field}`, async () => {
      const err = await refused(...fields);
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.match(err.details, message);
      assert.equal(err.metadata.get('invalid-field')[0], field);
    });
  }

  const requestCases: Array<[string, Buffer, RegExp]> = [
    ['truncated bytes', len(1, eventBytes('x1')).subarray(0, 12), /^the request is not a valid audit\.v1\.PublishRequest: .*truncated/],
    ['a length beyond the end', Buffer.from([0x0a, 0xff, 0x01, 0x10]), /^the request is not a valid audit\.v1\.PublishRequest: .*truncated: a length runs past the end/],
    ['the event sent as a number', num(1, 5), /^the request is not a valid audit\.v1\.PublishRequest: event: sent as wire type varint, expected length-delimited/],
    ['a group wire type', Buffer.from([0x7b, 0x7c]), /^the request is not a valid audit\.v1\.PublishRequest: .*groups are not supported/],
  ];
  for (const [name, bytes, message] of requestCases) {
    test(`Publish: ${name} is INVALID_ARGUMENT, not INTERNAL`, async () => {
      const err = await rejection(raw.unary('Publish', bytes));
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      assert.match(err.details, message);
    });
  }

  test('Subscribe and the other RPCs decode strictly too', async () => {
    const stream = await raw.serverStream('Subscribe', len(1, [len(7, [len(1, [num(2, 2_000_000_000)])])]));
    assert.equal(stream.code, status.INVALID_ARGUMENT);
    assert.equal(stream.details, 'filter.time_range.start: nanos 2000000000 is outside 0..999,999,999');
    const garbage = await raw.serverStream('Subscribe', Buffer.from([0x0a, 0x05, 0x22]));
    assert.equal(garbage.code, status.INVALID_ARGUMENT);
    assert.match(garbage.details, /^the request is not a valid audit\.v1\.SubscribeRequest: .*truncated/);
    const unsubscribe = await rejection(raw.unary('Unsubscribe', len(1, Buffer.from([0xff]))));
    assert.equal(unsubscribe.code, status.INVALID_ARGUMENT);
    assert.equal(unsubscribe.details, 'subscription_id: is not valid UTF-8');
    const query = await raw.serverStream('Query', num(3, 2n ** 33n));
    assert.equal(query.code, status.INVALID_ARGUMENT);
    assert.equal(query.details, 'limit: 8589934592 is out of range for a 32-bit field');
  });

  test('PublishBatch: a bad event is rejected on its own, the valid ones are stored as sent', async () => {
    const bytes = Buffer.concat([
      len(1, eventBytes('batch-ok-1', len(EVENT.metadata, [entry('k', [value.string('v')])]))),
      len(1, eventBytes('batch-bad', len(EVENT.metadata, [entry('__proto__', [value.number(1)])]))),
      len(1, eventBytes('batch-bad-2', len(EVENT.timestamp, [num(2, 1_000_000_000)]))),
      len(1, eventBytes('batch-ok-2')),
    ]);
    const response = PublishBatchResponse.decode(await raw.unary('PublishBatch', bytes));
    assert.equal(response.acceptedCount, 2);
    assert.equal(response.rejectedCount, 2);
    const errors = response.results.map((r) => (r.outcome?.$case === 'error' ? r.outcome.error : undefined));
    assert.equal(errors[0], undefined);
    assert.deepEqual(errors[1], { code: 'INVALID_ARGUMENT', message: 'events[1].metadata.__proto__: this key is not accepted', field: 'events[1].metadata.__proto__' });
    assert.deepEqual(errors[2], { code: 'INVALID_ARGUMENT', message: 'events[2].timestamp: nanos 1000000000 is outside 0..999,999,999', field: 'events[2].timestamp' });
    assert.equal(errors[3], undefined);
    const stored = (await readAll(server.client, QueryOrder.QUERY_ORDER_ASCENDING)).filter((e) => e.entityId.startsWith('batch-'));
    assert.deepEqual(stored.map((e) => e.entityId), ['batch-ok-1', 'batch-ok-2']);
    assert.deepEqual(stored[0].metadata, { k: 'v' });
  });

  test('after all that, a valid event still publishes (raw and typed)', async () => {
    const ack = await raw.unary('Publish', len(1, eventBytes('still-ok', len(EVENT.timestamp, [num(1, 1_700_000_000), num(2, 5_000_000)]))));
    assert.ok(ack.length > 0);
    const typed = await server.api.publish({ event: makeEvent({ entityId: 'still-ok-typed' }) });
    assert.equal(typed.duplicate, false);
    const stored = (await readAll(server.client, QueryOrder.QUERY_ORDER_ASCENDING)).find((e) => e.entityId === 'still-ok');
    assert.deepEqual(stored?.timestamp, { seconds: 1_700_000_000, nanos: 5_000_000 });
  });

  test('metadata keys named like Object.prototype members round-trip exactly', async () => {
    const metadata = {
      constructor: 'c', toString: 1, hasOwnProperty: true, valueOf: null, isPrototypeOf: [1, 'two'],
      nested: { constructor: { prototype: 'p' }, __defineGetter__: 'g', propertyIsEnumerable: {} },
    };
    const event = makeEvent({ entityId: 'proto-names', metadata });
    const ack = await server.api.publish({ event });
    const stored = (await readAll(server.client, QueryOrder.QUERY_ORDER_ASCENDING)).find((e) => e.id === ack.eventId);
    assert.ok(stored);
    assert.deepEqual(stored.metadata, metadata);
    assert.deepEqual(Object.keys(stored.metadata!).sort(), Object.keys(metadata).sort()); // a Struct is a map: order is not kept
    assert.equal(Object.getPrototypeOf(stored.metadata), Object.prototype);
  });

  test('string limits count characters (code points), not UTF-16 units', async () => {
    const emoji = '\u{1F600}'; // one character, two UTF-16 units, four UTF-8 bytes
    const ack = await server.api.publish({ event: makeEvent({ entityId: 'emoji', userId: emoji.repeat(256) }) });
    const stored = (await readAll(server.client, QueryOrder.QUERY_ORDER_ASCENDING)).find((e) => e.id === ack.eventId);
    assert.equal(stored?.userId, emoji.repeat(256));
    const err = await rejection(server.api.publish({ event: makeEvent({ userId: emoji.repeat(257) }) }));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.equal(err.details, 'event.user_id: is 257 characters (Unicode code points), the limit is 256');
  });

  test('nothing refused was stored', async () => {
    const stored = await readAll(server.client, QueryOrder.QUERY_ORDER_ASCENDING);
    const refusedIds = new Set(['u1', 'u2', 'u3', 't1', 't2', 't3', 't4', 't5', 'p1', 'p2', 'k1', 'k2', 'k3', 'k4', 'k5', 'd1', 'd2', 's1', 'w1', 'x1', 'batch-bad', 'batch-bad-2']);
    assert.deepEqual(stored.filter((e) => refusedIds.has(e.entityId) || e.entityId === '').map((e) => e.entityId), []);
  });
});
