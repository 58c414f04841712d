import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
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

/** Takes one partition's batch, with the partition's high watermark when it was fetched. */
export type BatchHandler = (partition: number, messages: KafkaMessage[], highWatermark: number) => void;

/**
 * Reads every partition of the topic in offset order per partition, one batch at a time, from the
 * position its owner gives (the replica's own: nothing is committed to Kafka). Each consumer has a
 * group of its own, so nothing is shared or balanced. When kafkajs gives up (Kafka unreachable for
 * long), the reader starts a fresh consumer in a fresh group from where the replica stands, under a
 * cockatiel retry with backoff: a restarted consumer in the same group would wait for its dead
 * predecessor's session to expire before it got its partitions back.
 */
export class TopicReader {
  private consumer?: Consumer | undefined;
  private generation = 0;
  private stopped = false;
  private readonly restarts = retry(handleAll, {
    maxAttempts: Number.MAX_SAFE_INTEGER,
    backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 5_000 }),
  });
  /** False from a crash until a new consumer has joined; health reports it. */
  healthy = true;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly groupPrefix: string,
    private readonly logger: Logger,
  ) {}

  /** Starts reading at `position()` (next offset per partition); a failure to start rejects. */
  async start(position: () => readonly number[], onBatch: BatchHandler): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `${this.groupPrefix}.${++this.generation}`,
      // Fetches return as soon as a record arrives; this bounds an idle poll, not the latency.
      maxWaitTimeInMs: 500,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000, restartOnFailure: () => Promise.resolve(false) },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.healthy = false;
      this.logger.error({ err: payload.error }, 'cluster topic reader crashed; restarting it from where it stands');
      void this.restart(position, onBatch);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const running = consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => Promise.resolve(onBatch(batch.partition, batch.messages, Number(batch.highWatermark))),
    });
    // run() creates the consumer group synchronously: seeking now applies before the first fetch.
    position().forEach((offset, partition) => consumer.seek({ topic: this.topic, partition, offset: String(offset) }));
    await running;
    this.healthy = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect().catch((err: unknown) => this.logger.warn({ err }, 'cluster topic reader did not disconnect cleanly'));
  }

  private async restart(position: () => readonly number[], onBatch: BatchHandler): Promise<void> {
    await this.restarts.execute(async () => {
      if (this.stopped) return;
      await this.consumer?.disconnect().catch(() => undefined);
      await this.start(position, onBatch);
    }).catch((err: unknown) => this.logger.error({ err }, 'cluster topic reader could not restart'));
  }
}
