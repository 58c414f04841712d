import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../../observability/logger.js';

/** The shared topic as a starting node finds it. */
export interface TopicLayout {
  readonly partitions: number;
  /** Per partition: where this node starts reading (the first offset at or after the history start). */
  readonly start: number[];
  /** Per partition: the high watermark when the node started; it serves once it has read this far. */
  readonly high: number[];
}

/**
 * Creates the topic when it is missing, then finds per partition where a node that keeps
 * `historyFrom` onwards starts: Kafka's offsets by timestamp, never below the log start.
 */
export async function prepareTopic(admin: Admin, topic: string, partitions: number, historyFrom: number): Promise<TopicLayout> {
  if (!(await admin.listTopics()).includes(topic)) {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  }
  const watermarks = await admin.fetchTopicOffsets(topic);
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, historyFrom);
  const count = watermarks.length;
  const start: number[] = new Array<number>(count).fill(0);
  const high: number[] = new Array<number>(count).fill(0);
  for (const w of watermarks) {
    const fromTime = Number(byTime.find((t) => t.partition === w.partition)?.offset ?? w.high);
    start[w.partition] = Math.max(Number(w.low), fromTime < 0 ? Number(w.high) : fromTime);
    high[w.partition] = Number(w.high);
  }
  return { partitions: count, start, high };
}

/**
 * Reads every partition of the topic from given offsets, in offset order per partition, one batch
 * at a time. The consumer group is this process's own (nothing is shared or balanced); its commits
 * only let kafkajs resume where it was if its consumer restarts after a crash.
 */
export class TopicReader {
  private consumer?: Consumer;
  /** False once the consumer crashed for good; health reports it. */
  healthy = true;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly groupId: string,
    private readonly logger: Logger,
  ) {}

  async start(start: readonly number[], onBatch: (partition: number, messages: KafkaMessage[]) => void): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      // Fetches return as soon as a record arrives; this bounds an idle poll, not the latency.
      maxWaitTimeInMs: 500,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.healthy = payload.restart;
      this.logger.error({ err: payload.error, restart: payload.restart }, 'cluster topic reader crashed');
    });
    consumer.on(consumer.events.GROUP_JOIN, () => (this.healthy = true));
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const running = consumer.run({
      autoCommit: true,
      eachBatch: async ({ batch }) => onBatch(batch.partition, batch.messages),
    });
    // run() creates the consumer group synchronously: seeking now applies before the first fetch.
    start.forEach((offset, partition) => consumer.seek({ topic: this.topic, partition, offset: String(offset) }));
    await running;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch((err: unknown) => this.logger.warn({ err }, 'cluster topic reader did not disconnect cleanly'));
  }
}
