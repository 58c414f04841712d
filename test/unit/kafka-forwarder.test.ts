/**
 * The Kafka forwarder's parts without a broker: records (routing, keys, headers, values), error
 * classification, and the forwarder's loop against a scripted sender.
 */
import assert from '../support/assert.js';
import { createRequire } from 'node:module';
import { describe, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import { toProtoEvent } from '../../src/contract/event-mapping.js';
import type { NewAuditEvent, StoredAuditEvent } from '../../src/domain/event.js';
import { createLogger } from '../../src/observability/logger.js';
import { classifyKafkaError } from '../../src/policies/kafka-errors.js';
import { KafkaPolicy } from '../../src/policies/kafka-policy.js';
import { MemoryDeadLetters } from '../../src/store/memory-dead-letters.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { createKafkaClient } from '../../src/transports/kafka/client.js';
import { KafkaForwarder, type ForwarderStatus } from '../../src/transports/kafka/forwarder.js';
import { headersFor, keyFor, type OutgoingRecord, topicFor, valueFor } from '../../src/transports/kafka/records.js';
import type { RecordSender } from '../../src/transports/kafka/sender.js';
import { parseConfig } from '../../src/config/load.js';
import { within } from '../support/server.js';
import { newEvent as sharedEvent } from '../support/events.js';

const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error };
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, CompressionCodecs, CompressionTypes } = kafkajs;

const clock = { now: () => new Date('2025-01-31T12:00:00Z') };
const routing = { enableTopicRouting: true, topic: 'all', topicPrefix: 'audit', valueFormat: 'protobuf' as const };
let made = 0;
/** A call event, each for an entity of its own (its Kafka key), stamped with the test clock. */
const newEvent = (over: Partial<NewAuditEvent> = {}): NewAuditEvent =>
  sharedEvent({ type: 'CALL_CREATED', userId: 'u-1', entityType: 'call', entityId: `c-${++made}`, timestamp: clock.now(), ...over });
async function stored(over: Partial<NewAuditEvent> = {}): Promise<StoredAuditEvent> {
  const [r] = await new MemoryEventLog(10, clock).append([newEvent(over)]);
  return r.event;
}

