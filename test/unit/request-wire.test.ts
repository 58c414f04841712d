import assert from '../support/assert.js';
import path from 'node:path';
import { describe, test } from '@jest/globals';
import { AuditServiceService, PublishBatchRequest, PublishRequest } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import { toNewEvent } from '../../src/contract/event-mapping.js';
import { wireProblemOf } from '../../src/contract/wire-problem.js';
import { InvalidRequest, withCheckedRequests } from '../../src/transports/grpc/request-decoding.js';
import { deepStruct, double, entry, EVENT, eventBytes, len, num, tag, value, varint } from '../support/proto-bytes.js';

const { definition } = withCheckedRequests(AuditServiceService, {}, {
  root: path.resolve(import.meta.dirname, '../../proto'), files: ['audit/v1/audit_service.proto'], service: 'audit.v1.AuditService',
});
const decodePublish = definition.publish.requestDeserialize as (b: Buffer) => PublishRequest | InvalidRequest;
const decodeBatch = definition.publishBatch.requestDeserialize as (b: Buffer) => PublishBatchRequest | InvalidRequest;

/** The problem toNewEvent would report for a Publish of these event fields: "field: message". */
function eventProblem(...fields: Buffer[]): string {
  const request = decodePublish(len(1, fields));
  assert.ok(!(request instanceof InvalidRequest), `request-level: ${request instanceof InvalidRequest ? request.error.message : ''}`);
  const problem = wireProblemOf(request.event!);
  assert.ok(problem, 'the event carries a problem');
  return `${problem.path}: ${problem.message}`;
}

function requestError(bytes: Buffer): string {
  const request = decodePublish(bytes);
  assert.ok(request instanceof InvalidRequest, 'refused as a whole');
  return request.error.message;
}

