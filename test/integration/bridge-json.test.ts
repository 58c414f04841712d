import assert from '../support/assert.js';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { createFileRegistry, type DescMessage, fromBinary, fromJson, type JsonValue, ScalarType, toJson } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Checkpoint, GapNotice, Heartbeat, SubscriptionStarted } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType, Result, Severity } from '../../generated/audit/v1/event.js';
import type { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { makeEvent, startServer, StreamReader, waitFor } from '../support/server.js';
import { SseClient } from '../support/sse-client.js';
import { WsClient } from '../support/ws-client.js';
import { toTimestamp } from '../../src/contract/time-mapping.js';

// The bridges promise canonical proto3 JSON, "as grpcurl shows it". This checks it with a parser that
// shares nothing with the server's encoder: @bufbuild/protobuf, fed the descriptors server reflection
// serves. Each bridge message must parse strictly (unknown fields refused), say the same as what gRPC
// delivered for the same thing, and already be in canonical form: 64-bit integers as strings.

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fs.readFileSync('generated/audit/v1/descriptor.binpb')));
const schema = (name: string): DescMessage => {
  const desc = registry.getMessage(`audit.v1.${name}`);
  assert.ok(desc, `audit.v1.${name} is in the descriptor set`);
  return desc;
};
const S = {
  AuditEvent: schema('AuditEvent'), SubscriptionStarted: schema('SubscriptionStarted'), Heartbeat: schema('Heartbeat'),
  GapNotice: schema('GapNotice'), Checkpoint: schema('Checkpoint'),
};

const INT64 = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);

/** Fails unless every 64-bit integer field of `json` (a message of `desc`, nested ones too) is a decimal string. */
function assertInt64Strings(desc: DescMessage, json: unknown, where: string): void {
  const o = json as Record<string, unknown>;
  for (const field of desc.fields) {
    const value = o[field.jsonName];
    if (value === undefined) continue;
    const at = `${where}.${field.jsonName}`;
    if ((field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar')) && INT64.has(field.scalar)) {
      for (const v of field.fieldKind === 'list' ? (value as unknown[]) : [value]) {
        assert.equal(typeof v, 'string', `${at} is a 64-bit integer: canonical proto JSON writes it as a string, got ${JSON.stringify(v)}`);
        assert.match(v as string, /^-?\d+$/, at);
      }
    } else if (field.fieldKind === 'message' && !field.message.typeName.startsWith('google.protobuf.')) {
      assertInt64Strings(field.message, value, at);
    }
  }
}

/** RFC 3339 strings as one spelling (canonical JSON may print 0, 3, 6 or 9 fractional digits). */
function sameTimes(json: unknown): unknown {
  if (typeof json === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(json)) return new Date(json).toISOString();
  if (Array.isArray(json)) return json.map(sameTimes);
  if (json !== null && typeof json === 'object') return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, sameTimes(v)]));
  return json;
}

/**
 * A bridge message (without the WebSocket frame's own `type` and `id`) checked as canonical proto JSON
 * of `desc`; returns its canonical JSON (default toJson options) to compare with gRPC's.
 */
function canonicalFromBridge(desc: DescMessage, raw: Record<string, unknown>, where: string): JsonValue {
  const message = fromJson(desc, raw as JsonValue); // strict: an unknown field throws
  const canonical = toJson(desc, message);
  assertInt64Strings(desc, raw, where);
  // Nothing but spelling of times may differ from what the independent encoder writes (defaults aside:
  // a cursor of 0 is printed on purpose, and not here since every subscription below starts after 5).
  assert.deepEqual(sameTimes(raw), sameTimes(canonical), `${where} is canonical proto JSON`);
  return canonical;
}

/** What gRPC delivered, through the same independent library: binary from ts-proto, JSON from @bufbuild. */
function canonicalFromGrpc(desc: DescMessage, bytes: Uint8Array): JsonValue {
  return toJson(desc, fromBinary(desc, bytes));
}

const withoutFrameKeys = ({ type: _type, id: _id, ...rest }: Record<string, unknown>): Record<string, unknown> => rest;
const drop = (json: JsonValue, ...keys: string[]): JsonValue =>
  Object.fromEntries(Object.entries(json as Record<string, JsonValue>).filter(([k]) => !keys.includes(k)));

