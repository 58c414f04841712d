import type { StoredAuditEvent } from '../domain/event.js';
import { matchesHistoryQuery, type HistoryPage, type HistoryQuery } from '../domain/history.js';

/**
 * Events held in memory by sequence, with the reads every in-memory log shares: the base of the
 * bounded memory log and of the cluster node's replica of the Kafka topic. Keeps at least the newest
 * `capacity` events; history scans are linear.
 */
export abstract class MemoryEvents {
  /** events[i] has sequence first + i. */
  private events: StoredAuditEvent[] = [];
  private first = 1;
  private readonly idToSequence = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  /** Appends an event sealed with sequence lastSequence() + 1; returns the events evicted to make room. */
  protected push(event: StoredAuditEvent): StoredAuditEvent[] {
    this.events.push(event);
    this.idToSequence.set(event.id, event.sequence);
    // Evict in chunks so the array shift is amortised rather than paid per append.
    if (this.events.length <= this.capacity + Math.max(1, this.capacity >> 3)) return [];
    const evicted = this.events.slice(0, this.events.length - this.capacity);
    for (const e of evicted) this.idToSequence.delete(e.id);
    this.events = this.events.slice(evicted.length);
    this.first += evicted.length;
    return evicted;
  }

  /** Puts a changed copy of a held event in its place (erasure). */
  protected replace(event: StoredAuditEvent): void {
    if (this.get(event.sequence)) this.events[event.sequence - this.first] = event;
  }

  /** Every held event, oldest first. */
  protected held(): readonly StoredAuditEvent[] {
    return this.events;
  }

  protected get(sequence: number): StoredAuditEvent | undefined {
    return this.events[sequence - this.first];
  }

  byId(id: string): StoredAuditEvent | undefined {
    const sequence = this.idToSequence.get(id);
    return sequence === undefined ? undefined : this.get(sequence);
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
      if (events.length === q.limit) return { events, nextPageToken: events.at(-1)?.sequence };
      events.push(e);
    }
    return { events };
  }
}
