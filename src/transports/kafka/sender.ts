import type { Kafka, Producer, ProducerConfig, TopicMessages } from 'kafkajs';
import { classifyKafkaError } from '../../policies/kafka-errors.js';
import type { SendSettings } from './client.js';
import type { OutgoingRecord } from './records.js';

/** Sends one batch of records and resolves when Kafka acknowledged all of them. */
export interface RecordSender {
  send(records: readonly OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * One kafkajs producer, connected on first use (so the service starts while Kafka is down) and kept
 * for its whole life: the idempotent producer's id and sequence numbers are what let the broker drop a
 * batch that is sent again after a lost acknowledgement. Only a producer-state error replaces it.
 */
export class KafkaSender implements RecordSender {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly config: ProducerConfig,
    private readonly settings: SendSettings,
  ) {}

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const producer = await this.connected();
    try {
      await producer.sendBatch({ ...this.settings, topicMessages: byTopic(records) });
    } catch (err) {
      if (classifyKafkaError(err).resetProducer) await this.drop(producer);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer ?? (await this.connecting?.catch(() => undefined));
    this.producer = undefined;
    if (producer) await producer.disconnect().catch(() => undefined);
  }

  private connected(): Promise<Producer> {
    if (this.closed) return Promise.reject(new Error('the Kafka sender is closed'));
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const producer = this.kafka.producer(this.config);
      try {
        await producer.connect();
      } catch (err) {
        // A failed connect still leaves sockets and timers behind.
        await producer.disconnect().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await producer.disconnect().catch(() => undefined);
        throw new Error('the Kafka sender is closed');
      }
      this.producer = producer;
      return producer;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async drop(producer: Producer): Promise<void> {
    if (this.producer === producer) this.producer = undefined;
    await producer.disconnect().catch(() => undefined);
  }
}

/** Groups records per topic, keeping their order within each topic (and so within each key). */
function byTopic(records: readonly OutgoingRecord[]): TopicMessages[] {
  const topics = new Map<string, TopicMessages>();
  for (const r of records) {
    let t = topics.get(r.topic);
    if (!t) topics.set(r.topic, (t = { topic: r.topic, messages: [] }));
    t.messages.push(r.message);
  }
  return [...topics.values()];
}
