import type { NewAuditEvent, StoredAuditEvent } from '../domain/event.js';

/**
 * What the cluster log (cluster-log.ts) needs of the partitioned log every node appends to and reads
 * in full: cluster mode's Kafka topic, implemented in transports/kafka/shared-topic.ts. The store knows
 * partitions, offsets and records, not Kafka.
 */
export interface SharedTopic {
  /** Per partition, the first offset this node reads (the start of its history). */
  readonly start: readonly number[];
  /** Per partition, where the topic ended when this node started. */
  readonly high: readonly number[];
  /** Appends records (acknowledged by every in-sync replica); `signal` stops further attempts. */
  send(records: readonly TopicRecord[], signal: AbortSignal): Promise<void>;
  /**
   * Reads every partition from `position()` (asked again after a reader restart), calling `onBatch`
   * with each partition's records in offset order and that partition's high watermark.
   */
  read(position: () => readonly number[], onBatch: (partition: number, records: readonly ReadRecord[], highWatermark: number) => void): Promise<void>;
  /** The reader runs and the send circuit lets a send through (closed, or open and due for its test). */
  writable(): boolean;
  /** The send circuit, for metrics and readiness. */
  readonly circuit: 'closed' | 'open' | 'half-open' | 'isolated';
  close(): Promise<void>;
}

/** A record to append: the event's bytes, keyed for per-entity order, with headers. */
export interface TopicRecord {
  readonly key: string;
  readonly value: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** A record read back. */
export interface ReadRecord {
  readonly offset: number;
  readonly value: Uint8Array | null;
  readonly header: (name: string) => string | undefined;
}

/** How events become records and back (the wire encoding lives with the contract, not the store). */
export interface RecordCodec {
  /** The sealed event as the record's key and value. */
  encode(event: StoredAuditEvent): { key: string; value: Uint8Array };
  /** A record's value back to the event; throws for a record that is not an audit event. */
  decode(value: Uint8Array): { event: NewAuditEvent; receivedAt: Date };
}
