/** Committed group offsets: OffsetCommit v5 and OffsetFetch v3-v4. */
import { Writer } from '../codec.js';
import { ApiKey, ErrorCode } from '../protocol.js';
import type { ApiHandler } from './types.js';

/** OffsetCommit v5: accepted from the group's current generation (or from no generation when the group is empty). */
export const offsetCommitHandler: ApiHandler = {
  apiKey: ApiKey.OffsetCommit,
  minVersion: 5,
  maxVersion: 5,
  handle(body, { apiKey, broker }) {
    const groupId = body.string();
    const generationId = body.int32();
    const memberId = body.string();
    const topics = body.array((r) => ({
      topic: r.string(),
      partitions: r.array((p) => ({ partition: p.int32(), offset: p.int64n(), metadata: p.nullableString() })),
    }));
    const fault = broker.faults.take(apiKey, topics.map((t) => t.topic));
    const groupError = groupId === '' ? ErrorCode.INVALID_GROUP_ID : broker.groups.validateCommit(groupId, memberId, generationId);
    const w = new Writer().int32(0);
    return w.array(topics, (w, { topic, partitions }) =>
      w.string(topic).array(partitions, (w, p) => {
        let errorCode: number = groupError;
        if (fault?.appliesTo(topic)) errorCode = fault.errorCode;
        else if (errorCode === ErrorCode.NONE && !broker.store.partition(topic, p.partition)) {
          errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        }
        if (errorCode === ErrorCode.NONE) broker.offsets.commit(groupId, { topic, ...p });
        w.int32(p.partition).int16(errorCode);
      }),
    );
  },
};

/** OffsetFetch v3-v4 (identical on the wire); a null topic list means every committed offset of the group. */
export const offsetFetchHandler: ApiHandler = {
  apiKey: ApiKey.OffsetFetch,
  minVersion: 3,
  maxVersion: 4,
  handle(body, { apiKey, broker }) {
    const groupId = body.string();
    const requested = body.nullableArray((r) => ({ topic: r.string(), partitions: r.array((p) => p.int32()) }));
    const { offsets } = broker;
    const topics =
      requested ??
      [...new Set(offsets.list(groupId).map((o) => o.topic))].map((topic) => ({
        topic,
        partitions: offsets.list(groupId).filter((o) => o.topic === topic).map((o) => o.partition),
      }));
    const fault = broker.faults.take(apiKey, topics.map((t) => t.topic));
    const w = new Writer().int32(0);
    w.array(topics, (w, { topic, partitions }) =>
      w.string(topic).array(partitions, (w, partition) => {
        const committed = offsets.get(groupId, topic, partition);
        const errorCode = fault?.topic !== undefined && fault.appliesTo(topic) ? fault.errorCode : ErrorCode.NONE;
        w.int32(partition).int64(committed?.offset ?? -1).nullableString(committed?.metadata ?? '').int16(errorCode);
      }),
    );
    return w.int16(fault && fault.topic === undefined ? fault.errorCode : ErrorCode.NONE);
  },
};
