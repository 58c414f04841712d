import assert from '../support/assert.js';
import { test } from '@jest/globals';
import fc from 'fast-check';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import { encodeStoredEvent } from '../../src/contract/event-encoding.js';
import { toProtoEvent } from '../../src/contract/event-mapping.js';
import { EVENT_TYPES, RESULTS, type Severity } from '../../src/domain/catalog.js';
import type { StoredAuditEvent } from '../../src/domain/event.js';

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
