import type { EventType, ResultName, Severity } from './catalog.js';

/** JSON-like metadata (google.protobuf.Struct). */
export type Metadata = Record<string, unknown>;

/** Bytes per top-level metadata key (salts, commitments): null-prototype objects, any key is data. */
export type KeyedBytes = Readonly<Record<string, Uint8Array>>;

/** An event as accepted for storage: validated, id and severity filled in, not yet sequenced. */
export interface NewAuditEvent {
  readonly id: string;
  readonly type: EventType;
  readonly severity: Severity;
  /** When it happened; the server's receive time when the publisher gave none. */
  readonly timestamp: Date;
  /**
   * Nanoseconds below `timestamp`'s millisecond (0..999,999): a Date holds milliseconds, a protobuf
   * Timestamp nanoseconds, and what was published comes back exactly. Absent means 0.
   */
  readonly timestampSubMsNanos?: number | undefined;
  readonly userId: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly action: string;
  readonly result: ResultName;
  readonly metadata: Metadata;
  readonly correlationId: string;
  readonly source: string;
  readonly traceparent: string;
  /**
   * The salts of the metadata commitments, when they were drawn before the log sealed the event (a
   * cluster node writes them into the shared topic, so every node computes the same commitments).
   */
  readonly metadataSalts?: KeyedBytes | undefined;
}

/** An event as the log stored it. Immutable: transports may cache their encodings of it. */
export interface StoredAuditEvent extends NewAuditEvent {
  /** Position in the log: strictly increasing, no gaps, from 1. */
  readonly sequence: number;
  readonly receivedAt: Date;
  readonly previousHash: Uint8Array;
  readonly hash: Uint8Array;
  /** Per top-level metadata key: SHA-256(salt || canonical JSON of the value); the chain covers these. */
  readonly metadataCommitments: KeyedBytes;
  /** Per key whose value is present in clear: the salt that opens its commitment. */
  readonly metadataSalts: KeyedBytes;
  /** Cluster mode: where the event sits in the shared Kafka log; `sequence` is then this node's order. */
  readonly position?: LogPosition | undefined;
  /** Cluster mode: the resume token just after this event, accepted by every node (see domain/cursor.ts). */
  readonly cursor?: string | undefined;
}

/** A record's place in a partitioned log. */
export interface LogPosition {
  readonly partition: number;
  readonly offset: number;
}