describe('records', () => {
  test('routing: critical first, then the category; one topic when routing is off', async () => {
    assert.equal(topicFor(await stored({ type: 'LOGIN_FAILED', severity: 3 }), routing), 'audit.security');
    assert.equal(topicFor(await stored({ type: 'LOGIN_FAILED', severity: 5 }), routing), 'audit.critical');
    assert.equal(topicFor(await stored({ type: 'REFUND_ISSUED' }), routing), 'audit.financial');
    assert.equal(topicFor(await stored({ type: 'REFUND_ISSUED', severity: 5 }), { ...routing, enableTopicRouting: false }), 'all');
  });

  test('key: entity id, else user id, else event id', async () => {
    assert.equal(keyFor(await stored({ entityId: 'e', userId: 'u' })), 'e');
    assert.equal(keyFor(await stored({ entityId: '', userId: 'u' })), 'u');
    const e = await stored({ entityId: '', userId: '' });
    assert.equal(keyFor(e), e.id);
  });

  test('headers carry traceparent only when the event has one', async () => {
    const plain = await stored();
    assert.equal(headersFor(plain).traceparent, undefined);
    const traced = await stored({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', severity: 4 });
    assert.deepEqual(headersFor(traced), {
      event_id: traced.id, event_type: 'CALL_CREATED', severity: 'HIGH', user_id: 'u-1', entity_id: traced.entityId,
      sequence: '1', traceparent: traced.traceparent,
    });
  });

  test('values decode back into the event in both formats', async () => {
    const e = await stored({ metadata: { amount: 9.5, tags: ['a'] } });
    assert.deepEqual(AuditEvent.decode(valueFor(e, 'protobuf')), toProtoEvent(e));
    assert.deepEqual(AuditEvent.fromJSON(JSON.parse(valueFor(e, 'json').toString())), toProtoEvent(e));
  });

  test('snappy compression registers the kafkajs-snappy codec', async () => {
    createKafkaClient(parseConfig({ kafka: { compression_type: 'snappy' } }).kafka, createLogger('silent'));
    const codec = (CompressionCodecs[CompressionTypes.Snappy] as () => { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> })();
    const data = Buffer.from('audit '.repeat(200));
    const packed = await codec.compress({ buffer: data });
    assert.ok(packed.length < data.length);
    assert.deepEqual(await codec.decompress(packed), data);
  });
});

describe('kafka config', () => {
  const problems = (kafka: Record<string, unknown>): string => {
    try {
      parseConfig({ kafka });
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  test('defaults, ${VAR}-style strings and the retry_max alias', () => {
    const k = parseConfig({}).kafka;
    assert.deepEqual([k.enabled, k.value_format, k.required_acks, k.idempotent_writes, k.max_retries], [false, 'protobuf', -1, true, 5]);
    const s = parseConfig({ kafka: { enabled: 'true', brokers: 'a:9092, b:9093', retry_max: '3', required_acks: 'all' } }).kafka;
    assert.deepEqual([s.enabled, s.brokers, s.max_retries, s.required_acks], [true, ['a:9092', 'b:9093'], 3, -1]);
  });
  test('refusals name the key', () => {
    assert.match(problems({ required_acks: 0, idempotent_writes: false }), /kafka\.required_acks: expected all, -1 or 1/);
    assert.match(problems({ required_acks: 1 }), /kafka\.required_acks: must be all/);
    assert.match(problems({ retry_max: 1, max_retries: 2 }), /kafka\.max_retries: disagrees/);
    assert.match(problems({ compression_type: 'lz4' }), /kafka\.compression_type/);
    assert.match(problems({ sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }), /kafka\.sasl\.mechanism/);
    assert.match(problems({ tls: { enabled: true, cert_file: 'c.pem' } }), /kafka\.tls: cert_file and key_file go together/);
  });
});

describe('classifyKafkaError', () => {
  const kind = (err: unknown) => classifyKafkaError(err).kind;
  test('records refused for good are rejected, also when wrapped by kafkajs retries', () => {
    assert.equal(kind(createErrorFromCode(10)), 'rejected');
    assert.equal(classifyKafkaError(createErrorFromCode(87)).reason, 'INVALID_RECORD');
    const wrapped = new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(10), { retryCount: 1, retryTime: 10 });
    assert.deepEqual([kind(wrapped), classifyKafkaError(wrapped).reason], ['rejected', 'MESSAGE_TOO_LARGE']);
  });
  test('an unavailable cluster is transient: connections, leaders, authorization', () => {
    assert.equal(kind(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED')), 'transient');
    assert.equal(kind(new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('refused'), { retryCount: 0, retryTime: 1 })), 'transient');
    assert.equal(kind(createErrorFromCode(6)), 'transient');
    assert.equal(kind(createErrorFromCode(29)), 'transient');
  });
  test('producer state errors are transient and reset the producer; unknown ones are fatal', () => {
    assert.deepEqual([kind(createErrorFromCode(45)), classifyKafkaError(createErrorFromCode(45)).resetProducer], ['transient', true]);
    assert.equal(kind(createErrorFromCode(-1)), 'fatal');
    assert.equal(kind(new TypeError('encoding bug')), 'fatal');
  });
});

/** A sender whose answers the test scripts; it records every batch it was asked to send. */
class ScriptedSender implements RecordSender {
  readonly calls: number[][] = [];
  readonly failures: Array<(records: readonly OutgoingRecord[]) => Error | undefined> = [];
  async send(records: readonly OutgoingRecord[]): Promise<void> {
    this.calls.push(records.map((r) => r.sequence));
    const err = this.failures.shift()?.(records);
    if (err) throw err;
  }
  async close(): Promise<void> {}
}

function setup(policy: Partial<ConstructorParameters<typeof KafkaPolicy>[0]> = {}) {
  const log = new MemoryEventLog(1_000, clock);
  const sender = new ScriptedSender();
  const deadLetters = new MemoryDeadLetters();
  let position = 0;
  const forwarder = new KafkaForwarder({
    log, sender, deadLetters, routing, logger: createLogger('silent'),
    cursor: { get: () => position, set: (s) => (position = s) },
    policy: new KafkaPolicy({ maxRetries: 2, retryDelayMs: 1, retryBackoffMs: 5, breakerThreshold: 100, halfOpenAfterMs: 50, ...policy }),
  }, { batchSize: 10, lingerMs: 0, retryBackoffMs: 5 });
  const until = (what: string, check: (s: ForwarderStatus) => boolean): Promise<void> => {
    let remove = (): void => undefined;
    const met = new Promise<void>((resolve) => {
      const test = (): void => void (check(forwarder.status()) && resolve());
      remove = forwarder.onChange(test);
      test();
    });
    return within(met, what).finally(remove);
  };
  const append = async (n: number): Promise<void> => {
    await log.append(Array.from({ length: n }, () => newEvent()));
    forwarder.wake();
  };
  return { log, sender, deadLetters, forwarder, until, append };
}

describe('KafkaForwarder', () => {
  test('after a transient failure the same batch is sent again, unchanged, before anything newer', async () => {
    const { sender, forwarder, until, append } = setup({ maxRetries: 0 });
    sender.failures.push(() => new KafkaJSConnectionError('refused'));
    await append(3);
    await until('the failure', (s) => s.failures === 1);
    await append(2); // arrives while the retry timer runs
    await until('everything forwarded', (s) => s.cursor === 5);
    assert.deepEqual(sender.calls, [[1, 2, 3], [1, 2, 3], [4, 5]]);
    await forwarder.stop(100);
  });

  test('a fatal error is retried, then the batch is split and only the failing event dead-lettered', async () => {
    const { sender, deadLetters, forwarder, until, append } = setup({ maxRetries: 2 });
    const unknown = (records: readonly OutgoingRecord[]) => (records.some((r) => r.sequence === 2) ? createErrorFromCode(-1) : undefined);
    for (let i = 0; i < 20; i++) sender.failures.push(unknown);
    await append(3);
    await until('forwarded', (s) => s.cursor === 3);
    // 3 attempts as a batch, then 1, 3 attempts of 2 alone, 3.
    assert.deepEqual(sender.calls, [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1], [2], [2], [2], [3]]);
    assert.deepEqual(deadLetters.list(0, 10).map((l) => [l.sequence, l.reason, l.attempts]), [[2, 'UNKNOWN', 6]]);
    assert.deepEqual(forwarder.status().delivered, 2);
    await forwarder.stop(100);
  });

  test('an open circuit makes sends fail fast until half_open_after, then one test send closes it', async () => {
    const { sender, forwarder, until, append } = setup({ maxRetries: 5, breakerThreshold: 2, halfOpenAfterMs: 30 });
    sender.failures.push(() => new KafkaJSConnectionError('refused'), () => new KafkaJSConnectionError('refused'));
    await append(1);
    await until('open', (s) => s.circuit === 'open');
    assert.equal(sender.calls.length, 2, 'no attempt while open');
    await until('closed and forwarded', (s) => s.circuit === 'closed' && s.cursor === 1);
    assert.equal(sender.calls.length, 3);
    await forwarder.stop(100);
  });

  test('stop flushes what is stored', async () => {
    const { log, forwarder } = setup();
    await log.append([newEvent(), newEvent()]);
    await forwarder.stop(1_000);
    assert.equal(forwarder.status().cursor, 2);
  });
});
