import type { NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import type { AppendResult, Clock, EventLog } from '../domain/ports.js';
import { matchesHistoryQuery, type ChainVerification, type HistoryPage, type HistoryQuery } from '../domain/history.js';
import { computeHash, sealEvent } from './hash-chain.js';

const EMPTY = new Uint8Array(0);

/**
 * A bounded in-memory log (`storage.type: memory`): keeps at least the newest `capacity` events, so a
 * cursor older than that gets a gap notice. Nothing survives a restart. Its history scans are linear:
 * it is for development and tests, not for large histories.
 */
export class MemoryEventLog implements EventLog {
  /** Ring of stored events; events[i] has sequence first + i. */
  private events: StoredAuditEvent[] = [];
  private first = 1;
  private readonly idToSequence = new Map<string, number>();
  private previousHash: Uint8Array = EMPTY;

  constructor(
    private readonly capacity: number,
    private readonly clock: Clock,
  ) {}

  async append(batch: readonly NewAuditEvent[]): Promise<AppendResult[]> {
    const receivedAt = this.clock.now();
    return batch.map((event) => {
      const existing = this.idToSequence.get(event.id);
      if (existing !== undefined) {
        const original = this.get(existing);
        if (original) return { event: original, duplicate: true };
      }
      const stored = sealEvent(event, this.lastSequence() + 1, receivedAt, this.previousHash);
      this.previousHash = stored.hash;
      this.events.push(stored);
      this.idToSequence.set(stored.id, stored.sequence);
      this.evictOverflow();
      return { event: stored, duplicate: false };
    });
  }

  readAfter(afterSequence: number, limit: number): StoredAuditEvent[] {
    const start = Math.max(0, afterSequence + 1 - this.first);
    return this.events.slice(start, start + limit);
  }

  firstSequence(): number {
    return this.first;
  }

  lastSequence(): number {
    return this.first + this.events.length - 1;
  }

  sequenceBefore(time: Date): number {
    const t = time.getTime();
    const index = this.events.findIndex((e) => e.timestamp.getTime() >= t);
    return index < 0 ? this.lastSequence() : this.first + index - 1;
  }

  query(q: HistoryQuery): HistoryPage {
    const ordered = q.order === 'asc' ? this.events : [...this.events].reverse();
    const after = q.afterSequence;
    const events: StoredAuditEvent[] = [];
    for (const e of ordered) {
      if (after !== undefined && (q.order === 'asc' ? e.sequence <= after : e.sequence >= after)) continue;
      if (!matchesHistoryQuery(e, q) || (q.predicate && !q.predicate(e))) continue;
      if (events.length === q.limit) return { events, nextPageToken: events[events.length - 1].sequence };
      events.push(e);
    }
    return { events };
  }

  verifyChain(fromSequence = this.first, toSequence = this.lastSequence()): ChainVerification {
    const from = Math.max(fromSequence, this.first);
    const to = Math.min(toSequence, this.lastSequence());
    let checked = 0;
    for (let seq = from; seq <= to; seq++) {
      const e = this.get(seq)!;
      const previous = seq > this.first ? this.get(seq - 1)!.hash : e.previousHash;
      const kind = !Buffer.from(computeHash(e)).equals(e.hash) ? 'hash_mismatch'
        : !Buffer.from(previous).equals(e.previousHash) ? 'previous_hash_mismatch' : undefined;
      if (kind) return { ok: false, checked, firstSequence: from, lastSequence: to, firstBreak: { sequence: seq, kind } };
      checked++;
    }
    return { ok: true, checked, firstSequence: from, lastSequence: to };
  }

  checkWritable(): boolean {
    return true;
  }

  async close(): Promise<void> {}

  private get(sequence: number): StoredAuditEvent | undefined {
    return this.events[sequence - this.first];
  }

  private evictOverflow(): void {
    // Evict in chunks so the array shift is amortised rather than paid per append.
    if (this.events.length <= this.capacity + Math.max(1, this.capacity >> 3)) return;
    const excess = this.events.length - this.capacity;
    for (const e of this.events.slice(0, excess)) this.idToSequence.delete(e.id);
    this.events = this.events.slice(excess);
    this.first += excess;
  }
}
