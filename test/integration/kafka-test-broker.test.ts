/**
 * The Kafka wire-protocol test broker, exercised with real, unmodified
 * kafkajs clients over TCP.
 */
import assert from '../support/assert.js';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, ConsumerConfig, EachMessagePayload, KafkaConfig, Message, Producer } from 'kafkajs';
import { ErrorCode, KafkaTestBroker } from '../support/kafka-broker/index.js';

const { Kafka, logLevel, CompressionTypes, Partitioners } = kafkajs;

const WAIT_MS = 15_000;

/** Settings that make a kafkajs consumer notice rebalances and new data quickly. */
const FAST_CONSUMER: Omit<ConsumerConfig, 'groupId'> = {
  maxWaitTimeInMs: 250,
  heartbeatInterval: 200,
  sessionTimeout: 10_000,
  rebalanceTimeout: 10_000,
};

/** Rejects when `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, label: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A condition re-checked whenever `poke()` is called (e.g. from a client event); no polling. */
function condition(check: () => boolean): { poke(): void; met: Promise<void> } {
  let resolve!: () => void;
  const met = new Promise<void>((r) => (resolve = r));
  const poke = (): void => {
    if (check()) resolve();
  };
  return { poke, met };
}

interface Received {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly timestamp: number;
  readonly headers: Record<string, string>;
}

function toReceived({ topic, partition, message }: EachMessagePayload): Received {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key?.toString() ?? null,
    value: message.value?.toString() ?? null,
    timestamp: Number(message.timestamp),
    headers,
  };
}

/** Tracks clients so every test can close what it opened. */
class Clients {
  private readonly open: Array<{ disconnect(): Promise<void> }> = [];
  /** Conditions waiting on consumer activity; any consumer's event re-checks all of them. */
  private readonly listeners = new Set<() => void>();

  constructor(private readonly broker: KafkaTestBroker) {}

  kafka(clientId: string, extra: Partial<KafkaConfig> = {}): InstanceType<typeof Kafka> {
    return new Kafka({ clientId, brokers: this.broker.brokers, logLevel: logLevel.NOTHING, ...extra });
  }

  async producer(kafka: InstanceType<typeof Kafka>, idempotent = true): Promise<Producer> {
    const producer = kafka.producer({
      idempotent,
      maxInFlightRequests: idempotent ? 1 : undefined,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.open.push(producer);
    await producer.connect();
    return producer;
  }

  async admin(kafka: InstanceType<typeof Kafka>): Promise<Admin> {
    const admin = kafka.admin();
    this.open.push(admin);
    await admin.connect();
    return admin;
  }

  /** A consumer subscribed to `topic` from the beginning, collecting every message. */
  async consumer(kafka: InstanceType<typeof Kafka>, groupId: string, topic: string) {
    const consumer: Consumer = kafka.consumer({ groupId, ...FAST_CONSUMER });
    this.open.push(consumer);
    const received: Received[] = [];
    let assigned: number[] = [];
    const listeners = this.listeners;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      for (const l of listeners) l();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async (payload) => {
        received.push(toReceived(payload));
        for (const l of listeners) l();
      },
    });
    return {
      consumer,
      received,
      assigned: () => assigned,
      /** Resolves once `check` holds, re-checked on every message and group join of any consumer. */
      until(check: () => boolean, label: string): Promise<void> {
        const c = condition(check);
        listeners.add(c.poke);
        c.poke();
        return within(c.met, label).finally(() => listeners.delete(c.poke));
      },
    };
  }

  async closeAll(): Promise<void> {
    const all = this.open.splice(0);
    await Promise.allSettled(all.map((c) => c.disconnect()));
  }
}

