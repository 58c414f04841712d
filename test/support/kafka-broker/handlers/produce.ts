/** Produce v5-v7 (identical on the wire; v3+ carries record batch v2). */
import { Writer } from '../codec.js';
import type { ActiveFault } from '../faults.js';
import { isValidTopicName } from '../log-store.js';
import { ApiKey, ErrorCode } from '../protocol.js';
import { RecordBatchError, decodeRecordBatches } from '../record-batch.js';
import type { ApiHandler, BrokerState } from './types.js';

interface PartitionData {
  readonly partition: number;
  readonly records: Buffer | null;
}

interface PartitionResult {
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: number;
}

export const produceHandler: ApiHandler = {
  apiKey: ApiKey.Produce,
  minVersion: 5,
  maxVersion: 7,
  async handle(body, { apiKey, broker }) {
    const transactionalId = body.nullableString();
    const acks = body.int16();
    body.int32(); // timeout: appends are synchronous, nothing to wait for
    const topics = body.array((r) => ({
      topic: r.string(),
      partitions: r.array((p): PartitionData => ({ partition: p.int32(), records: p.nullableBytes() })),
    }));
    const fault = broker.faults.take(apiKey, topics.map((t) => t.topic));

    const results: Array<{ topic: string; partitions: PartitionResult[] }> = [];
    for (const { topic, partitions } of topics) {
      const out: PartitionResult[] = [];
      for (const data of partitions) {
        const errorCode =
          acks !== -1 && acks !== 0 && acks !== 1 ? ErrorCode.INVALID_REQUIRED_ACKS
          : transactionalId !== null ? ErrorCode.INVALID_TXN_STATE
          : undefined;
        out.push(errorCode !== undefined ? failed(data.partition, errorCode) : await append(broker, topic, data, fault));
      }
      results.push({ topic, partitions: out });
    }
    if (acks === 0) return null;

    const w = new Writer();
    w.array(results, (w, t) =>
      w.string(t.topic).array(t.partitions, (w, p) =>
        w
          .int32(p.partition)
          .int16(p.errorCode)
          .int64(p.baseOffset)
          .int64(-1) // log append time: topics use CreateTime
          .int64(p.errorCode === ErrorCode.NONE ? 0 : -1), // log start offset
      ),
    );
    return w.int32(0);
  },
};

const failed = (partition: number, errorCode: number): PartitionResult => ({ partition, errorCode, baseOffset: -1 });

async function append(broker: BrokerState, topic: string, data: PartitionData, fault: ActiveFault | undefined): Promise<PartitionResult> {
  const { store, config } = broker;
  const { partition, records } = data;
  if (fault?.appliesTo(topic)) return failed(partition, fault.errorCode);
  if (!store.partitions(topic) && config.autoCreateTopics && isValidTopicName(topic)) store.createTopic(topic);
  const log = store.partition(topic, partition);
  if (!log) return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (!records || records.length === 0) return failed(partition, ErrorCode.CORRUPT_MESSAGE);
  if (records.length > config.maxMessageBytes) return failed(partition, ErrorCode.MESSAGE_TOO_LARGE);

  let batches;
  try {
    batches = await decodeRecordBatches(records);
  } catch (err) {
    if (err instanceof RecordBatchError) return failed(partition, err.errorCode);
    throw err;
  }
  // Produce v3+ must carry exactly one batch per partition.
  const batch = batches.length === 1 ? batches[0]! : undefined;
  if (!batch || batch.isControl) return failed(partition, ErrorCode.INVALID_RECORD);
  if (batch.isTransactional) return failed(partition, ErrorCode.INVALID_TXN_STATE);

  const check = log.producers.check(batch.producerId, batch.producerEpoch, batch.baseSequence, batch.lastOffsetDelta);
  if (check.kind === 'reject') return failed(partition, check.errorCode);
  if (check.kind === 'duplicate') return { partition, errorCode: ErrorCode.NONE, baseOffset: check.baseOffset };
  const baseOffset = store.append(log, batch);
  log.producers.appended(batch.producerId, batch.producerEpoch, batch.baseSequence, batch.lastOffsetDelta, baseOffset);
  return { partition, errorCode: ErrorCode.NONE, baseOffset };
}
