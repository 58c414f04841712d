import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import stringify from 'safe-stable-stringify';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import { decodeStoredEvent } from '../../src/contract/event-decoding.js';
import { encodeDraft, encodedEvent, encodeStoredEvent, placedEncoding, rememberEncoding } from '../../src/contract/event-encoding.js';
import { toProtoEvent } from '../../src/contract/event-mapping.js';
import { EVENT_TYPES, RESULTS, type Severity } from '../../src/domain/catalog.js';
import type { StoredAuditEvent } from '../../src/domain/event.js';
import { normalizedMetadata } from '../../src/store/sqlite-append.js';

const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', '\ud800', 'a\udc00b', 'x'.repeat(300)));
const key = fc.oneof(text, fc.constantFrom('10', '9', '__proto__', 'constructor'));
const bytes = fc.uint8Array({ maxLength: 40 });
const keyedBytes = fc.dictionary(key, bytes).map((d) => Object.assign(Object.create(null) as Record<string, Uint8Array>, d));
// Metadata as it arrives decoded or parsed: JSON values of any depth, long strings and lists
// (lengths past 127 take a two-byte length), numbers of every kind.
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double(), fc.integer(), text,
    fc.array(tie('value'), { maxLength: 40 }), tie('object')),
  object: fc.dictionary(key, tie('value'), { maxKeys: 8 }),
}));
const date = fc.date({ min: new Date(-62_135_596_800_000), max: new Date(253_402_300_799_999), noInvalidDate: true });

const storedEvent: fc.Arbitrary<StoredAuditEvent> = fc.record({
  id: text, type: fc.constantFrom(...EVENT_TYPES), severity: fc.integer({ min: 1, max: 5 }).map((n) => n as Severity),
  timestamp: date, timestampSubMsNanos: fc.integer({ min: 0, max: 999_999 }), userId: text, entityType: text, entityId: text,
  action: text, result: fc.constantFrom(...RESULTS), metadata: json.object as fc.Arbitrary<Record<string, unknown>>,
  correlationId: text, source: text, traceparent: text, sequence: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  receivedAt: date, previousHash: bytes, hash: bytes, metadataCommitments: keyedBytes, metadataSalts: keyedBytes,
  cursor: fc.option(text, { nil: undefined }),
});

test('a stored event encodes to exactly the bytes ts-proto makes of it', () => {
  fc.assert(fc.property(storedEvent, (e) => {
    const expected = Buffer.from(AuditEvent.encode(toProtoEvent(e)).finish());
    assert.deepEqual(encodeStoredEvent(e), expected);
  }), { numRuns: 3_000 });
});

test('a large event (metadata of 100 KB) encodes the same way', () => {
  const e = fc.sample(storedEvent, { numRuns: 1, seed: 7 })[0]!;
  const big = { ...e, metadata: { blob: 'y'.repeat(100_000), list: Array.from({ length: 5_000 }, (_, i) => i) } };
  assert.deepEqual(encodeStoredEvent(big), Buffer.from(AuditEvent.encode(toProtoEvent(big)).finish()));
});

test('the encoding made at ingest, before the event has a place, is the stored event\'s once the place is put in', () => {
  fc.assert(fc.property(storedEvent, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (e, sequence) => {
    const stored = { ...e, sequence, receivedAt: new Date(e.receivedAt.getTime()), cursor: undefined };
    const placed = placedEncoding(encodeDraft(stored), sequence, stored.receivedAt.getTime(), stored.previousHash, stored.hash);
    assert.deepEqual(placed, encodeStoredEvent(stored));
  }), { numRuns: 1_000 });
});

/**
 * Metadata as the log stores it: JSON values (what JSON.parse(canonical JSON) gives back), no `__proto__`
 * key; strings well formed, as ingest requires (a lone surrogate has no UTF-8 form).
 */
/** No lone surrogate: the text survives UTF-8. */
const wellFormedText = (t: string): boolean => Buffer.from(t, 'utf8').toString('utf8') === t;
const wellFormed = (v: unknown): boolean => (typeof v === 'string' ? wellFormedText(v)
  : typeof v === 'object' && v !== null ? Object.entries(v).every(([k, x]) => wellFormedText(k) && wellFormed(x)) : true);
const storedMetadata = json.object.filter(wellFormed).map((m) => JSON.parse(JSON.stringify(m, (k, v: unknown) => (k === '__proto__' ? undefined : v))) as Record<string, unknown>);