describe('KafkaTestBroker with kafkajs', () => {
  let broker: KafkaTestBroker;
  let clients: Clients;

  beforeAll(async () => {
    broker = await KafkaTestBroker.start({ partitions: 3 });
    clients = new Clients(broker);
  });

  afterAll(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  test('idempotent producer -> group consumer round trip keeps keys, headers, timestamps and per-key order', async () => {
    const topic = 'round-trip';
    const kafka = clients.kafka('round-trip');
    const admin = await clients.admin(kafka);
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] }), true);

    const producer = await clients.producer(kafka);
    const base = 1_700_000_000_000;
    const sent: Message[] = [];
    for (let i = 0; i < 24; i++) {
      sent.push({
        key: `user-${i % 6}`,
        value: `event-${i}`,
        timestamp: String(base + i * 10),
        headers: { 'trace-id': `trace-${i}`, source: 'round-trip-test' },
      });
    }
    await producer.send({ topic, messages: sent.slice(0, 12) });
    await producer.send({ topic, messages: sent.slice(12) });

    const c = await clients.consumer(kafka, 'round-trip-group', topic);
    await c.until(() => c.received.length >= sent.length, 'all round-trip messages');
    assert.equal(c.received.length, sent.length);

    const byValue = new Map(c.received.map((m) => [m.value, m]));
    for (const m of sent) {
      const got = byValue.get(String(m.value));
      assert.ok(got, `received ${String(m.value)}`);
      assert.equal(got.key, m.key);
      assert.equal(got.timestamp, Number(m.timestamp));
      assert.deepEqual(got.headers, m.headers);
    }
    const partitionsUsed = new Set(c.received.map((m) => m.partition));
    assert.ok(partitionsUsed.size > 1, 'keys spread over several partitions');
    for (let k = 0; k < 6; k++) {
      const ofKey = c.received.filter((m) => m.key === `user-${k}`);
      assert.equal(new Set(ofKey.map((m) => m.partition)).size, 1, `user-${k} stays in one partition`);
      const sentOrder = sent.filter((m) => m.key === `user-${k}`).map((m) => String(m.value));
      const byOffset = [...ofKey].sort((a, b) => a.offset - b.offset).map((m) => m.value);
      assert.deepEqual(byOffset, sentOrder, `user-${k} keeps its send order`);
    }

    // The broker's own view: offsets 0..n-1 per partition, same content.
    const stored = broker.records(topic);
    assert.equal(stored.length, sent.length);
    for (let p = 0; p < 4; p++) {
      assert.deepEqual(broker.records(topic, p).map((r) => r.offset), [...broker.records(topic, p).keys()]);
    }
    const first = stored.find((r) => r.value?.toString() === 'event-0')!;
    assert.equal(first.key?.toString(), 'user-0');
    assert.equal(first.timestamp, base);
    assert.deepEqual(
      first.headers.map((h) => [h.key, h.value?.toString()]),
      [['trace-id', 'trace-0'], ['source', 'round-trip-test']],
    );
    assert.equal(broker.topics().find((t) => t.name === topic)?.partitions, 4);
    await clients.closeAll();
  });

  test('gzip-compressed produce round trip', async () => {
    const topic = 'gzip-topic';
    const kafka = clients.kafka('gzip');
    const producer = await clients.producer(kafka);
    const values = Array.from({ length: 50 }, (_, i) => `compressible payload ${i} ${'x'.repeat(200)}`);
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: values.map((value, i) => ({ key: `k${i % 5}`, value, headers: { n: String(i) } })),
    });

    assert.equal(broker.records(topic).length, values.length);
    const c = await clients.consumer(kafka, 'gzip-group', topic);
    await c.until(() => c.received.length >= values.length, 'gzip messages');
    assert.deepEqual(c.received.map((m) => m.value).sort(), [...values].sort());
    for (const m of c.received) assert.equal(values[Number(m.headers.n)], m.value);
    await clients.closeAll();
  });

  test('two group members split the partitions; committed offsets are resumed by a new member', async () => {
    const topic = 'group-split';
    const groupId = 'split-group';
    const kafka = clients.kafka('split');
    const admin = await clients.admin(kafka);
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    const producer = await clients.producer(kafka);
    const a = await clients.consumer(kafka, groupId, topic);
    const b = await clients.consumer(kafka, groupId, topic);
    const split = (): boolean => {
      const all = [...a.assigned(), ...b.assigned()].sort();
      return a.assigned().length > 0 && b.assigned().length > 0 && all.join() === '0,1,2,3';
    };
    await a.until(split, 'a split assignment');

    const firstRound = [0, 1, 2, 3].flatMap((partition) => [
      { partition, value: `old-${partition}-a` },
      { partition, value: `old-${partition}-b` },
    ]);
    await producer.send({ topic, messages: firstRound });
    const total = (): boolean => a.received.length + b.received.length >= firstRound.length;
    await Promise.all([a.until(total, 'first round (a)'), b.until(total, 'first round (b)')]);

    assert.equal(a.received.length + b.received.length, firstRound.length);
    assert.ok(split(), 'the assignment did not change meanwhile');
    for (const m of a.received) assert.ok(a.assigned().includes(m.partition), `a only reads its partitions`);
    for (const m of b.received) assert.ok(b.assigned().includes(m.partition), `b only reads its partitions`);
    assert.equal(a.received.length, a.assigned().length * 2);
    assert.equal(b.received.length, b.assigned().length * 2);
    assert.equal(broker.group(groupId)?.members.length, 2);

    await a.consumer.disconnect();
    await b.consumer.disconnect();
    assert.deepEqual(
      broker.committedOffsets(groupId).map((o) => [o.partition, o.offset]),
      [[0, 2], [1, 2], [2, 2], [3, 2]],
    );

    const secondRound = [0, 1, 2, 3].map((partition) => ({ partition, value: `new-${partition}` }));
    await producer.send({ topic, messages: secondRound });
    const c = await clients.consumer(kafka, groupId, topic);
    await c.until(() => c.received.length >= secondRound.length, 'second round');
    assert.deepEqual(c.received.map((m) => m.value).sort(), secondRound.map((m) => m.value).sort());
    assert.ok(c.received.every((m) => m.offset === 2), 'resumed at the committed offsets');
    await clients.closeAll();
  });

  test('a member that stops heartbeating is dropped after its session timeout and the group rebalances', async () => {
    const topic = 'session-timeout';
    const groupId = 'session-timeout-group';
    const kafka = clients.kafka('session');
    const admin = await clients.admin(kafka);
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });

    // kafkajs heartbeats between messages only: a hung eachMessage means no heartbeats.
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const stuckConsumer = kafka.consumer({ groupId, ...FAST_CONSUMER, sessionTimeout: 1000 });
    const stuckAssigned: number[] = [];
    stuckConsumer.on(stuckConsumer.events.GROUP_JOIN, (e) => stuckAssigned.splice(0, Infinity, ...(e.payload.memberAssignment[topic] ?? [])));
    try {
      const healthy = await clients.consumer(kafka, groupId, topic);
      await healthy.until(() => healthy.assigned().length === 2, 'healthy member owns both partitions');
      await stuckConsumer.connect();
      await stuckConsumer.subscribe({ topics: [topic], fromBeginning: true });
      await stuckConsumer.run({ eachMessage: () => hung });
      await healthy.until(() => healthy.assigned().length === 1, 'partitions split with the second member');
      assert.equal(broker.group(groupId)?.members.length, 2);

      const producer = await clients.producer(kafka);
      await producer.send({ topic, messages: [0, 1].map((partition) => ({ partition, value: `p${partition}` })) });
      // The stuck member hangs on its partition's message; after its session timeout the
      // coordinator drops it and the healthy member gets (and reads) both partitions.
      await healthy.until(() => healthy.assigned().length === 2 && healthy.received.length >= 2, 'takeover after the session timeout');
      assert.deepEqual(healthy.received.map((m) => m.value).sort(), ['p0', 'p1']);
      assert.equal(broker.group(groupId)?.members.length, 1);
      assert.equal(stuckAssigned.length, 1, 'the stuck member had one partition');
    } finally {
      release();
      await stuckConsumer.disconnect();
      await clients.closeAll();
    }
  });

  test('ListOffsets by timestamp (admin.fetchTopicOffsetsByTimestamp)', async () => {
    const topic = 'by-time';
    const kafka = clients.kafka('by-time');
    const admin = await clients.admin(kafka);
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const producer = await clients.producer(kafka);
    const t0 = 1_700_000_000_000;
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: 'p0-a', timestamp: String(t0) },
        { partition: 0, value: 'p0-b', timestamp: String(t0 + 1000) },
        { partition: 0, value: 'p0-c', timestamp: String(t0 + 2000) },
        { partition: 1, value: 'p1-a', timestamp: String(t0 + 500) },
        { partition: 1, value: 'p1-b', timestamp: String(t0 + 1500) },
      ],
    });

    const sorted = (xs: Array<{ partition: number; offset: string }>) =>
      [...xs].sort((x, y) => x.partition - y.partition).map((x) => [x.partition, x.offset]);
    assert.deepEqual(sorted(await admin.fetchTopicOffsetsByTimestamp(topic, t0 + 1000)), [[0, '1'], [1, '1']]);
    assert.deepEqual(sorted(await admin.fetchTopicOffsetsByTimestamp(topic, t0 + 600)), [[0, '1'], [1, '1']]);
    assert.deepEqual(sorted(await admin.fetchTopicOffsetsByTimestamp(topic, t0)), [[0, '0'], [1, '0']]);
    // After the newest record: kafkajs falls back to the high watermark.
    assert.deepEqual(sorted(await admin.fetchTopicOffsetsByTimestamp(topic, t0 + 9000)), [[0, '3'], [1, '2']]);

    const offsets = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(
      offsets.sort((x, y) => x.partition - y.partition).map((o) => [o.partition, o.low, o.high]),
      [[0, '0', '3'], [1, '0', '2']],
    );
    await clients.closeAll();
  });

  test('an injected MESSAGE_TOO_LARGE surfaces to the producer and stores nothing', async () => {
    const topic = 'faults';
    const kafka = clients.kafka('faults', { retry: { retries: 0 } });
    const producer = await clients.producer(kafka, false);
    await producer.send({ topic, messages: [{ key: 'k', value: 'before' }] });

    broker.failNext({ apiKey: 'Produce', errorCode: ErrorCode.MESSAGE_TOO_LARGE, times: 1, topic });
    await assert.rejects(producer.send({ topic, messages: [{ key: 'k', value: 'rejected' }] }), (err: unknown) => {
      const e = err as { type?: string; cause?: { type?: string } };
      assert.equal(e.type ?? e.cause?.type, 'MESSAGE_TOO_LARGE');
      return true;
    });
    assert.equal(broker.pendingFaults(), 0);
    assert.deepEqual(broker.records(topic).map((r) => r.value?.toString()), ['before']);

    // A retriable error (NOT_LEADER_OR_FOLLOWER) is retried by a client that allows retries.
    const retrying = await clients.producer(clients.kafka('faults-retry'), true);
    broker.failNext({ apiKey: 'Produce', errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, times: 2, topic });
    await retrying.send({ topic, messages: [{ key: 'k', value: 'after-retry' }] });
    assert.equal(broker.pendingFaults(), 0);
    assert.deepEqual(broker.records(topic).map((r) => r.value?.toString()), ['before', 'after-retry']);
    await clients.closeAll();
  });
});

