/** Helpers for tests of the Kafka forwarder: status waits, the dead letter RPCs, a short-lived consumer. */
import type { ServiceError } from '@grpc/grpc-js';
import kafkajs from 'kafkajs';
import type {
  AuditServiceClient, ListDeadLettersRequest, ListDeadLettersResponse, RedriveDeadLettersRequest, RedriveDeadLettersResponse,
} from '../../generated/audit/v1/audit_service.js';
import type { ForwarderStatus } from '../../src/transports/kafka/index.js';
import type { KafkaTestBroker } from './kafka-broker/index.js';
import { type TestServer, within } from './server.js';

const { Kafka, logLevel } = kafkajs;

/**
 * Kafka settings for tests: short retry delays and breaker timings so an outage test runs in seconds,
 * no linger, and the test broker's address.
 */
export function fastKafka(broker: KafkaTestBroker, extra: Record<string, unknown> = {}) {
  return {
    enabled: true,
    brokers: broker.brokers,
    linger_ms: 0,
    max_retries: 2,
    retry_delay: 10,
    retry_backoff: 50,
    request_timeout: 5_000,
    circuit_breaker: { threshold: 3, half_open_after: 200 },
    ...extra,
  };
}

/** Resolves once the forwarder's status satisfies `check`; re-checked on every forwarder change, no polling. */
export function forwarderUntil(server: TestServer, what: string, check: (s: ForwarderStatus) => boolean, ms = 15_000): Promise<ForwarderStatus> {
  const kafka = server.app.kafka;
  if (!kafka) throw new Error('kafka is not enabled on this server');
  let remove = (): void => undefined;
  const met = new Promise<ForwarderStatus>((resolve) => {
    const test = (): void => {
      const s = kafka.status();
      if (check(s)) resolve(s);
    };
    remove = kafka.forwarder.onChange(test);
    test();
  });
  return within(met, `${what} (status ${JSON.stringify(kafka.status())})`, ms).finally(remove);
}

/** Waits until Kafka acknowledged (or dead-lettered) everything up to `sequence`. */
export function forwardedThrough(server: TestServer, sequence: number, ms?: number): Promise<ForwarderStatus> {
  return forwarderUntil(server, `cursor ${sequence}`, (s) => s.cursor >= sequence, ms);
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
const promised = <Res>(start: (cb: Callback<Res>) => unknown): Promise<Res> =>
  new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));

export function deadLetterApi(client: AuditServiceClient) {
  return {
    list: (req: Partial<ListDeadLettersRequest> = {}) =>
      promised<ListDeadLettersResponse>((cb) => client.listDeadLetters({ limit: 0, pageToken: '', ...req }, cb)),
    redrive: (req: Partial<RedriveDeadLettersRequest> = {}) =>
      promised<RedriveDeadLettersResponse>((cb) => client.redriveDeadLetters({ sequences: [], limit: 0, ...req }, cb)),
  };
}

export interface Consumed {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

/**
 * Reads `topics` from the beginning with a kafkajs group consumer until `count` messages arrived, then
 * disconnects it (an idle kafkajs consumer keeps fetching and burns CPU).
 */
export async function consume(broker: KafkaTestBroker, topics: string[], count: number, ms = 15_000): Promise<Consumed[]> {
  const kafka = new Kafka({ clientId: 'test-consumer', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `test-${topics.join('-')}-${Date.now()}`, maxWaitTimeInMs: 100, heartbeatInterval: 200, sessionTimeout: 10_000, rebalanceTimeout: 10_000,
  });
  const received: Consumed[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await within(new Promise<void>((resolve, reject) => {
      consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          received.push({ topic, partition, offset: Number(message.offset), key: message.key?.toString() ?? '', value: message.value!, headers });
          if (received.length >= count) resolve();
        },
      }).catch(reject);
    }), `${count} messages from ${topics.join(', ')} (have ${received.length})`, ms);
    return received;
  } finally {
    await consumer.disconnect();
  }
}
