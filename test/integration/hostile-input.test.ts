import assert from 'node:assert/strict';
import { credentials, makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { test } from 'node:test';
import { QueryOrder } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import { readAll } from '../support/history.js';
import { startServer } from '../support/server.js';
import { WsClient } from '../support/ws-client.js';

const CLEAR_ERRORS = new Set([status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED]);

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
  timestamp: fc.option(fc.date({ min: new Date(0), max: new Date(4102444800000), noInvalidDate: true }), { nil: undefined }),
});

test('random and malformed publishes never crash the server, always get a clear answer, and what is acknowledged is stored unchanged', async () => {
  const server = await startServer({ audit: { publisher: { max_metadata_bytes: 4096 } } });
  const acknowledged = new Map<string, AuditEvent>();
  try {
    await fc.assert(fc.asyncProperty(eventArbitrary, async (fields) => {
      const event = AuditEvent.fromPartial(fields as Partial<AuditEvent>);
      try {
        const ack = await server.api.publish({ event });
        if (!ack.duplicate) acknowledged.set(ack.eventId, event);
      } catch (err) {
        const e = err as ServiceError;
        assert.ok(CLEAR_ERRORS.has(e.code), `status ${e.code}: ${e.details}`);
        assert.match(e.details, /^[a-z_.[\]0-9]+: /, 'the message names the field');
        assert.doesNotMatch(e.details, /\n\s+at /, 'no stack trace');
      }
    }), { numRuns: 300 });

    // Raw bytes that are not a PublishRequest at all.
    const Raw = makeGenericClientConstructor({
      publish: { path: '/audit.v1.AuditService/Publish', requestStream: false, responseStream: false,
        requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    }, 'Raw');
    const raw = new Raw(server.address, credentials.createInsecure()) as any;
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
      await new Promise<void>((resolve) => raw.publish(Buffer.from(bytes), (err: ServiceError | null) => {
        if (err) assert.ok([status.INVALID_ARGUMENT, status.INTERNAL].includes(err.code), `status ${err.code}`);
        resolve();
      }));
    }), { numRuns: 100 });
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
      for (const key of ['type', 'userId', 'entityType', 'entityId', 'action', 'result'] as const) assert.deepEqual(got[key], sent[key], key);
      assert.deepEqual(got.metadata ?? {}, JSON.parse(JSON.stringify(sent.metadata ?? {})));
      if (sent.timestamp) assert.equal(got.timestamp?.getTime(), sent.timestamp.getTime());
    }
  } finally {
    await server.close();
  }
});
