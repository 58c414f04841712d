import type { ErasureOutcome, ErasureSelector, PersonalData } from './erasure.js';
import type { NewAuditEvent, StoredAuditEvent } from './event.js';
import type { ChainVerification, HistoryPage, HistoryQuery } from './history.js';

/** The outcome of appending one event. */
export interface AppendResult {
  readonly event: StoredAuditEvent;
  /** True when an event with this id was already stored; `event` is then the stored original. */
  readonly duplicate: boolean;
}

/** A stored event as the log keeps it: its sequence and its audit.v1.AuditEvent bytes. */
export interface StoredBytes {
  readonly sequence: number;
  readonly bytes: Uint8Array;
}

/**
 * The event log: the single source of truth that assigns sequences.
 *
 * Reads are synchronous on purpose: the dispatcher switches a catching-up subscriber back to live in
 * the same tick as its last read, so no event can slip between the read and the switch.
 */
export interface EventLog {
  /**
   * Stores the events in order, as one unit (group commit), and resolves once they are durable.
   * An id already stored (or earlier in the same call) is not stored again: its result is the
   * original with duplicate = true.
   */
  append(events: readonly NewAuditEvent[]): Promise<AppendResult[]>;
  /** Up to `limit` events with sequence > afterSequence, in sequence order. */
  readAfter(afterSequence: number, limit: number): StoredAuditEvent[];
  /**
   * readAfter as the events' stored bytes (audit.v1.AuditEvent), not decoded: for a reader that sends
   * every event as it is. Logs that do not keep events as bytes need not have it.
   */
  readStoredBytesAfter?(afterSequence: number, limit: number): StoredBytes[];
  /** The oldest sequence still stored; lastSequence() + 1 when the log is empty. */
  firstSequence(): number;
  /** The newest sequence stored; 0 when nothing was ever stored. */
  lastSequence(): number;
  /**
   * The sequence just before the first stored event whose timestamp is at or after `time`
   * (so reading after it replays from `time`); lastSequence() when there is none.
   */
  sequenceBefore(time: Date): number;
  /** Searches history (the Query RPC). */
  query(q: HistoryQuery): HistoryPage;
  /**
   * The event at `sequence` as storage holds it now, past any copy kept in memory for readers (what a
   * checkpoint is checked against); logs without such copies need not have it (readAfter is storage).
   */
  readStored?(sequence: number): StoredAuditEvent | undefined;
  /** Recomputes the hash chain over [from, to] (clamped to what is stored); stops at the first break. */
  verifyChain(fromSequence?: number, toSequence?: number): ChainVerification;
  /** The same off the event loop, where the log can (the SQLite log: reader threads); VerifyChain uses it. */
  verifyChainOffThread?(fromSequence?: number, toSequence?: number): Promise<ChainVerification>;
  /**
   * Erases the personal values of the selected events in place (see domain/erasure.ts); the chain is
   * unchanged. Absent where the log cannot change what it holds (cluster mode: the Kafka topic).
   */
  erase?(selector: ErasureSelector, personal: PersonalData): ErasureOutcome;
  /**
   * Copies the log, consistently and while appends go on, to the file `destination` (which must not
   * exist), calling `progress` as pages are copied (it may throw to abandon the copy, which then leaves
   * no file); resolves with the head the copy holds. Absent where the log is not one local file.
   */
  backup?(destination: string, progress: (copied: number, total: number) => void): Promise<{ sequence: number; hash: Uint8Array }>;
  /** The file holding the log, where it is one local file (a backup's temporary copy goes beside it). */
  readonly file?: string | undefined;
  /** Removes what the retention settings say is too old, now; returns how many events. Absent where the log keeps no retention of its own. */
  applyRetention?(now: Date): number;
  /** A log that is itself a downstream (cluster mode's shared topic): its circuit and lag, for health and metrics. */
  status?(): DownstreamStatus;
  /** Whether an append could be committed now (health); never throws. */
  checkWritable(): boolean;
  /** Why the last write failed (cause, path), until a write succeeds; absent when unknown. */
  writeProblem?(): string | undefined;
  close(): Promise<void>;
  /**
   * A log other nodes append to as well (cluster mode) calls `listener` with every event it stores,
   * its own appends included, in sequence order; the dispatcher then routes from this feed instead of
   * from its own appends. Absent on single-node logs.
   */
  follow?(listener: (results: readonly AppendResult[]) => void): void;
  /** The resume token just after `sequence`; absent: the decimal sequence (domain/cursor.ts). */
  cursorAt?(sequence: number): string;
  /** Reads a token from cursorAt on any node; absent: the token is a decimal sequence. */
  resolveCursor?(token: string, field: string): ResolvedCursor;
}

/** Where a resumed subscription starts: after `afterSequence`, skipping later events it already saw. */
export interface ResolvedCursor {
  readonly afterSequence: number;
  /** Events stored after `afterSequence` locally that the token already covers (other nodes' order differs). */
  readonly seen?: (event: StoredAuditEvent) => boolean;
  /**
   * Raises a token this node hands out later (an event's cursor, started, heartbeats) to cover at
   * least what the resumed token covered: otherwise a token taken before this node's order caught up
   * with the old one would name events the client already had (cluster: per-partition maximum).
   */
  readonly raise?: (token: string) => string;
}

export interface Clock {
  now(): Date;
}

/** Told of every batch written to a subscriber, for delivery metrics. */
export interface DeliveryObserver {
  /**
   * `count` events were written; `oldestLive` is the batch's oldest event when the batch was routed to
   * the subscription as it was stored, undefined when it was read back from the log (replay, catch-up).
   */
  delivered(transport: string, count: number, oldestLive: StoredAuditEvent | undefined): void;
}

/**
 * What one caller may see, from the roles table: which events, and in what form (PII redacted or
 * not). Enforced on live delivery, replay and history alike; a client filter can only narrow it.
 */
export interface Viewer {
  allows(event: StoredAuditEvent): boolean;
  /** The event as this caller may see it: the same object, or a redacted copy shared by its role. */
  present(event: StoredAuditEvent): StoredAuditEvent;
}

/** A downstream's state as health and metrics report it (the Kafka forwarder, for one). */
export interface DownstreamStatus {
  readonly name: string;
  /** cockatiel's circuit state: closed, open, half-open, isolated. */
  readonly circuit: 'closed' | 'open' | 'half-open' | 'isolated';
  /** Forwarder: stored events not yet handed to Kafka. Cluster log: records in the topic this node has not read yet. */
  readonly lag: number;
  readonly deadLetters: number;
}
