/**
 * The Kafka forwarder against the wire-protocol test broker, end to end: events published over gRPC,
 * read back from Kafka with a kafkajs consumer or from the broker's own store.
 */
import assert from '../support/assert.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { status, type ServiceError } from '@grpc/grpc-js';
import { RedriveOutcome } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType, Severity } from '../../generated/audit/v1/event.js';
import { ErrorCode, KafkaTestBroker, type BrokerRecord } from '../support/kafka-broker/index.js';
import { consume, deadLetterApi, fastKafka, forwardedThrough, forwarderUntil } from '../support/kafka-sink.js';
import { makeEvent, publish, StreamReader, withServer, type TestServer } from '../support/server.js';

let broker: KafkaTestBroker;
beforeAll(async () => {
  broker = await KafkaTestBroker.start({ partitions: 3 });
});
afterAll(async () => {
  await broker.stop();
});

/** Every record of the topics whose name starts with `prefix`. */
function recordsUnder(prefix: string): BrokerRecord[] {
  return broker.topics().filter((t) => t.name.startsWith(prefix)).flatMap((t) => broker.records(t.name));
}

function header(r: BrokerRecord, key: string): string | undefined {
  return r.headers.find((h) => h.key === key)?.value?.toString();
}

/** Each event id's number of records: exactly-once means every count is 1. */
function countsById(records: BrokerRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(header(r, 'event_id')!, (counts.get(header(r, 'event_id')!) ?? 0) + 1);
  return counts;
}

/** The events as stored, read back through Subscribe from the start. */
async function storedEvents(server: TestServer, n: number): Promise<AuditEvent[]> {
  const reader = StreamReader.open(server.client, { afterSequence: 0 });
  try {
    return await reader.eventsUntil(n);
  } finally {
    reader.cancel();
  }
}

/** One event of each category, a CRITICAL one, one keyed by user and one keyed by id. */
const ROUTING_CASES: Array<[Partial<AuditEvent>, string, 'entity' | 'user' | 'id']> = [
  [{ type: EventType.EVENT_TYPE_CALL_CREATED, entityId: 'call-1' }, 'calls', 'entity'],
  [{ type: EventType.EVENT_TYPE_BID_ACCEPTED, entityId: 'bid-1' }, 'bids', 'entity'],
  [{ type: EventType.EVENT_TYPE_PAYMENT_PROCESSED, entityId: 'pay-1', metadata: { amount: 12.5, currency: 'EUR' } }, 'financial', 'entity'],
  [{ type: EventType.EVENT_TYPE_CONSENT_GRANTED, entityId: 'consent-1' }, 'compliance', 'entity'],
  [{ type: EventType.EVENT_TYPE_LOGIN_FAILED, entityId: 's-9', userId: 'u-42' }, 'security', 'entity'],
  [{ type: EventType.EVENT_TYPE_DATA_EXPORTED, entityId: '', userId: 'u-7' }, 'data', 'user'],
  [{ type: EventType.EVENT_TYPE_CONFIG_CHANGED, entityId: '', userId: '' }, 'system', 'id'],
  [{ type: EventType.EVENT_TYPE_SECURITY_BREACH, severity: Severity.SEVERITY_UNSPECIFIED, entityId: 'host-3' }, 'critical', 'entity'],
  [{ type: EventType.EVENT_TYPE_CALL_FAILED, severity: Severity.SEVERITY_CRITICAL, entityId: 'call-2' }, 'critical', 'entity'],
];

