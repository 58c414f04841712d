/**
 * Topics, partitions and their logs. Offsets start at 0 per partition and
 * grow by one per record; with a single replica the high watermark equals
 * the log end offset. Appends wake Fetch requests waiting for data.
 */
import type { DecodedBatch, RecordHeader } from './record-batch.js';
import { rebaseBatch } from './record-batch.js';
import { ProducerStateTable } from './producer-state.js';

export interface StoredRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  /** Batch bytes as served by Fetch (broker-assigned base offset). */
  readonly bytes: Buffer;
  readonly records: readonly StoredRecord[];
}

/** The partition leader epoch this single broker stamps on batches. */
export const LEADER_EPOCH = 0;

export class PartitionLog {
  private readonly batches: StoredBatch[] = [];
  private nextOffset = 0;
  readonly producers = new ProducerStateTable();

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get logStartOffset(): number {
    return 0;
  }

  get highWatermark(): number {
    return this.nextOffset;
  }

  /** Appends a batch and returns its base offset. */
  append(batch: DecodedBatch): number {
    const baseOffset = this.nextOffset;
    const records = batch.records.map(
      (r): StoredRecord => ({
        topic: this.topic,
        partition: this.partition,
        offset: baseOffset + r.offsetDelta,
        timestamp: r.timestamp,
        key: r.key,
        value: r.value,
        headers: r.headers,
      }),
    );
    this.batches.push({
      baseOffset,
      lastOffset: baseOffset + batch.lastOffsetDelta,
      maxTimestamp: batch.maxTimestamp,
      bytes: rebaseBatch(batch.bytes, baseOffset, LEADER_EPOCH),
      records,
    });
    this.nextOffset = baseOffset + batch.lastOffsetDelta + 1;
    return baseOffset;
  }

  /**
   * Whole batches holding offsets >= `offset`, up to `maxBytes`; the first
   * batch is returned even when larger if `allowOversizedFirst` (KIP-74).
   */
  read(offset: number, maxBytes: number, allowOversizedFirst: boolean): Buffer[] {
    const out: Buffer[] = [];
    let size = 0;
    for (let i = this.firstBatchIndexFor(offset); i < this.batches.length; i++) {
      const bytes = this.batches[i]!.bytes;
      if (size + bytes.length > maxBytes && !(out.length === 0 && allowOversizedFirst)) break;
      out.push(bytes);
      size += bytes.length;
    }
    return out;
  }

  /** Earliest record with timestamp >= `timestamp` (ListOffsets by time). */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | undefined {
    for (const batch of this.batches) {
      if (batch.maxTimestamp < timestamp) continue;
      const hit = batch.records.find((r) => r.timestamp >= timestamp);
      if (hit) return { offset: hit.offset, timestamp: hit.timestamp };
    }
    return undefined;
  }

  records(): StoredRecord[] {
    return this.batches.flatMap((b) => b.records);
  }

  private firstBatchIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.batches.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.batches[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

export function isValidTopicName(name: string): boolean {
  return LEGAL_TOPIC.test(name) && name !== '.' && name !== '..';
}

interface AppendWaiter {
  readonly keys: ReadonlySet<string>;
  wake(): void;
}

const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class LogStore {
  private readonly topicMap = new Map<string, PartitionLog[]>();
  private readonly waiters = new Set<AppendWaiter>();

  constructor(readonly defaultPartitions: number) {}

  topicNames(): string[] {
    return [...this.topicMap.keys()].sort();
  }

  partitions(topic: string): readonly PartitionLog[] | undefined {
    return this.topicMap.get(topic);
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topicMap.get(topic)?.[partition];
  }

  createTopic(topic: string, partitions = this.defaultPartitions): void {
    if (this.topicMap.has(topic)) throw new Error(`topic ${topic} already exists`);
    if (!isValidTopicName(topic)) throw new Error(`invalid topic name ${JSON.stringify(topic)}`);
    if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`invalid partition count ${partitions}`);
    this.topicMap.set(
      topic,
      Array.from({ length: partitions }, (_, p) => new PartitionLog(topic, p)),
    );
  }

  append(log: PartitionLog, batch: DecodedBatch): number {
    const baseOffset = log.append(batch);
    const key = keyOf(log.topic, log.partition);
    for (const w of [...this.waiters]) if (w.keys.has(key)) w.wake();
    return baseOffset;
  }

  /**
   * Resolves when one of the partitions gets an append, after `timeoutMs`,
   * or when `signal` aborts, whichever comes first (no polling).
   */
  waitForAppend(
    partitions: ReadonlyArray<{ topic: string; partition: number }>,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || timeoutMs <= 0) return resolve();
      const waiter: AppendWaiter = {
        keys: new Set(partitions.map((p) => keyOf(p.topic, p.partition))),
        wake: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', waiter.wake);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      signal.addEventListener('abort', waiter.wake, { once: true });
      this.waiters.add(waiter);
    });
  }
}
