import assert from '../support/assert.js';
import { status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { test } from '@jest/globals';
import { PublishRequest, PublishResponse, QueryOrder } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import { readAll } from '../support/history.js';
import { RawClient } from '../support/raw-client.js';
import { startServer } from '../support/server.js';
import { WsClient } from '../support/ws-client.js';

const CLEAR_ERRORS = new Set([status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED]);

/** The call's response, or its error: assertions then run outside gRPC callbacks (a failure fails, never hangs). */
function settle<T>(call: Promise<T>): Promise<T | ServiceError> {
  return call.catch((err: ServiceError) => err);
}

/** Events from valid to hostile: unknown enums, bad ids, huge or deep metadata, odd unicode. */
const eventArbitrary = fc.record({
  id: fc.oneof(fc.constant(''), fc.uuid(), fc.string({ maxLength: 40 })),
  type: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: -3, max: 200 })),
  severity: fc.integer({ min: -2, max: 9 }),
  userId: fc.string({ maxLength: 300, unit: 'binary' }),
  entityType: fc.string({ maxLength: 20 }),
  entityId: fc.string({ maxLength: 40, unit: 'grapheme' }),
  action: fc.oneof(fc.constant(''), fc.string({ minLength: 1, maxLength: 20 })),
  result: fc.integer({ min: -1, max: 6 }),
  metadata: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 12 }), { maxKeys: 20 }), { nil: undefined }),
  timestamp: fc.option(fc.record({ seconds: fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }), nanos: fc.integer({ min: 0, max: 999_999_999 }) }), { nil: undefined }),
});

test('random and malformed publishes never crash the server, always get a clear answer, and what is acknowledged is stored unchanged', async () => {
  const server = await startServer({ audit: { publisher: { max_metadata_bytes: 4096 } } });
  const acknowledged = new Map<string, AuditEvent>();
  try {
    await fc.assert(fc.asyncProperty(eventArbitrary, async (fields) => {
      const event = AuditEvent.fromPartial(fields as Partial<AuditEvent>);
      try {
        const ack = await server.api.publish({ event });
        // What was sent is what went on the wire (the client's encoder may already replace lone surrogates).
        if (!ack.duplicate) acknowledged.set(ack.eventId, AuditEvent.decode(AuditEvent.encode(event).finish()));
      } catch (err) {
        const e = err as ServiceError;
        assert.ok(CLEAR_ERRORS.has(e.code), `status ${e.code}: ${e.details}`);
        assert.match(e.details, /^[a-z_.[\]0-9]+: /, 'the message names the field');
        assert.doesNotMatch(e.details, /\n\s+at /, 'no stack trace');
      }
    }), { numRuns: 300 });

    // Raw bytes that are not a PublishRequest at all: INVALID_ARGUMENT (never INTERNAL), or, for the
    // rare random bytes that happen to be a valid request, an answer of its own.
    const raw = new RawClient(server.address);
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
      const outcome = await settle(raw.unary('Publish', Buffer.from(bytes)));
      if (outcome instanceof Error) {
        assert.ok(CLEAR_ERRORS.has(outcome.code), `status ${outcome.code}: ${outcome.details}`);
        assert.doesNotMatch(outcome.details, /deserializ|\n\s+at /i);
      }
    }), { numRuns: 200 });

    // Valid requests with bytes flipped, cut or inserted: refused with INVALID_ARGUMENT, or stored
    // exactly as the bytes say (checked below with the other acknowledged events).
    const mutated = fc.tuple(eventArbitrary, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 3 }));
    await fc.assert(fc.asyncProperty(mutated, async ([fields, edits]) => {
      let bytes = Buffer.from(PublishRequest.encode({ event: AuditEvent.fromPartial(fields as Partial<AuditEvent>) }).finish());
      for (const [at, byte, kind] of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        if (kind === 'flip') bytes[i] = byte;
        else if (kind === 'cut') bytes = bytes.subarray(0, i);
        else bytes = Buffer.concat([bytes.subarray(0, i), Buffer.of(byte), bytes.subarray(i)]);
      }
      const outcome = await settle(raw.unary('Publish', bytes));
      if (outcome instanceof Error) {
        assert.ok(CLEAR_ERRORS.has(outcome.code), `status ${outcome.code}: ${outcome.details}`);
        assert.doesNotMatch(outcome.details, /deserializ|\n\s+at /i);
        return;
      }
      const ack = PublishResponse.decode(outcome);
      const sent = PublishRequest.decode(bytes).event!;
      if (!ack.duplicate) acknowledged.set(ack.eventId, sent);
    }), { numRuns: 300 });
    raw.close();

    // Hostile WebSocket frames get error frames; the connection stays open.
    const ws = await WsClient.open(server.httpUrl);
    const frames = fc.sample(fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'nope'), id: fc.anything(), filter: fc.anything() }).map((v) => JSON.stringify(v))), 60);
    frames.forEach((f) => ws.send(f));
    ws.send({ type: 'ping', id: 'still-open' });
    await ws.frame('pong', 'still-open');
    assert.equal(ws.closeCode, undefined);
    ws.socket.close();

    // Every acknowledged event is stored exactly as sent.
    const stored = new Map((await readAll(server.client, QueryOrder.QUERY_ORDER_ASCENDING)).map((e) => [e.id, e]));
    assert.ok(acknowledged.size > 0, 'the generator produced valid events too');
    for (const [id, sent] of acknowledged) {
      const got = stored.get(id)!;
      assert.ok(got, `acknowledged ${id} is stored`);
      for (const key of ['type', 'userId', 'entityType', 'entityId', 'action', 'result', 'correlationId', 'source'] as const) {
        assert.deepEqual(got[key], sent[key], key);
      }
      assert.deepEqual(got.metadata ?? {}, JSON.parse(JSON.stringify(sent.metadata ?? {})));
      // Nanoseconds included, over the whole range of a Timestamp.
      if (sent.timestamp) assert.deepEqual(got.timestamp, sent.timestamp, 'timestamp');
    }
  } finally {
    await server.close();
  }
});
