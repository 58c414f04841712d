import type { Kafka, Producer, ProducerConfig, TopicMessages } from 'kafkajs';
import { classifyKafkaError } from '../../policies/kafka-errors.js';
import type { SendSettings } from './client.js';
import type { OutgoingRecord } from './records.js';

/** Sends one batch of records and resolves when Kafka acknowledged all of them. */
export interface RecordSender {
  /** `signal` is aborted when the caller gave the send up (its attempt timed out). */
  send(records: readonly OutgoingRecord[], signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaSenderOptions {
  /**
   * One kafkajs send at a time, a send given up by its caller included: the next one waits until
   * kafkajs has settled the previous one (the forwarder). Records (by sequence) that a given-up send
   * delivered after all are not sent again: the caller's retry of them succeeds at once. Without it
   * (the cluster log) sends run side by side and duplicates are removed on reading, by event id.
   */
  readonly serial?: boolean | undefined;
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
  /** Serial mode: settles when the last kafkajs send queued so far has settled. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Serial mode: sequences that a send given up by its caller delivered after all. */
  private readonly deliveredLate = new Set<number>();

  constructor(
    private readonly kafka: Kafka,
    private readonly config: ProducerConfig,
    private readonly settings: SendSettings,
    private readonly options: KafkaSenderOptions = {},
  ) {}

  /**
   * A caller's timeout (kafka.send_timeout) gives a send up, but kafkajs cannot cancel it: its produce
   * request may still be answered, or be written by a broker that resumes. Starting another send of
   * the same records beside it would let both be written under different sequence numbers (the
   * idempotent producer only deduplicates a re-send of the same sequence), hence the serial mode.
   */
  send(records: readonly OutgoingRecord[], signal?: AbortSignal): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    if (!this.options.serial) return this.sendNow(records, signal);
    const run = this.tail.then(() => this.sendInTurn(records, signal));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async sendInTurn(records: readonly OutgoingRecord[], signal: AbortSignal | undefined): Promise<void> {
    // Given up while it waited for its turn: nobody awaits it, and the caller's retry comes after (and
    // finds what a given-up send delivered late: only a caller still waiting may use that up).
    if (signal?.aborted) throw new Error('the send was given up before it started');
    const rest = records.filter((r) => !this.deliveredLate.has(r.sequence));
    if (rest.length > 0) {
      await this.sendNow(rest, signal);
      if (signal?.aborted) {
        for (const r of rest) this.deliveredLate.add(r.sequence);
        return;
      }
    }
    for (const r of records) this.deliveredLate.delete(r.sequence);
  }

  private async sendNow(records: readonly OutgoingRecord[], signal: AbortSignal | undefined): Promise<void> {
    const producer = await this.connected();
    if (signal?.aborted) throw new Error('the send was given up before it started');
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