test('stored bytes decode back to the event they were made of', () => {
  const event = fc.record({ e: storedEvent, metadata: storedMetadata, sequence: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) })
    .filter(({ e }) => [e.id, e.userId, e.entityType, e.entityId, e.action, e.correlationId, e.source, e.traceparent, ...Object.keys(e.metadataSalts), ...Object.keys(e.metadataCommitments)].every(wellFormedText))
    .map(({ e: { cursor: _cursor, ...e }, metadata, sequence }) => ({ ...e, metadata, sequence, previousHash: Buffer.from(e.previousHash), hash: Buffer.from(e.hash) }));
  fc.assert(fc.property(event, (e) => {
    const decoded = decodeStoredEvent(encodeStoredEvent(e));
    assert.deepEqual({ ...decoded, metadataSalts: { ...decoded.metadataSalts }, metadataCommitments: { ...decoded.metadataCommitments } },
      { ...e, metadataSalts: plain(e.metadataSalts), metadataCommitments: plain(e.metadataCommitments) });
  }), { numRuns: 2_000 });
});

test('stored bytes that encodeStoredEvent does not make are refused, not guessed at', () => {
  const e = fc.sample(storedEvent, { numRuns: 1, seed: 3 })[0]!;
  const good = encodeStoredEvent({ ...e, metadata: {}, cursor: undefined });
  assert.throws(() => decodeStoredEvent(good.subarray(0, good.length - 1)), /stored event/);
  assert.throws(() => decodeStoredEvent(Buffer.concat([good, Buffer.from([21 << 3, 1])])), /unknown field 21/);
  assert.throws(() => decodeStoredEvent(Buffer.concat([good, Buffer.from([(2 << 3) | 0, 0x7f])])), /unknown event type 127/);
  const proto = Buffer.from(AuditEvent.encode({ ...AuditEvent.fromPartial({}), metadata: undefined }).finish());
  assert.throws(() => decodeStoredEvent(proto), /cursor "" is not its sequence 0/);
  assert.throws(() => decodeStoredEvent(encodeStoredEvent({ ...e, metadata: {}, sequence: 7, cursor: '8' })), /cursor "8" is not its sequence 7/);
  const typeless = Buffer.from(AuditEvent.encode({ ...AuditEvent.fromPartial({ sequence: 3, cursor: '3' }), metadata: undefined }).finish());
  assert.throws(() => decodeStoredEvent(typeless), /unknown event type 0/);
});

function plain(bytes: Record<string, Uint8Array>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(bytes).map(([k, v]) => [k, Buffer.from(v)]));
}

test('an event keeps the bytes it was stored with; a copy made from it (redacted, re-cursored) never does', () => {
  const e = fc.sample(storedEvent, { numRuns: 1, seed: 11 })[0]!;
  const stored = encodeStoredEvent(e);
  rememberEncoding(e, stored);
  assert.equal(encodedEvent(e), stored, 'the stored bytes, not a new encoding');
  const redacted = { ...e, metadata: { masked: '***' } };
  assert.deepEqual(Buffer.from(encodedEvent(redacted)), encodeStoredEvent(redacted));
  assert.notDeepEqual(Buffer.from(encodedEvent(redacted)), stored);
  assert.deepEqual(Object.keys(e), Object.keys(redacted), 'the bytes are not an enumerable field of the event');
});

test('metadata is normalized exactly as its round trip through sorted-key JSON, flat or not', () => {
  const flat = fc.dictionary(key, fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), text), { maxKeys: 8 });
  fc.assert(fc.property(fc.oneof(flat, json.object as fc.Arbitrary<Record<string, unknown>>), (metadata) => {
    const expected = JSON.parse(stringify(metadata) ?? '{}') as Record<string, unknown>;
    const normalized = normalizedMetadata(metadata);
    // Same values (-0 and 0 told apart), same own keys (`__proto__` included) in the same order.
    return isDeepStrictEqual(normalized, expected) && JSON.stringify(Object.keys(normalized)) === JSON.stringify(Object.keys(expected))
      && normalized !== metadata;
  }), { numRuns: 2000 });
  assert.deepEqual(Object.keys(normalizedMetadata({ b: 1, a: 'x', 10: true, 9: null })), ['9', '10', 'a', 'b']);
  assert.ok(Object.is(normalizedMetadata({ n: -0 }).n, 0));
});