describe('KafkaTestBroker restart', () => {
  test('stop then start on the same port keeps topics, records and committed offsets', async () => {
    const broker = await KafkaTestBroker.start({ partitions: 2 });
    const clients = new Clients(broker);
    try {
      const topic = 'durable';
      const groupId = 'durable-group';
      const port = broker.port;
      const kafka = clients.kafka('restart');
      const producer = await clients.producer(kafka);
      await producer.send({ topic, messages: ['a', 'b', 'c'].map((value) => ({ key: value, value })) });

      const first = await clients.consumer(kafka, groupId, topic);
      await first.until(() => first.received.length >= 3, 'messages before the outage');
      await first.consumer.disconnect();
      const committedBefore = broker.committedOffsets(groupId);
      assert.equal(committedBefore.reduce((n, o) => n + o.offset, 0), 3);

      await broker.stop();
      assert.equal(broker.running, false);
      await broker.start();
      assert.equal(broker.port, port);

      await producer.send({ topic, messages: ['d', 'e', 'f'].map((value) => ({ key: value, value })) });
      assert.deepEqual(broker.records(topic).map((r) => r.value?.toString()).sort(), ['a', 'b', 'c', 'd', 'e', 'f']);
      assert.deepEqual(broker.committedOffsets(groupId), committedBefore);

      const second = await clients.consumer(kafka, groupId, topic);
      await second.until(() => second.received.length >= 3, 'messages after the restart');
      assert.deepEqual(second.received.map((m) => m.value).sort(), ['d', 'e', 'f']);
    } finally {
      await clients.closeAll();
      await broker.stop();
    }
  });
});