test('WebSocket and SSE send canonical proto3 JSON: what an independent parser reads strictly, the same as gRPC', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditstream-json-'));
  const { privateKey } = generateKeyPairSync('ed25519');
  fs.writeFileSync(path.join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const server = await startServer({
    audit: { subscriber: { heartbeat_interval: '100ms' } },
    storage: { path: path.join(dir, 'audit.db'), retention: { max_events: 10 }, checkpoints: { key_file: path.join(dir, 'key.pem'), every_events: 5, every: '100ms' } },
  });
  try {
    // Every kind of field: enums, timestamps (one on a whole second, two with nanoseconds: 9 and 6 digits), nested metadata with lists, null,
    // booleans and numbers, the hashes and commitments (bytes, maps of bytes), the cursor token.
    const total = 30;
    for (let i = 1; i <= total; i++) {
      await server.api.publish({
        event: makeEvent({
          type: i % 3 === 0 ? EventType.EVENT_TYPE_LOGIN_FAILED : EventType.EVENT_TYPE_PAYMENT_PROCESSED,
          severity: i % 2 ? Severity.SEVERITY_HIGH : Severity.SEVERITY_INFO,
          result: i % 4 === 0 ? Result.RESULT_FAILURE : Result.RESULT_SUCCESS,
          timestamp: i === total - 1 ? { seconds: 1_738_324_800, nanos: 123_456_789 } : i === total - 2 ? { seconds: 1_738_324_800, nanos: 5_000 }
            : toTimestamp(i === total ? new Date('2025-01-31T12:00:00Z') : new Date(Date.now() - 1000 + i)),
          correlationId: `corr-${i}`, source: 'bridge-json-test', action: 'pay',
          metadata: { amount: 12.5 * i, currency: 'EUR', tags: ['a', 'b'], nested: { ok: i % 2 === 0, none: null, n: i }, email: `u${i}@example.com` },
        }),
      });
    }
    // Retention leaves 21..30, so resuming after 5 starts with a gap notice on every transport.
    assert.equal((server.app.dispatcher.log as unknown as SqliteEventLog).applyRetention(new Date()), 20);
    await waitFor('a checkpoint of the last event', async () => {
      const { checkpoint } = await new Promise<{ checkpoint?: Checkpoint }>((resolve, reject) =>
        server.client.getCheckpoint({}, (e, r) => (e ? reject(e) : resolve(r))));
      return checkpoint && checkpoint.sequence === total ? checkpoint : undefined;
    });

    // gRPC: the reference.
    const grpc = StreamReader.open(server.client, { afterSequence: 5 });
    await grpc.eventsUntil(10);
    const grpcBeat = await grpc.until('a gRPC heartbeat at the end', () => grpc.messages
      .map((m) => (m.kind?.$case === 'heartbeat' ? m.kind.heartbeat : undefined)).find((h) => h?.cursor === total && h.checkpoint));
    const grpcGap = grpc.messages.map((m) => (m.kind?.$case === 'gap' ? m.kind.gap : undefined)).find(Boolean)!;
    const grpcStarted = grpc.messages[0].kind?.$case === 'started' ? grpc.messages[0].kind.started : assert.fail('started first');
    grpc.cancel();
    const grpcEvents = new Map(grpc.events.map((e) => [String(e.sequence), canonicalFromGrpc(S.AuditEvent, AuditEvent.encode(e).finish())]));
    assert.deepEqual([...grpcEvents.keys()], Array.from({ length: 10 }, (_, i) => String(21 + i)));
    const expected = {
      started: drop(canonicalFromGrpc(S.SubscriptionStarted, SubscriptionStarted.encode(grpcStarted).finish()), 'subscriptionId'),
      gap: canonicalFromGrpc(S.GapNotice, GapNotice.encode(grpcGap).finish()),
      heartbeat: drop(canonicalFromGrpc(S.Heartbeat, Heartbeat.encode(grpcBeat!).finish()), 'serverTime'),
    };
    assert.deepEqual(expected.gap, { fromSequence: '6', toSequence: '20' });
    assert.equal((expected.started as Record<string, JsonValue>).cursor, '5');

    // WebSocket.
    const ws = await WsClient.open(server.httpUrl);
    ws.send({ type: 'subscribe', id: 'j', after_sequence: '5' });
    const wsEvents = await ws.eventsUntil('j', 10);
    const wsBeat = await ws.until('a WebSocket heartbeat at the end', () =>
      ws.frames.find((f) => f.type === 'heartbeat' && f.id === 'j' && String(f.cursor) === String(total) && f.checkpoint));
    ws.close();
    const wsStarted = ws.frames.find((f) => f.type === 'subscribed')!;
    assert.equal(wsStarted.cursor, '5');
    assert.deepEqual(drop(canonicalFromBridge(S.SubscriptionStarted, withoutFrameKeys(wsStarted), 'ws subscribed'), 'subscriptionId'), expected.started);
    assert.deepEqual(canonicalFromBridge(S.GapNotice, withoutFrameKeys(ws.frames.find((f) => f.type === 'gap')!), 'ws gap'), expected.gap);
    assert.deepEqual(drop(canonicalFromBridge(S.Heartbeat, withoutFrameKeys(wsBeat), 'ws heartbeat'), 'serverTime'), expected.heartbeat);
    assert.equal(wsEvents.length, 10);
    for (const raw of wsEvents) {
      assert.equal(typeof raw.sequence, 'string');
      assert.deepEqual(canonicalFromBridge(S.AuditEvent, raw, `ws event ${raw.sequence}`), grpcEvents.get(raw.sequence), `ws event ${raw.sequence} as gRPC gave it`);
    }

    // SSE.
    const sse = await SseClient.open(`${server.httpUrl}/v1/events?after_sequence=5`);
    const sseEvents = await sse.eventsUntil(10);
    const sseCheckpoint = await sse.until('an SSE checkpoint', () => sse.messages.find((m) => m.event === 'checkpoint'));
    sse.close();
    const sseStarted = JSON.parse(sse.messages.find((m) => m.event === 'subscribed')!.data!);
    assert.deepEqual(drop(canonicalFromBridge(S.SubscriptionStarted, sseStarted, 'sse subscribed'), 'subscriptionId'), expected.started);
    assert.deepEqual(canonicalFromBridge(S.GapNotice, JSON.parse(sse.messages.find((m) => m.event === 'gap')!.data!), 'sse gap'), expected.gap);
    assert.deepEqual(canonicalFromBridge(S.Checkpoint, JSON.parse(sseCheckpoint.data!), 'sse checkpoint'),
      (expected.heartbeat as Record<string, JsonValue>).checkpoint);
    assert.equal(sseEvents.length, 10);
    for (const raw of sseEvents) {
      assert.equal(typeof raw.sequence, 'string');
      assert.deepEqual(canonicalFromBridge(S.AuditEvent, raw, `sse event ${raw.sequence}`), grpcEvents.get(raw.sequence), `sse event ${raw.sequence} as gRPC gave it`);
    }
    // The SSE id: is the same decimal sequence as the event's JSON.
    assert.deepEqual(sse.messages.filter((m) => m.event === undefined && m.data).map((m) => m.id), sseEvents.map((e) => e.sequence));
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
