import { createHash } from 'node:crypto';
import { AppError } from '../domain/errors.js';
import type { NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import type { ChainVerification } from '../domain/history.js';
import type { AppendResult, ResolvedCursor } from '../domain/ports.js';
import { keyed, sealEvent, verifiesItself } from './hash-chain.js';
import { MemoryEvents } from './memory-events.js';
import { decodePartitionCursor, encodePartitionCursor } from './partition-cursor.js';

const EMPTY = new Uint8Array(0);

/** One record read from the shared topic. */
export interface ReplicaRecord {
  readonly event: NewAuditEvent;
  readonly receivedAt: Date;
  readonly partition: number;
  readonly offset: number;
}

/** A partition's held events: offsets ascending with their local sequences. */
interface PartitionIndex {
  offsets: number[];
  sequences: number[];
  lastHash: Uint8Array;
  /** Offsets below this are not held: before the load point, or evicted. */
  heldFrom: number;
  /** The next offset to read. */
  next: number;
}

/**
 * A cluster node's in-memory copy of the shared Kafka topic, filled in the order this node reads it.
 * Local sequences number that order (other nodes interleave partitions differently); each event
 * also carries its partition and offset and a resume token that means the same on every node.
 * The hash chain runs per partition and covers the offset in place of the local sequence, so every
 * node computes identical hashes. An id is stored once: a later record with a held id is a duplicate.
 */
export class ReplicaLog extends MemoryEvents {
  private readonly partitions: PartitionIndex[];

  /** `startOffsets`: where this node began reading each partition. */
  constructor(startOffsets: readonly number[], capacity: number) {
    super(capacity);
    this.partitions = startOffsets.map((offset) => ({ offsets: [], sequences: [], lastHash: EMPTY, heldFrom: offset, next: offset }));
  }

  get partitionCount(): number {
    return this.partitions.length;
  }

  /** A partition of the topic this node reads; Kafka never hands out a record of another one. */
  private partition(index: number): PartitionIndex {
    const p = this.partitions[index];
    if (!p) throw new Error(`partition ${index} is not one of the topic's ${this.partitions.length}`);
    return p;
  }

  /** The next offset to read per partition. */
  nextOffsets(): number[] {
    return this.partitions.map((p) => p.next);
  }

  /** Stores a record read in offset order; undefined for one read before (a restarted consumer re-reads). */
  add(record: ReplicaRecord): AppendResult | undefined {
    const p = this.partition(record.partition);
    if (record.offset < p.next) return undefined;
    p.next = record.offset + 1;
    const original = this.byId(record.event.id);
    if (original) return { event: original, duplicate: true };
    // The writer drew the salts and put them in the record: every node computes the same commitments.
    const chained = sealEvent(withSalts(record.event), record.offset, record.receivedAt, p.lastHash);
    const stored: StoredAuditEvent = {
      ...chained,
      sequence: this.lastSequence() + 1,
      position: { partition: record.partition, offset: record.offset },
      cursor: encodePartitionCursor(this.nextOffsets()),
    };
    p.lastHash = stored.hash;
    p.offsets.push(record.offset);
    p.sequences.push(stored.sequence);
    this.forget(this.push(stored));
    return { event: stored, duplicate: false };
  }

  /** Moves past a record that holds no event. */
  skip(partition: number, offset: number): void {
    const p = this.partition(partition);
    p.next = Math.max(p.next, offset + 1);
  }

  /** The token just after local `sequence`: for each partition, the first offset not covered. */
  cursorAt(sequence: number): string {
    const held = this.get(Math.min(sequence, this.lastSequence()));
    if (held?.cursor) return held.cursor;
    // Before every held event: each partition from its first held offset.
    return encodePartitionCursor(this.partitions.map((p) => p.offsets[0] ?? p.next));
  }

  /**
   * Where a token from any node resumes here: after the last local sequence the token wholly covers,
   * skipping the later events it names (read in another order there). A token ahead of this node is
   * fine: the events between arrive later and are skipped as they come.
   */
  resolveCursor(token: string, field: string): ResolvedCursor {
    const next = decodePartitionCursor(token, this.partitions.length, field);
    let afterSequence = this.lastSequence();
    this.partitions.forEach((p, i) => {
      const nextOffset = next[i] ?? 0;
      if (nextOffset < p.heldFrom) {
        throw new AppError('FAILED_PRECONDITION', `is older than this node's history (partition ${i} is held from offset ${p.heldFrom}); subscribe without it or with a time range`, field);
      }
      const sequenceThere = p.sequences[lowerBound(p.offsets, nextOffset)];
      if (sequenceThere !== undefined) afterSequence = Math.min(afterSequence, sequenceThere - 1);
    });
    return {
      afterSequence,
      seen: (e) => e.position !== undefined && e.position.offset < next[e.position.partition]!,
      raise: (later) => encodePartitionCursor(decodePartitionCursor(later, next.length, 'cursor').map((offset, i) => Math.max(offset, next[i]!))),
    };
  }

  /** Recomputes each partition's chain over the held events in [from, to]; stops at the first break. */
  verifyChain(fromSequence = this.firstSequence(), toSequence = this.lastSequence()): ChainVerification {
    const from = Math.max(fromSequence, this.firstSequence());
    const to = Math.min(toSequence, this.lastSequence());
    const previous = new Map<number, Uint8Array>();
    let checked = 0;
    for (let seq = from; seq <= to; seq++) {
      const e = this.get(seq)!;
      const partition = e.position!.partition;
      const expected = previous.get(partition) ?? e.previousHash; // a partition's first held event anchors it
      const kind = !verifiesItself({ ...e, sequence: e.position!.offset }) ? 'hash_mismatch'
        : !Buffer.from(expected).equals(e.previousHash) ? 'previous_hash_mismatch' : undefined;
      if (kind) return { ok: false, checked, firstSequence: from, lastSequence: to, firstBreak: { sequence: seq, kind } };
      previous.set(partition, e.hash);
      checked++;
    }
    return { ok: true, checked, firstSequence: from, lastSequence: to };
  }

  /** Drops evicted events from the partition indexes, one splice per partition. */
  private forget(evicted: readonly StoredAuditEvent[]): void {
    if (evicted.length === 0) return;
    const counts = new Map<number, number>();
    for (const e of evicted) counts.set(e.position!.partition, (counts.get(e.position!.partition) ?? 0) + 1);
    for (const [partition, count] of counts) {
      const p = this.partition(partition);
      p.heldFrom = (p.offsets[count - 1] ?? p.heldFrom - 1) + 1;
      p.offsets.splice(0, count);
      p.sequences.splice(0, count);
    }
  }
}

/**
 * A record written before commitments carried salts has none: every node derives the same ones from
 * the event id and key. They hide nothing (the record held the values in clear anyway), but keep the
 * chains identical on every node.
 */
function withSalts(event: NewAuditEvent): NewAuditEvent {
  const salts = event.metadataSalts ?? {};
  if (Object.keys(event.metadata).every((key) => salts[key] !== undefined)) return event;
  const derived = keyed(Object.keys(event.metadata).map((key) =>
    [key, salts[key] ?? createHash('sha256').update(`${event.id}\0${key}`).digest().subarray(0, 16)] as const));
  return { ...event, metadataSalts: derived };
}

/** The first index whose value is >= target in an ascending array. */
function lowerBound(values: readonly number[], target: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! < target) lo = mid + 1; // lo <= mid < hi <= values.length
    else hi = mid;
  }
  return lo;
}