describe('KafkaTestBroker freeze', () => {
  test('a frozen broker keeps connections open but answers nothing; thawed, it answers what waited (the produce is written)', async () => {
    const broker = await KafkaTestBroker.start({ partitions: 1 });
    const clients = new Clients(broker);
    try {
      const topic = 'frozen';
      const kafka = clients.kafka('freeze', { requestTimeout: 300, retry: { retries: 0 } });
      const producer = await clients.producer(kafka, false);
      await producer.send({ topic, messages: [{ key: 'k', value: 'before' }] });

      broker.freeze();
      assert.equal(broker.frozen, true);
      let closed = false;
      producer.on(producer.events.DISCONNECT, () => (closed = true));
      const started = Date.now();
      await assert.rejects(producer.send({ topic, messages: [{ key: 'k', value: 'during' }] }), (err: Error) => {
        assert.match(`${err.name} ${err.message}`, /timed out/i, 'a request timeout, not a connection error');
        return true;
      });
      assert.ok(Date.now() - started < 5_000, 'failed by kafkajs\'s request timeout');
      assert.equal(closed, false, 'the connection stayed open');
      assert.deepEqual(broker.records(topic).map((r) => r.value?.toString()), ['before'], 'nothing handled while frozen');
      // A new connection is accepted (as the kernel does for a stopped process) but never answered either.
      const admin = clients.kafka('freeze-admin', { requestTimeout: 300, connectionTimeout: 300, retry: { retries: 0 } }).admin();
      await assert.rejects(admin.connect());
      await admin.disconnect();

      broker.thaw();
      assert.equal(broker.frozen, false);
      // The produce that waited in the socket is handled now, as a resumed broker process does.
      await waitForRecords(broker, topic, 2);
      await producer.send({ topic, messages: [{ key: 'k', value: 'after' }] });
      assert.deepEqual(broker.records(topic).map((r) => r.value?.toString()), ['before', 'during', 'after']);
    } finally {
      await clients.closeAll();
      await broker.stop();
    }
  });
});

/** Resolves once the topic holds `n` records (the broker has no change events: checked each turn). */
async function waitForRecords(broker: KafkaTestBroker, topic: string, n: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (broker.records(topic).length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} records in ${topic}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
