/**
 * The one place Kafka send errors are classified. Structural (by the `name`, `type` and `retriable`
 * fields kafkajs sets) so this layer needs no kafkajs import.
 *
 * - transient: the downstream is unavailable or busy (connection refused or lost, timeouts, leader
 *   changes, missing metadata, authentication and authorization failures). Retried with backoff, counted
 *   by the circuit breaker, never dead-lettered: an outage must lose nothing, and refused credentials or
 *   ACLs are fixed by an operator, after which everything flows again.
 * - rejected: Kafka refuses these records for good (too large, invalid, bad timestamp). Retrying the same
 *   bytes cannot help: not retried, isolated and dead-lettered at once.
 * - fatal: any other non-retriable error (unknown broker errors, an encoding bug). Retried (it may be a
 *   passing state), then treated like a rejection: isolated and dead-lettered.
 */
export type KafkaErrorKind = 'transient' | 'rejected' | 'fatal';

export interface KafkaErrorClass {
  readonly kind: KafkaErrorKind;
  /** The Kafka error type (e.g. MESSAGE_TOO_LARGE) or the error's class name: a dead letter's reason. */
  readonly reason: string;
  readonly message: string;
  /**
   * The idempotent producer's sequence state no longer matches the broker's (e.g. after the broker lost
   * it): the producer must be recreated, with a new producer id, before the next attempt.
   */
  readonly resetProducer: boolean;
}

/** Kafka error types that refuse the records themselves. */
const REJECTED_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'INVALID_TOPIC_EXCEPTION',
  'POLICY_VIOLATION',
]);

/** Non-retriable in Kafka's table, but about the connection or the cluster, not the records. */
const DOWNSTREAM_TYPES = new Set([
  'BROKER_NOT_AVAILABLE',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);

/** Idempotent producer state errors: transient once the producer is recreated. */
const PRODUCER_STATE_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/**
 * A send attempt that got no answer within kafka.send_timeout (thrown by the policy, see
 * kafka-policy.ts): a broker that stopped answering, with its sockets still open, looks like this.
 * It is transient (retried, counted by the circuit breaker) like kafkajs's own request timeout.
 */
export class KafkaSendTimeoutError extends Error {
  override readonly name = 'KafkaSendTimeoutError';
  readonly retriable = true;

  constructor(readonly timeoutMs: number) {
    super(`no answer from Kafka within ${timeoutMs} ms (kafka.send_timeout)`);
  }
}

/** kafkajs client-side errors that mean "cannot reach the cluster right now", and our send timeout. */
const TRANSIENT_NAMES = new Set([
  'KafkaSendTimeoutError',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSSASLAuthenticationError',
]);

interface ErrorLike {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly message?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/** The error and everything it wraps (kafkajs wraps the broker's error in retry and aggregate errors). */
function chain(err: unknown): ErrorLike[] {
  const links: ErrorLike[] = [];
  const pending: unknown[] = [err];
  while (pending.length > 0 && links.length < 16) {
    const e = pending.shift();
    if (!e || typeof e !== 'object' || links.includes(e)) continue;
    const link = e as ErrorLike;
    links.push(link);
    pending.push(link.cause);
    if (Array.isArray(link.errors)) pending.push(...(link.errors as unknown[]));
  }
  return links;
}

export function classifyKafkaError(err: unknown): KafkaErrorClass {
  const links = chain(err);
  const types = links.map((l) => (typeof l.type === 'string' ? l.type : undefined)).filter((t): t is string => !!t);
  const names = links.map((l) => (typeof l.name === 'string' ? l.name : ''));
  const innermost = links.at(-1);
  const message = String(innermost?.message ?? err);
  const result = (kind: KafkaErrorKind, reason: string, resetProducer = false): KafkaErrorClass =>
    ({ kind, reason, message, resetProducer });

  const rejected = types.find((t) => REJECTED_TYPES.has(t));
  if (rejected) return result('rejected', rejected);
  const producerState = types.find((t) => PRODUCER_STATE_TYPES.has(t));
  if (producerState) return result('transient', producerState, true);
  const downstream = types.find((t) => DOWNSTREAM_TYPES.has(t));
  if (downstream) return result('transient', downstream);
  // A broker error with its own retriable flag (kafkajs copies Kafka's table).
  const protocol = links.find((l) => typeof l.type === 'string');
  if (protocol) return result(protocol.retriable === true ? 'transient' : 'fatal', String(protocol.type));
  const transient = names.find((n) => TRANSIENT_NAMES.has(n));
  if (transient) return result('transient', transient);
  // A kafkajs error that says it is retriable, with no broker error inside (e.g. "cluster not connected").
  if (links.some((l) => typeof l.name === 'string' && l.name.startsWith('KafkaJS') && l.retriable === true)) {
    return result('transient', names.find((n) => n.startsWith('KafkaJS')) ?? 'KafkaJSError');
  }
  return result('fatal', names.at(-1) || 'Error');
}
