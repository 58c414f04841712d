import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import stringify from 'safe-stable-stringify';
import { EVENT_TYPES, RESULTS, type Severity } from '../../src/domain/catalog.js';
import { rfc3339 } from '../../src/domain/time.js';
import { canonicalEncoding, canonicalJson, commitment, type HashInput } from '../../src/store/hash-chain.js';

// The recipe as first written (safe-stable-stringify over the whole array, a Hash object per
// commitment): every hash already stored was made this way, so the fast path must write the same bytes.
function referenceEncoding(e: HashInput): string {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const commitments = Object.fromEntries(Object.entries(e.metadataCommitments).map(([k, v]) => [k, hex(v)]));
  return stringify([
    e.id, e.type, e.severity, rfc3339(e.timestamp, e.timestampSubMsNanos), e.userId, e.entityType, e.entityId, e.action,
    e.result, commitments, e.correlationId, e.source, e.traceparent, e.sequence, e.receivedAt.toISOString(), hex(e.previousHash),
  ])!;
}

// Strings with what JSON must escape: quotes, backslashes, control characters, lone surrogates.
const hostileString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '\u0000\u001f', '\ud800', 'a\udc00b', '\u2028'));
const key = fc.oneof(hostileString, fc.constantFrom('10', '9', '0', '__proto__', 'constructor'));
const bytes = fc.uint8Array({ minLength: 0, maxLength: 32 });

const hashInput: fc.Arbitrary<HashInput> = fc.record({
  id: hostileString, type: fc.constantFrom(...EVENT_TYPES), severity: fc.integer({ min: 1, max: 5 }).map((n) => n as Severity),
  timestamp: fc.date({ min: new Date(-62_135_596_800_000), max: new Date(253_402_300_799_999), noInvalidDate: true }),
  timestampSubMsNanos: fc.integer({ min: 0, max: 999_999 }), userId: hostileString, entityType: hostileString,
  entityId: hostileString, action: hostileString, result: fc.constantFrom(...RESULTS),
  metadataCommitments: fc.dictionary(key, bytes).map((d) => Object.assign(Object.create(null) as Record<string, Uint8Array>, d)),
  correlationId: hostileString, source: hostileString, traceparent: hostileString,
  sequence: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), receivedAt: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(253_402_300_799_999) }),
  previousHash: bytes,
});

test('the canonical encoding writes exactly what safe-stable-stringify wrote, for any field values', () => {
  fc.assert(fc.property(hashInput, (e) => {
    assert.equal(canonicalEncoding(e), referenceEncoding(e));
  }), { numRuns: 2_000 });
});

test('a commitment is SHA-256(salt || the value\'s canonical JSON), whatever the value', () => {
  fc.assert(fc.property(bytes, fc.jsonValue(), fc.oneof(hostileString, fc.double(), fc.boolean(), fc.constant(null)), (salt, nested, flat) => {
    for (const value of [nested, flat]) {
      const json = stringify(value) ?? 'null';
      assert.equal(canonicalJson(value), json);
      assert.deepEqual(commitment(salt, value), createHash('sha256').update(salt).update(json).digest());
    }
  }), { numRuns: 1_000 });
});
