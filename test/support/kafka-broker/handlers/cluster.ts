/** Cluster-level APIs: Metadata, CreateTopics, FindCoordinator, InitProducerId. */
import { Writer } from '../codec.js';
import { isValidTopicName } from '../log-store.js';
import { ApiKey, ErrorCode } from '../protocol.js';
import type { ApiHandler, BrokerState } from './types.js';

/** Metadata v5-v6 (identical on the wire). */
export const metadataHandler: ApiHandler = {
  apiKey: ApiKey.Metadata,
  minVersion: 5,
  maxVersion: 6,
  handle(body, { apiKey, broker }) {
    const requested = body.nullableArray((r) => r.string());
    const allowAutoCreate = body.bool();
    const { store, config } = broker;
    const names = requested ? [...new Set(requested)] : store.topicNames();
    const fault = broker.faults.take(apiKey, names);
    const w = new Writer().int32(0);
    w.array([config], (w, b) => w.int32(b.nodeId).string(b.host).int32(b.port).nullableString(null));
    w.nullableString(config.clusterId).int32(config.nodeId);
    w.array(names, (w, topic) => {
      let errorCode: number = ErrorCode.NONE;
      if (fault?.appliesTo(topic)) errorCode = fault.errorCode;
      else if (!store.partitions(topic)) {
        if (!isValidTopicName(topic)) errorCode = ErrorCode.INVALID_TOPIC_EXCEPTION;
        else if (allowAutoCreate && config.autoCreateTopics) store.createTopic(topic);
        else errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      }
      const partitions = errorCode === ErrorCode.NONE ? (store.partitions(topic) ?? []) : [];
      w.int16(errorCode).string(topic).bool(false);
      w.array(partitions, (w, p) =>
        w
          .int16(ErrorCode.NONE)
          .int32(p.partition)
          .int32(config.nodeId)
          .int32Array([config.nodeId])
          .int32Array([config.nodeId])
          .int32Array([]),
      );
    });
    return w;
  },
};

interface CreateTopicRequest {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  assignedPartitions: number;
}

/** CreateTopics v2-v3 (identical on the wire). */
export const createTopicsHandler: ApiHandler = {
  apiKey: ApiKey.CreateTopics,
  minVersion: 2,
  maxVersion: 3,
  handle(body, { apiKey, broker }) {
    const topics = body.array((r): CreateTopicRequest => {
      const topic = r.string();
      const numPartitions = r.int32();
      const replicationFactor = r.int16();
      const assignedPartitions = r.array((a) => [a.int32(), a.array((x) => x.int32())]).length;
      r.array((c) => [c.string(), c.nullableString()]); // config entries: accepted, not applied
      return { topic, numPartitions, replicationFactor, assignedPartitions };
    });
    body.int32(); // timeout
    const validateOnly = body.bool();
    const fault = broker.faults.take(apiKey, topics.map((t) => t.topic));
    const seen = new Map<string, number>();
    for (const t of topics) seen.set(t.topic, (seen.get(t.topic) ?? 0) + 1);
    const w = new Writer().int32(0);
    w.array(topics, (w, t) => {
      const [errorCode, message] =
        fault?.appliesTo(t.topic) ? [fault.errorCode, 'injected fault'] : createTopic(broker, t, seen.get(t.topic)! > 1, validateOnly);
      w.string(t.topic).int16(errorCode).nullableString(message);
    });
    return w;
  },
};

function createTopic(broker: BrokerState, t: CreateTopicRequest, duplicate: boolean, validateOnly: boolean): [number, string | null] {
  const { store } = broker;
  if (duplicate) return [ErrorCode.INVALID_REQUEST, `topic ${t.topic} appears more than once`];
  if (!isValidTopicName(t.topic)) return [ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name ${t.topic}`];
  if (store.partitions(t.topic)) return [ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${t.topic} already exists`];
  const partitions = t.numPartitions === -1 ? t.assignedPartitions || store.defaultPartitions : t.numPartitions;
  if (partitions < 1) return [ErrorCode.INVALID_PARTITIONS, `number of partitions must be positive: ${partitions}`];
  if (t.replicationFactor === 0 || t.replicationFactor < -1 || t.replicationFactor > 1) {
    return [ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor} with 1 broker available`];
  }
  if (!validateOnly) store.createTopic(t.topic, partitions);
  return [ErrorCode.NONE, null];
}

/** FindCoordinator v1-v2: this broker coordinates every group and transactional id. */
export const findCoordinatorHandler: ApiHandler = {
  apiKey: ApiKey.FindCoordinator,
  minVersion: 1,
  maxVersion: 2,
  handle(body, { apiKey, broker }) {
    body.string(); // coordinator key
    const keyType = body.int8();
    const fault = broker.faults.take(apiKey, []);
    const errorCode = fault ? fault.errorCode : keyType === 0 || keyType === 1 ? ErrorCode.NONE : ErrorCode.INVALID_REQUEST;
    const w = new Writer().int32(0).int16(errorCode).nullableString(null);
    if (errorCode !== ErrorCode.NONE) return w.int32(-1).string('').int32(-1);
    const { nodeId, host, port } = broker.config;
    return w.int32(nodeId).string(host).int32(port);
  },
};

/** InitProducerId v0-v1 (identical on the wire). */
export const initProducerIdHandler: ApiHandler = {
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 1,
  handle(body, { apiKey, broker }) {
    const transactionalId = body.nullableString();
    body.int32(); // transaction timeout
    const fault = broker.faults.take(apiKey, []);
    if (fault) return new Writer().int32(0).int16(fault.errorCode).int64(-1).int16(-1);
    const { producerId, epoch } = broker.producerIds.allocate(transactionalId);
    return new Writer().int32(0).int16(ErrorCode.NONE).int64(producerId).int16(epoch);
  },
};