describe('request bytes are checked before ts-proto decodes them', () => {
  test('valid bytes decode exactly as ts-proto decodes them', () => {
    const event = AuditEvent.fromPartial({
      type: 1, action: 'create', entityId: 'é-🙂', timestamp: { seconds: 1_700_000_000, nanos: 123_456_789 },
      metadata: { constructor: 1, toString: 'x', hasOwnProperty: [true, null, { a: 'ü' }], nested: { deep: { er: -2.5 } } },
    });
    const bytes = Buffer.from(PublishRequest.encode({ event }).finish());
    const decoded = decodePublish(bytes);
    assert.ok(!(decoded instanceof InvalidRequest));
    assert.deepEqual(decoded, PublishRequest.decode(bytes));
    assert.equal(wireProblemOf(decoded.event!), undefined);
  });

  test('truncated, wrong wire types and malformed numbers are refused as a whole, never thrown', () => {
    const good = Buffer.from(PublishRequest.encode({ event: AuditEvent.fromPartial({ type: 1, action: 'x' }) }).finish());
    for (let cut = 1; cut < good.length; cut++) {
      const result = decodePublish(good.subarray(0, cut));
      assert.ok(result instanceof InvalidRequest, `cut at ${cut}`);
      assert.match(result.error.message, /^the request is not a valid audit\.v1\.PublishRequest: .*truncated/);
    }
    assert.match(requestError(Buffer.concat([tag(1, 0), varint(5)])), /event: sent as wire type varint, expected length-delimited/);
    assert.match(requestError(Buffer.from([0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /malformed number/);
    assert.match(requestError(Buffer.from([0x7b])), /groups are not supported/); // field 15, start-group
    assert.match(requestError(Buffer.from([0x00])), /field number 0/);
  });

  test('problems inside an event are the event\'s own, with the field named', () => {
    assert.equal(eventProblem(eventBytes('e', len(EVENT.userId, Buffer.from([0x75, 0xff, 0xfe])))), 'user_id: is not valid UTF-8');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.timestamp, [num(1, 1), num(2, 1_000_000_000)]))), 'timestamp: nanos 1000000000 is outside 0..999,999,999');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.timestamp, [num(2, -1)]))), 'timestamp: nanos -1 is outside 0..999,999,999');
    assert.match(eventProblem(eventBytes('e', len(EVENT.timestamp, [num(1, 253_402_300_800)]))), /^timestamp: seconds 253402300800 is outside the range of a timestamp/);
    assert.match(eventProblem(eventBytes('e', len(EVENT.timestamp, [num(1, -62_135_596_801)]))), /^timestamp: seconds -62135596801 is outside/);
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('__proto__', [value.struct([entry('x', [value.number(1)])])])]))), 'metadata.__proto__: this key is not accepted');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('ok', [value.struct([entry('__proto__', [value.bool(true)])])])]))), 'metadata.ok.__proto__: this key is not accepted');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('foo', [])]))), 'metadata.foo: value has no kind');
    assert.match(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('foo')]))), /^metadata\.foo: value has no kind/);
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('l', [value.list([[value.null()], []])])]))), 'metadata.l[1]: value has no kind');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('n', [double(2, NaN)])]))), 'metadata.n: NaN is not a number JSON can hold');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('two', [value.bool(true), value.string('x')])]))), 'metadata.two: value has more than one kind');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('k', [value.bool(true)]), entry('k', [value.bool(false)])]))), 'metadata.k: the key appears more than once');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry(Buffer.from([0xc3]), [value.bool(true)])]))), 'metadata: a key is not valid UTF-8');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('s', [value.string(Buffer.from([0xed, 0xa0, 0x80]))])]))), 'metadata.s: is not valid UTF-8');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, [entry('ü-ñ', [value.string(Buffer.from([0xff]))])]))), 'metadata["\\u00fc-\\u00f1"]: is not valid UTF-8');
    assert.equal(eventProblem(num(EVENT.type, 2n ** 32n + 1n), len(EVENT.action, 'x')), 'type: 4294967297 is out of range for a 32-bit field');
    assert.equal(eventProblem(eventBytes('e', num(14, 2n ** 60n))), 'sequence: 1152921504606846976 is beyond 9007199254740991, the largest supported magnitude');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.userId, 'a'), len(EVENT.userId, 'b'))), 'user_id: appears more than once');
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, deepStruct(300)))), 'metadata: nests deeper than 100 protobuf messages');
  });

  test('the deepest nesting ts-proto accepts passes; one level more is refused, not thrown', () => {
    // PublishRequest(1) > AuditEvent(2) > Struct(3) > entry(4) > Value(5) > Struct(6)...: Struct n at 3n.
    const atLimit = decodePublish(len(1, eventBytes('e', len(EVENT.metadata, deepStruct(32)))));
    assert.ok(!(atLimit instanceof InvalidRequest));
    assert.equal(wireProblemOf(atLimit.event!), undefined);
    assert.equal(eventProblem(eventBytes('e', len(EVENT.metadata, deepStruct(33)))), 'metadata: nests deeper than 100 protobuf messages');
  });

  test('in a batch only the bad event is marked; the others decode as sent, in place', () => {
    const bytes = Buffer.concat([
      len(1, eventBytes('first')),
      len(1, eventBytes('bad', len(EVENT.userId, Buffer.from([0xc0, 0x80])))),
      len(1, eventBytes('third', len(EVENT.metadata, [entry('k', [value.string('v')])]))),
    ]);
    const batch = decodeBatch(bytes);
    assert.ok(!(batch instanceof InvalidRequest));
    assert.deepEqual(batch.events.map((e) => e.entityId), ['first', '', 'third']);
    assert.deepEqual(batch.events.map((e) => wireProblemOf(e)?.path), [undefined, 'user_id', undefined]);
    assert.deepEqual(batch.events[2].metadata, { k: 'v' });
  });

  test('every request type is checked: out-of-range numbers and invalid UTF-8 name the field', () => {
    const subscribe = definition.subscribe.requestDeserialize as (b: Buffer) => unknown;
    const result = subscribe(Buffer.concat([len(1, [len(4, Buffer.from([0xff]))])]));
    assert.ok(result instanceof InvalidRequest);
    assert.equal(result.error.message, 'filter.entity_types[0]: is not valid UTF-8');
    const packed = subscribe(len(1, [len(1, Buffer.concat([varint(1), varint(2n ** 40n)]))]));
    assert.ok(packed instanceof InvalidRequest);
    assert.equal(packed.error.message, 'filter.event_types[1]: 1099511627776 is out of range for a 32-bit field');
    const range = subscribe(len(1, [len(7, [len(1, [num(2, 2_000_000_000)])])]));
    assert.ok(range instanceof InvalidRequest);
    assert.equal(range.error.message, 'filter.time_range.start: nanos 2000000000 is outside 0..999,999,999');
    const after = subscribe(num(2, 2n ** 64n - 1n));
    assert.ok(after instanceof InvalidRequest);
    assert.match(after.error.message, /^after_sequence: 18446744073709551615 is beyond/);
  });
});

test('metadata that did not come over the wire is held to the same rules by toNewEvent', () => {
  const limits = { maxStringLength: 256, maxMetadataBytes: 65_536, maxMetadataDepth: 8, maxMetadataKeys: 512, maxFilterValues: 1000, maxBatchEvents: 1000 };
  const refused = (metadata: unknown): string => {
    const event = AuditEvent.fromPartial({ type: 1, action: 'x' });
    event.metadata = metadata as AuditEvent['metadata'];
    try {
      toNewEvent(event, limits, new Date());
    } catch (err) {
      assert.equal((err as Error).name, 'AppError');
      return (err as Error).message;
    }
    return assert.fail('expected the event to be refused');
  };
  assert.equal(refused(JSON.parse('{"a":{"__proto__":{"x":1}}}')), 'event.metadata.a.__proto__: this key is not accepted');
  assert.equal(refused({ n: [1, Number.NaN] }), 'event.metadata.n[1]: NaN is not a number JSON can hold');
  assert.equal(refused({ u: undefined }), 'event.metadata.u: value has no kind');
  const ok = AuditEvent.fromPartial({ type: 1, action: 'x', userId: '\u{1F600}'.repeat(256) });
  assert.equal(toNewEvent(ok, limits, new Date()).userId.length, 512);
});