describe('Kafka forwarder', () => {
  test('routing, keys, headers and the protobuf value, decoded back into the stored events', () =>
    withServer({ kafka: fastKafka(broker, { topic_prefix: 'rt' }) }, async (server) => {
      for (const [fields] of ROUTING_CASES) await publish(server.client, makeEvent(fields));
      await forwardedThrough(server, ROUTING_CASES.length);
      const stored = await storedEvents(server, ROUTING_CASES.length);
      const topics = [...new Set(ROUTING_CASES.map(([, category]) => `rt.${category}`))];
      const got = await consume(broker, topics, ROUTING_CASES.length);
      assert.equal(got.length, ROUTING_CASES.length);

      for (const [i, [, category, keyedBy]] of ROUTING_CASES.entries()) {
        const event = stored[i];
        const m = got.find((r) => r.headers.event_id === event.id);
        assert.ok(m, `event ${i} arrived`);
        assert.equal(m.topic, `rt.${category}`, `event ${i} routed by category`);
        assert.equal(m.key, { entity: event.entityId, user: event.userId, id: event.id }[keyedBy], `event ${i} keyed by ${keyedBy}`);
        assert.deepEqual(AuditEvent.decode(m.value), event, `event ${i} decodes into the stored event`);
        assert.deepEqual(m.headers, {
          event_id: event.id,
          event_type: EventType[event.type].replace(/^EVENT_TYPE_/, ''),
          severity: Severity[event.severity].replace(/^SEVERITY_/, ''),
          user_id: event.userId,
          entity_id: event.entityId,
          sequence: String(event.sequence),
        });
      }
      const stats = (await server.api.getStats()).kafka;
      assert.deepEqual(stats, { circuitState: 'closed', cursor: 9, lag: 0, deadLetters: 0, delivered: 9 });
    }));

  test('value_format json with routing off (and storage.type memory): one topic, proto JSON decoded back into the stored events', () =>
    withServer({ storage: { type: 'memory' }, kafka: fastKafka(broker, { enable_topic_routing: false, topic: 'rt-json', value_format: 'json' }) }, async (server) => {
      for (const [fields] of ROUTING_CASES) await publish(server.client, makeEvent(fields));
      await forwardedThrough(server, ROUTING_CASES.length);
      const stored = await storedEvents(server, ROUTING_CASES.length);
      const got = await consume(broker, ['rt-json'], ROUTING_CASES.length);
      assert.deepEqual(new Set(got.map((m) => m.topic)), new Set(['rt-json']));
      for (const event of stored) {
        const m = got.find((r) => r.headers.event_id === event.id)!;
        const json = JSON.parse(m.value.toString()) as Record<string, unknown>;
        assert.equal(json.type, EventType[event.type], 'full enum names, as grpcurl shows them');
        assert.deepEqual(AuditEvent.fromJSON(json), event);
      }
    }));

  test('per-entity order holds across partitions under concurrent publishing', () =>
    withServer({ kafka: fastKafka(broker, { topic_prefix: 'ord', batch_size: 37 }) }, async (server) => {
      broker.createTopic('ord.calls', 6);
      const entities = 24;
      const perEntity = 25;
      await Promise.all(Array.from({ length: entities }, async (_, e) => {
        for (let n = 0; n < perEntity; n++) {
          await publish(server.client, makeEvent({ entityId: `ent-${e}`, metadata: { n } }));
        }
      }));
      await forwardedThrough(server, entities * perEntity);
      const records = broker.records('ord.calls');
      assert.equal(records.length, entities * perEntity);
      assert.ok(new Set(records.map((r) => r.partition)).size > 1, 'entities spread over several partitions');
      for (let e = 0; e < entities; e++) {
        const mine = records.filter((r) => r.key?.toString() === `ent-${e}`);
        assert.equal(new Set(mine.map((r) => r.partition)).size, 1, `ent-${e} stays in one partition`);
        const byOffset = [...mine].sort((a, b) => a.offset - b.offset);
        const sequences = byOffset.map((r) => Number(header(r, 'sequence')));
        assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), `ent-${e} in log order`);
        const ns = byOffset.map((r) => AuditEvent.decode(r.value!).metadata?.n);
        assert.deepEqual(ns, Array.from({ length: perEntity }, (_, i) => i), `ent-${e} in publish order`);
      }
    }));

  test('outage: 1,000 events stored while Kafka is down, the circuit opens, then every event arrives exactly once', () =>
    // Half-open after 1 s, not fastKafka's 200 ms: GetStats must still find the circuit open, and one
    // call took longer than 200 ms with the whole suite running in parallel.
    withServer({ kafka: fastKafka(broker, { topic_prefix: 'out', batch_size: 200, circuit_breaker: { threshold: 3, half_open_after: 1_000 } }) }, async (server) => {
      for (let i = 0; i < 10; i++) await publish(server.client, makeEvent({ entityId: `warm-${i}` }));
      await forwardedThrough(server, 10);

      await broker.stop();
      try {
        for (let b = 0; b < 10; b++) {
          const res = await server.api.publishBatch({ events: Array.from({ length: 100 }, (_, i) => makeEvent({ entityId: `e-${i % 17}` })) });
          assert.equal(res.acceptedCount, 100, 'acknowledged to the publisher while Kafka is down');
        }
        await forwarderUntil(server, 'the circuit to open', (s) => s.circuit === 'open');
        const during = (await server.api.getStats()).kafka!;
        assert.equal(during.circuitState, 'open');
        assert.ok(during.lag > 0 && during.cursor < 1010, `lag ${during.lag}, cursor ${during.cursor}`);
      } finally {
        await broker.start(); // also when an assertion failed, so the tests after this one still have a broker
      }
      const done = await forwarderUntil(server, 'everything forwarded, circuit closed', (s) => s.cursor === 1010 && s.circuit === 'closed');
      assert.equal(done.lag, 0);
      assert.equal(done.deadLetters, 0);
      const counts = countsById(recordsUnder('out.'));
      assert.equal(counts.size, 1010);
      assert.deepEqual([...new Set(counts.values())], [1], 'no event twice');
      assert.equal((await server.api.getStats()).kafka?.circuitState, 'closed');
    }));

  test('MESSAGE_TOO_LARGE goes to the dead letters, later events still flow, redrive delivers it', () =>
    withServer({ kafka: fastKafka(broker, { topic_prefix: 'dlq' }) }, async (server) => {
      const dlq = deadLetterApi(server.client);
      await publish(server.client, makeEvent({ entityId: 'ok-0' }));
      await forwardedThrough(server, 1);

      // A batch of one refused: dead-lettered after one attempt.
      broker.failNext({ apiKey: 'Produce', errorCode: ErrorCode.MESSAGE_TOO_LARGE, times: 1, topic: 'dlq.calls' });
      const bad = await publish(server.client, makeEvent({ entityId: 'bad-1' }));
      await forwardedThrough(server, bad.sequence);
      // A batch refused, then its first event refused alone: only that one is dead-lettered.
      broker.failNext({ apiKey: 'Produce', errorCode: ErrorCode.MESSAGE_TOO_LARGE, times: 2, topic: 'dlq.calls' });
      const batch = await server.api.publishBatch({ events: Array.from({ length: 5 }, (_, i) => makeEvent({ entityId: `b-${i}` })) });
      const acks = batch.results.map((r) => (r.outcome?.$case === 'stored' ? r.outcome.stored : assert.fail('stored')));
      await forwardedThrough(server, acks[4].sequence);
      const firstOfBatch = acks[0];

      const listed = await dlq.list();
      assert.equal(listed.total, 2);
      assert.deepEqual(listed.deadLetters.map((l) => [l.sequence, l.eventId, l.topic, l.reason]), [
        [bad.sequence, bad.eventId, 'dlq.calls', 'MESSAGE_TOO_LARGE'],
        [firstOfBatch.sequence, firstOfBatch.eventId, 'dlq.calls', 'MESSAGE_TOO_LARGE'],
      ]);
      assert.deepEqual(listed.deadLetters.map((l) => l.attempts), [1, 2], 'the batch attempt counts for its events');
      assert.equal(listed.deadLetters[0].event?.entityId, 'bad-1');
      assert.ok(listed.deadLetters[0].firstFailedAt!.seconds > 0, 'first failure time');
      const delivered = new Set(recordsUnder('dlq.').map((r) => header(r, 'event_id')));
      assert.equal(delivered.size, 5, 'the events after the bad ones went on');
      assert.ok(!delivered.has(bad.eventId) && !delivered.has(firstOfBatch.eventId));
      assert.equal((await server.api.getStats()).kafka?.deadLetters, 2);

      // Paging: one at a time.
      const page1 = await dlq.list({ limit: 1 });
      const page2 = await dlq.list({ limit: 1, pageToken: page1.nextPageToken });
      assert.deepEqual([...page1.deadLetters, ...page2.deadLetters].map((l) => l.sequence), [bad.sequence, firstOfBatch.sequence]);
      assert.equal(page2.nextPageToken, '');

      // Redrive refused again: still listed, attempts added up. Unknown sequences are reported.
      broker.failNext({ apiKey: 'Produce', errorCode: ErrorCode.MESSAGE_TOO_LARGE, times: 1, topic: 'dlq.calls' });
      const again = await dlq.redrive({ sequences: [bad.sequence, 999] });
      assert.deepEqual(again.results.map((r) => [r.sequence, r.outcome, r.reason]), [
        [bad.sequence, RedriveOutcome.REDRIVE_OUTCOME_FAILED, 'MESSAGE_TOO_LARGE'],
        [999, RedriveOutcome.REDRIVE_OUTCOME_NOT_FOUND, ''],
      ]);
      assert.equal((await dlq.list()).deadLetters[0].attempts, 2);

      const redriven = await dlq.redrive({});
      assert.deepEqual(redriven.results.map((r) => r.outcome), [RedriveOutcome.REDRIVE_OUTCOME_DELIVERED, RedriveOutcome.REDRIVE_OUTCOME_DELIVERED]);
      assert.equal(redriven.deliveredCount, 2);
      assert.equal(redriven.remaining, 0);
      assert.equal((await dlq.list()).total, 0);
      const counts = countsById(recordsUnder('dlq.'));
      assert.equal(counts.size, 7);
      assert.deepEqual([...new Set(counts.values())], [1]);
    }));

  test('a restart on the same database resumes from the cursor: nothing lost, nothing twice', async () => {
    const storage = { path: path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-kafka-')), 'audit.db') };
    const config = { storage, server: { shutdown_timeout: 2_000 }, kafka: fastKafka(broker, { topic_prefix: 'rs' }) };

    await withServer(config, async (server) => {
      for (let i = 0; i < 50; i++) await publish(server.client, makeEvent({ entityId: `r-${i % 5}` }));
      await forwardedThrough(server, 50);
      // Stored while Kafka is down: still there for the next start.
      await broker.stop();
      for (let i = 0; i < 20; i++) await publish(server.client, makeEvent({ entityId: `r-${i % 5}` }));
    }).finally(() => (broker.running ? undefined : broker.start()));
    assert.equal(recordsUnder('rs.').length, 50);

    await withServer(config, async (server) => {
      await forwardedThrough(server, 70);
      for (let i = 0; i < 30; i++) await publish(server.client, makeEvent({ entityId: `r-${i % 5}` }));
      await forwardedThrough(server, 100);
    });
    // Shutdown flushes: published and closed at once, still delivered.
    await withServer(config, async (server) => {
      await server.api.publishBatch({ events: Array.from({ length: 25 }, () => makeEvent()) });
    });
    const counts = countsById(recordsUnder('rs.'));
    assert.equal(counts.size, 125);
    assert.deepEqual([...new Set(counts.values())], [1]);
  });

  test('with Kafka off the dead letter RPCs answer FAILED_PRECONDITION and stats have no kafka section', () =>
    withServer({}, async (server) => {
      await assert.rejects(deadLetterApi(server.client).list(), (err: ServiceError) => err.code === status.FAILED_PRECONDITION);
      await assert.rejects(deadLetterApi(server.client).redrive(), (err: ServiceError) => err.code === status.FAILED_PRECONDITION);
      assert.equal((await server.api.getStats()).kafka, undefined);
    }));
});
