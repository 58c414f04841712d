import type { Dispatcher } from '../../dispatch/dispatcher.js';
import { type Checkpoint, checkpointToJson } from '../../domain/checkpoint.js';
import type { DeadLetterStore } from '../../domain/dead-letters.js';
import type { Logger } from '../../observability/logger.js';
import { MemoryDeadLetters } from '../../store/memory-dead-letters.js';
import { SqliteDeadLetters } from '../../store/sqlite-dead-letters.js';
import type { SqliteEventLog } from '../../store/sqlite-event-log.js';
import { createKafkaClient, kafkaPolicy, type KafkaSettings, producerConfig, sendSettings } from './client.js';
import { DeadLetterOps } from './dead-letter-ops.js';
import { type CursorStore, KafkaForwarder, type ForwarderStatus } from './forwarder.js';
import { KafkaSender, type RecordSender } from './sender.js';

export type { KafkaSettings } from './client.js';
export type { ForwarderStatus } from './forwarder.js';

/** The cursor's name in the log's `cursors` table. */
export const CURSOR_NAME = 'kafka-forwarder';

/** The Kafka sink as the composition root and the gRPC handlers see it. */
export interface KafkaSink {
  readonly forwarder: KafkaForwarder;
  readonly deadLetters: DeadLetterOps;
  status(): ForwarderStatus;
  /** Starts forwarding from the committed cursor; new events wake it. */
  start(): void;
  /**
   * Sends a signed checkpoint to `topic` (key "checkpoint", JSON value) through the same policy, so
   * Kafka's consumers witness the log's head; best effort: a failure is logged, the file keeps it.
   */
  sendCheckpoint(topic: string, cp: Checkpoint): void;
  /** Flushes what is stored, bounded by `timeoutMs`, and closes the producer. */
  stop(timeoutMs: number): Promise<void>;
}

export interface KafkaSinkDeps {
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  /** Where the forwarder keeps its cursor and dead letters (see kafkaStoresIn, memoryKafkaStores). */
  readonly stores: KafkaStores;
  /** Tests and the bench may replace the kafkajs sender. */
  readonly sender?: RecordSender | undefined;
}

/** The forwarder's own state: how far it got, and what Kafka refused for good. */
export interface KafkaStores {
  readonly cursor: CursorStore;
  readonly deadLetters: DeadLetterStore;
}

/** In the SQLite log's database, so they survive restarts with the events (and are in its backups). */
export function kafkaStoresIn(log: SqliteEventLog): KafkaStores {
  return {
    cursor: { get: () => log.getCursor(CURSOR_NAME), set: (sequence) => log.setCursor(CURSOR_NAME, sequence) },
    deadLetters: new SqliteDeadLetters(log.database),
  };
}

/** In memory, like a log that keeps nothing across restarts (or one on another machine: cluster mode). */
export function memoryKafkaStores(): KafkaStores {
  let position = 0;
  return { cursor: { get: () => position, set: (sequence) => (position = sequence) }, deadLetters: new MemoryDeadLetters() };
}

/** Wires the forwarder over the dispatcher's log, with the stores the composition root chose. */
export function createKafkaSink(k: KafkaSettings, deps: KafkaSinkDeps): KafkaSink {
  const log = deps.dispatcher.log;
  const logger = deps.logger.child({ component: 'kafka' });
  const { cursor, deadLetters } = deps.stores;
  const policy = kafkaPolicy(k);
  const sender = deps.sender ?? new KafkaSender(createKafkaClient(k, logger), producerConfig(k), sendSettings(k), { serial: true });
  const forwarder = new KafkaForwarder(
    {
      log, cursor, deadLetters, policy, sender, logger,
      routing: { enableTopicRouting: k.enable_topic_routing, topic: k.topic, topicPrefix: k.topic_prefix, valueFormat: k.value_format },
    },
    { batchSize: k.batch_size, lingerMs: k.linger_ms, retryBackoffMs: k.retry_backoff },
  );
  const ops = new DeadLetterOps(deadLetters, log, forwarder, logger);
  let unsubscribe: (() => void) | undefined;
  return {
    forwarder,
    deadLetters: ops,
    status: () => forwarder.status(),
    start() {
      unsubscribe ??= deps.dispatcher.onStored(() => forwarder.wake());
      const { cursor: at, lag } = forwarder.status();
      logger.info({ brokers: k.brokers, cursor: at, lag }, 'Kafka forwarder started');
      forwarder.wake();
    },
    sendCheckpoint(topic, cp) {
      // A negative sequence: the serial sender remembers late deliveries by sequence, and events' are positive.
      const record = { sequence: -cp.sequence, topic, message: { key: 'checkpoint', value: JSON.stringify(checkpointToJson(cp)), timestamp: String(cp.time.getTime()) } };
      policy.execute((signal) => sender.send([record], signal))
        .catch((err: unknown) => logger.warn({ err, sequence: cp.sequence }, 'could not send a checkpoint to Kafka; it is kept in the checkpoints file'));
    },
    async stop(timeoutMs) {
      unsubscribe?.();
      await forwarder.stop(timeoutMs);
      const { cursor: at, lag } = forwarder.status();
      logger.info({ cursor: at, lag }, 'Kafka forwarder stopped');
    },
  };
}
