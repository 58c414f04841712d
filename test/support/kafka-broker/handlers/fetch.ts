/** Reading the log: Fetch v11 (long poll) and ListOffsets v2-v3. */
import { Writer } from '../codec.js';
import type { ActiveFault } from '../faults.js';
import { LEADER_EPOCH, type LogStore } from '../log-store.js';
import { ApiKey, EARLIEST_TIMESTAMP, ErrorCode, LATEST_TIMESTAMP } from '../protocol.js';
import type { ApiHandler } from './types.js';

interface FetchPartition {
  readonly topic: string;
  readonly partition: number;
  readonly currentLeaderEpoch: number;
  readonly fetchOffset: number;
  readonly maxBytes: number;
}

interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly records: Buffer;
}

/**
 * Fetch v11. Sessions (KIP-227) are not created: a full fetch (session id 0)
 * is answered with session id 0, so clients keep sending full fetches.
 */
export const fetchHandler: ApiHandler = {
  apiKey: ApiKey.Fetch,
  minVersion: 11,
  maxVersion: 11,
  async handle(body, { apiKey, broker, signal }) {
    body.int32(); // replica id (-1 for consumers)
    const maxWaitMs = body.int32();
    const minBytes = body.int32();
    const maxBytes = body.int32();
    body.int8(); // isolation level: without transactions, last stable offset == high watermark
    const sessionId = body.int32();
    body.int32(); // session epoch
    const requested = body.array((r) => {
      const topic = r.string();
      return r.array((p): FetchPartition => {
        const partition = p.int32();
        const currentLeaderEpoch = p.int32();
        const fetchOffset = p.int64n();
        p.int64(); // follower log start offset
        return { topic, partition, currentLeaderEpoch, fetchOffset, maxBytes: p.int32() };
      });
    }).flat();
    body.array((r) => [r.string(), r.array((p) => p.int32())]); // forgotten topics (sessions only)
    body.string(); // rack id

    if (sessionId !== 0) {
      return new Writer().int32(0).int16(ErrorCode.FETCH_SESSION_ID_NOT_FOUND).int32(0).int32(0);
    }
    const { store } = broker;
    const fault = broker.faults.take(apiKey, requested.map((p) => p.topic));
    let result = collect(store, requested, maxBytes, fault);
    const deadline = Date.now() + maxWaitMs;
    while (size(result) < minBytes && result.every((p) => p.errorCode === ErrorCode.NONE) && !signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await store.waitForAppend(requested, left, signal);
      result = collect(store, requested, maxBytes, fault);
    }

    const w = new Writer().int32(0).int16(ErrorCode.NONE).int32(0);
    const topics = [...new Set(result.map((p) => p.topic))];
    w.array(topics, (w, topic) =>
      w.string(topic).array(
        result.filter((p) => p.topic === topic),
        (w, p) =>
          w
            .int32(p.partition)
            .int16(p.errorCode)
            .int64(p.highWatermark)
            .int64(p.highWatermark) // last stable offset
            .int64(p.errorCode === ErrorCode.NONE ? 0 : -1) // log start offset
            .array([], () => {}) // aborted transactions
            .int32(-1) // preferred read replica
            .bytes(p.records),
      ),
    );
    return w;
  },
};

const size = (result: readonly FetchedPartition[]): number => result.reduce((n, p) => n + p.records.length, 0);

function collect(store: LogStore, requested: readonly FetchPartition[], maxBytes: number, fault: ActiveFault | undefined): FetchedPartition[] {
  let total = 0;
  return requested.map((req) => {
    const { topic, partition } = req;
    const log = store.partition(topic, partition);
    const fail = (errorCode: number): FetchedPartition => ({
      topic, partition, errorCode, highWatermark: log?.highWatermark ?? -1, records: Buffer.alloc(0),
    });
    if (fault?.appliesTo(topic)) return fail(fault.errorCode);
    if (!log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (req.currentLeaderEpoch > LEADER_EPOCH) return fail(ErrorCode.UNKNOWN_LEADER_EPOCH);
    if (req.fetchOffset < log.logStartOffset || req.fetchOffset > log.highWatermark) {
      return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
    }
    const limit = Math.max(0, Math.min(req.maxBytes, maxBytes - total));
    const records = Buffer.concat(log.read(req.fetchOffset, limit, total === 0));
    total += records.length;
    return { topic, partition, errorCode: ErrorCode.NONE, highWatermark: log.highWatermark, records };
  });
}

/** ListOffsets v2-v3 (identical on the wire): earliest (-2), latest (-1) or first offset at/after a timestamp. */
export const listOffsetsHandler: ApiHandler = {
  apiKey: ApiKey.ListOffsets,
  minVersion: 2,
  maxVersion: 3,
  handle(body, { apiKey, broker }) {
    body.int32(); // replica id
    body.int8(); // isolation level
    const topics = body.array((r) => ({
      topic: r.string(),
      partitions: r.array((p) => ({ partition: p.int32(), timestamp: p.int64n() })),
    }));
    const fault = broker.faults.take(apiKey, topics.map((t) => t.topic));
    const w = new Writer().int32(0);
    w.array(topics, (w, { topic, partitions }) =>
      w.string(topic).array(partitions, (w, { partition, timestamp }) => {
        const log = broker.store.partition(topic, partition);
        let errorCode: number = ErrorCode.NONE;
        let found = { timestamp: -1, offset: -1 };
        if (fault?.appliesTo(topic)) errorCode = fault.errorCode;
        else if (!log) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (timestamp === LATEST_TIMESTAMP) found = { timestamp: -1, offset: log.highWatermark };
        else if (timestamp === EARLIEST_TIMESTAMP) found = { timestamp: -1, offset: log.logStartOffset };
        else found = log.offsetForTimestamp(timestamp) ?? found;
        w.int32(partition).int16(errorCode).int64(found.timestamp).int64(found.offset);
      }),
    );
    return w;
  },
};
