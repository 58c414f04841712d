/**
 * Idempotent producer bookkeeping: producer id allocation (InitProducerId)
 * and per-partition sequence checks that reject gaps and answer retried
 * batches with their original offset instead of appending them twice.
 */
import { ErrorCode } from './protocol.js';

const MAX_SEQUENCE = 0x7fffffff;
/** Kafka remembers the last 5 batches per producer and partition. */
const RECENT_BATCHES = 5;

interface RecentBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  lastSeq: number;
  recent: RecentBatch[];
}

export type SequenceCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'reject'; readonly errorCode: number };

function lastSequence(firstSeq: number, lastOffsetDelta: number): number {
  return (firstSeq + lastOffsetDelta) % (MAX_SEQUENCE + 1);
}

/** Sequence state of the idempotent producers writing one partition. */
export class ProducerStateTable {
  private readonly entries = new Map<bigint, ProducerEntry>();

  check(producerId: bigint, epoch: number, firstSeq: number, lastOffsetDelta: number): SequenceCheck {
    if (producerId < 0n) return { kind: 'append' };
    const entry = this.entries.get(producerId);
    if (!entry || epoch > entry.epoch) {
      return firstSeq === 0 ? { kind: 'append' } : { kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    }
    if (epoch < entry.epoch) return { kind: 'reject', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH };
    const lastSeq = lastSequence(firstSeq, lastOffsetDelta);
    const dup = entry.recent.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (dup) return { kind: 'duplicate', baseOffset: dup.baseOffset };
    const expected = entry.lastSeq === MAX_SEQUENCE ? 0 : entry.lastSeq + 1;
    if (firstSeq !== expected) return { kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    return { kind: 'append' };
  }

  /** Records an appended batch (call only after check() said 'append'). */
  appended(producerId: bigint, epoch: number, firstSeq: number, lastOffsetDelta: number, baseOffset: number): void {
    if (producerId < 0n) return;
    let entry = this.entries.get(producerId);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, lastSeq: -1, recent: [] };
      this.entries.set(producerId, entry);
    }
    entry.lastSeq = lastSequence(firstSeq, lastOffsetDelta);
    entry.recent.push({ firstSeq, lastSeq: entry.lastSeq, baseOffset });
    if (entry.recent.length > RECENT_BATCHES) entry.recent.shift();
  }
}

/** Hands out producer ids; a transactional id keeps its id and gets a new epoch. */
export class ProducerIdAllocator {
  private nextId = 1000n;
  private readonly byTransactionalId = new Map<string, { producerId: bigint; epoch: number }>();

  allocate(transactionalId: string | null): { producerId: bigint; epoch: number } {
    if (transactionalId === null) return { producerId: this.nextId++, epoch: 0 };
    const known = this.byTransactionalId.get(transactionalId);
    const next = known ? { producerId: known.producerId, epoch: known.epoch + 1 } : { producerId: this.nextId++, epoch: 0 };
    this.byTransactionalId.set(transactionalId, next);
    return next;
  }
}
