import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import kafkajs, { type KafkaConfig, type LogEntry, type ProducerConfig, type SASLOptions } from 'kafkajs';
import createSnappyCodec from 'kafkajs-snappy';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { KafkaPolicy } from '../../policies/kafka-policy.js';

const { CompressionCodecs, CompressionTypes, Kafka, logLevel, Partitioners } = kafkajs;

export type KafkaSettings = Config['kafka'];

/** What a produce request carries besides the messages. */
export interface SendSettings {
  readonly acks: number;
  readonly timeout: number;
  readonly compression: kafkajs.CompressionTypes;
}

const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
} as const;

/**
 * The kafkajs client for the forwarder. kafkajs's own retries are turned down so that the one
 * cockatiel policy (src/policies/kafka-policy.ts) decides every retry and attempts do not multiply.
 */
export function createKafkaClient(k: KafkaSettings, logger: Logger, retries = 0): kafkajs.Kafka {
  if (k.compression_type === 'snappy') CompressionCodecs[CompressionTypes.Snappy] = createSnappyCodec;
  const tls = tlsOptions(k.tls);
  const ssl = tls === undefined ? {} : { ssl: tls };
  const config: KafkaConfig = {
    clientId: k.client_id,
    brokers: k.brokers,
    requestTimeout: k.request_timeout,
    // Every request in flight fails after requestTimeout (kafkajs's default, made explicit: without it a
    // broker that stops answering leaves requests waiting forever).
    enforceRequestTimeout: true,
    // Connecting and metadata refreshes: one attempt where a cockatiel policy retries (the forwarder).
    retry: { retries },
    ...ssl,
    ...(k.sasl ? { sasl: { mechanism: k.sasl.mechanism, username: k.sasl.username, password: k.sasl.password } as SASLOptions } : {}),
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => logEntry(logger, entry),
  };
  return new Kafka(config);
}

export function producerConfig(k: KafkaSettings): ProducerConfig {
  return {
    idempotent: k.idempotent_writes,
    // One request in flight per broker: a retried batch can never overtake a later one (per-key order).
    maxInFlightRequests: 1,
    // kafkajs refuses an idempotent producer with 0 retries; 1 is its minimum. Sequence numbers are
    // rolled back on a failed send, so the policy's re-send of the same batch is deduplicated by the
    // broker either way.
    retry: { retries: k.idempotent_writes ? 1 : 0, initialRetryTime: 50, maxRetryTime: k.retry_backoff },
    allowAutoTopicCreation: true,
    // Murmur2 like the Java client, so keys land in the partitions other Kafka clients expect.
    createPartitioner: Partitioners.DefaultPartitioner,
  };
}

/** The one cockatiel policy (retry outside a breaker, each attempt bounded by send_timeout) around sends, from kafka.* settings. */
export function kafkaPolicy(k: KafkaSettings): KafkaPolicy {
  return new KafkaPolicy({
    attemptTimeoutMs: k.send_timeout,
    maxRetries: k.max_retries,
    retryDelayMs: k.retry_delay,
    retryBackoffMs: k.retry_backoff,
    breakerThreshold: k.circuit_breaker.threshold,
    halfOpenAfterMs: k.circuit_breaker.half_open_after,
  });
}

export function sendSettings(k: KafkaSettings): SendSettings {
  return { acks: k.required_acks, timeout: k.request_timeout, compression: COMPRESSION[k.compression_type] };
}

function tlsOptions(tls: KafkaSettings['tls']): ConnectionOptions | boolean | undefined {
  if (!tls.enabled) return undefined;
  if (!tls.ca_file && !tls.cert_file) return true;
  // Read once at start: a missing file fails the start with its path, not the first send.
  return {
    ca: tls.ca_file ? [readFileSync(tls.ca_file, 'utf8')] : undefined,
    cert: tls.cert_file ? readFileSync(tls.cert_file, 'utf8') : undefined,
    key: tls.key_file ? readFileSync(tls.key_file, 'utf8') : undefined,
  };
}

/**
 * kafkajs logs every failed attempt at error level; during an outage that would flood the log with one
 * line per try. The forwarder logs what matters (circuit changes, dead letters) itself, so kafkajs's
 * lines go to debug, where they help when looking into a problem.
 */
function logEntry(logger: Logger, { namespace, log }: LogEntry): void {
  // pino stamps its own time; kafkajs's timestamp would only duplicate it.
  const extra = Object.fromEntries(Object.entries(log).filter(([key]) => key !== 'message' && key !== 'timestamp'));
  logger.debug({ kafkajs: namespace, ...extra }, log.message);
}
