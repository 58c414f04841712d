import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { fromTimestamp, toTimestamp } from '../../src/contract/time-mapping.js';
import type { NewAuditEvent } from '../../src/domain/event.js';
import { rfc3339 } from '../../src/domain/time.js';
import { canonicalEncoding, sealEvent } from '../../src/store/hash-chain.js';

test('RFC 3339 as the proto JSON mapping writes it: 3, 6 or 9 fractional digits', () => {
  const at = new Date('2025-01-31T12:00:00.120Z');
  assert.equal(rfc3339(at), '2025-01-31T12:00:00.120Z');
  assert.equal(rfc3339(at, 0), at.toISOString(), 'no sub-millisecond part: exactly toISOString, as hashed before');
  assert.equal(rfc3339(at, 5_000), '2025-01-31T12:00:00.120005Z');
  assert.equal(rfc3339(at, 1), '2025-01-31T12:00:00.120000001Z');
  assert.equal(rfc3339(at, 999_999), '2025-01-31T12:00:00.120999999Z');
});

test('Timestamp <-> Date and nanoseconds below the millisecond, before 1970 too', () => {
  for (const t of [{ seconds: 1_700_000_000, nanos: 123_456_789 }, { seconds: -1, nanos: 999_999_999 }, { seconds: -62_135_596_800, nanos: 0 }, { seconds: 0, nanos: 1 }]) {
    const { date, subMsNanos } = fromTimestamp(t);
    assert.deepEqual(toTimestamp(date, subMsNanos), t);
  }
  assert.deepEqual(fromTimestamp({ seconds: -1, nanos: 999_999_999 }), { date: new Date(-1), subMsNanos: 999_999 });
});

test('the chain covers the nanoseconds, and an event without them hashes as before', () => {
  const event: NewAuditEvent = {
    id: '00000000-0000-4000-8000-000000000001', type: 'CALL_CREATED', severity: 2, timestamp: new Date('2025-01-31T12:00:00.120Z'),
    userId: 'u', entityType: 'call', entityId: 'c', action: 'create', result: 'SUCCESS', metadata: {}, correlationId: '', source: '', traceparent: '',
  };
  const plain = sealEvent(event, 1, new Date(0), new Uint8Array(0));
  assert.ok(canonicalEncoding(plain).includes('"2025-01-31T12:00:00.120Z"'));
  assert.deepEqual(sealEvent({ ...event, timestampSubMsNanos: 0 }, 1, new Date(0), new Uint8Array(0)).hash, plain.hash);
  const precise = sealEvent({ ...event, timestampSubMsNanos: 7 }, 1, new Date(0), new Uint8Array(0));
  assert.ok(canonicalEncoding(precise).includes('"2025-01-31T12:00:00.120000007Z"'));
  assert.notDeepEqual(precise.hash, plain.hash);
});
