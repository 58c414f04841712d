import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { AuditEvent } from '../../../generated/audit/v1/event.js';
import type { Config } from '../../config/schema.js';
import { encodeStoredEvent } from '../../contract/event-encoding.js';
import { fromRecordEvent } from '../../contract/event-mapping.js';
import type { Clock } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import { DownstreamLog } from '../../policies/downstream-log.js';
import type { RecordCodec, SharedTopic } from '../../store/shared-topic.js';
import { createKafkaClient, kafkaPolicy, producerConfig, sendSettings } from './client.js';
import { keyFor } from './records.js';
import { KafkaSender } from './sender.js';
import { prepareTopic, TopicReader } from './topic-reader.js';

/** Records of the cluster topic: the event's protobuf encoding (as toProtoEvent writes it), keyed by entity. */
export const clusterRecordCodec: RecordCodec = {
  encode: (event) => ({ key: keyFor(event), value: encodeStoredEvent({ ...event, sequence: 0, cursor: '' }) }),
  decode: (value) => fromRecordEvent(AuditEvent.decode(value)),
};

/**
 * Cluster mode's shared log on Kafka: prepares the topic (partitions, the offsets where this node's
 * history starts), sends through the idempotent producer with acks from every in-sync replica and the
 * one cockatiel policy, and reads every partition with a consumer group of this process's own.
 */
export async function openKafkaTopic(kafkaSettings: Config['kafka'], cluster: Config['cluster'], clock: Clock, logger: Logger): Promise<SharedTopic> {
  const nodeId = cluster.node_id ?? hostname();
  const log = logger.child({ component: 'cluster', node: nodeId });
  const kafka = createKafkaClient(kafkaSettings, log, 5);
  const admin = kafka.admin();
  const layout = await admin.connect()
    .then(() => prepareTopic(admin, cluster.topic, cluster.partitions, clock.now().getTime() - cluster.history))
    .catch((err: unknown) => {
      throw new Error(`cluster mode: cannot open topic ${cluster.topic} on ${kafkaSettings.brokers.join(', ')}: ${err instanceof Error ? err.message : String(err)}`);
    })
    .finally(() => admin.disconnect());
  const policy = kafkaPolicy(kafkaSettings);
  // Failing, circuit open, still failing (at most every 30 s), recovered: one line each (it listens on the policy).
  new DownstreamLog(policy, log, { downstream: 'kafka-log', label: 'Kafka (cluster log)' });
  const sender = new KafkaSender(kafka, producerConfig(kafkaSettings), { ...sendSettings(kafkaSettings), acks: -1 });
  const reader = new TopicReader(kafka, cluster.topic, `auditstream.${nodeId}.${randomUUID()}`, log);
  return {
    start: layout.start,
    high: layout.high,
    send: (records, signal) => policy.execute((attempt) => sender.send(records.map((r) => ({
      topic: cluster.topic, sequence: 0,
      message: { key: r.key, value: Buffer.from(r.value), timestamp: String(r.timestamp), headers: { ...r.headers } },
    })), attempt), signal),
    read: (position, onBatch) => reader.start(position, (partition, messages, high) => onBatch(partition, messages.map((m) => ({
      offset: Number(m.offset), value: m.value, header: (name: string) => m.headers?.[name]?.toString(),
    })), high)),
    // Kafka is reachable (the reader runs) and the circuit lets a send through: closed, or open but due
    // for its test send (someone has to publish for it to close again); half-open, a test is under way.
    writable: () => reader.healthy && (policy.circuit === 'closed' || (policy.circuit === 'open' && policy.msUntilHalfOpen() === 0)),
    get circuit() {
      return policy.circuit;
    },
    close: async () => {
      await reader.stop();
      await sender.close();
    },
  };
}
