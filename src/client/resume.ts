import type { Heartbeat, SubscriptionStarted } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';

/**
 * Where a subscription stands: just after the last event handed to the application, or further
 * when a heartbeat said that everything matching up to its position has been sent. Resuming sends
 * the token (`after_cursor`), which every node of a cluster accepts; the sequence is only the
 * numbering of the node that sent it, kept for a server that handed out no token.
 */
export class ResumePosition {
  /** The `after_cursor` token to resume with ('' before the first started message, when none was given). */
  token: string;
  /** The sequence the token stands for, in the numbering of the stream that sent it. */
  sequence: number | undefined;

  constructor(afterCursor: string | undefined, afterSequence: number | undefined) {
    this.token = afterCursor ?? '';
    this.sequence = afterSequence;
  }

  /** The position fields of a SubscribeRequest: the token, else a sequence, else nothing (live). */
  request(): { afterCursor: string; afterSequence?: number } {
    if (this.token !== '') return { afterCursor: this.token };
    return this.sequence === undefined ? { afterCursor: '' } : { afterCursor: '', afterSequence: this.sequence };
  }

  /** A stream started: it begins after its cursor, which covers the position it was asked to resume from. */
  started(started: SubscriptionStarted): void {
    this.token = started.resumeCursor || this.token;
    this.sequence = started.cursor;
  }

  /** An event was handed to the application. */
  delivered(event: AuditEvent): void {
    this.token = event.cursor || this.token;
    this.sequence = event.sequence;
  }

  /**
   * A heartbeat says everything matching up to its cursor was sent; on one stream it never lags the
   * events before it, but a position only moves forward.
   */
  heartbeat(heartbeat: Heartbeat): void {
    if (heartbeat.cursor < (this.sequence ?? 0)) return;
    this.token = heartbeat.resumeCursor || this.token;
    this.sequence = heartbeat.cursor;
  }
}

/** A single node's token is the event's sequence in decimal; a cluster's is a set of partition offsets. */
const globallyNumbered = (event: AuditEvent): boolean => event.cursor === String(event.sequence);

/**
 * Refuses an event the application already has, should a server send it again after a resume.
 * By sequence where sequences are global (a single node numbers its log once, across restarts):
 * anything at or below the last one handed out. Not across cluster nodes, whose numbering is their
 * own reading order (a lower sequence on the new node may well be a new event): there by event id,
 * over the last `window` events, since the log stores an id once.
 */
export class Deduplicator {
  private lastGlobalSequence: number | undefined;
  private readonly recent = new Set<string>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly window: number) {}

  /** True the first time an event is seen (and then remembers it). */
  accept(event: AuditEvent): boolean {
    if (globallyNumbered(event) && this.lastGlobalSequence !== undefined && event.sequence <= this.lastGlobalSequence) return false;
    if (event.id !== '' && this.recent.has(event.id)) return false;
    this.lastGlobalSequence = globallyNumbered(event) ? event.sequence : undefined;
    this.remember(event.id);
    return true;
  }

  private remember(id: string): void {
    if (id === '' || this.window <= 0) return;
    const evicted = this.order.length < this.window ? undefined : this.order[this.next];
    if (evicted === undefined) this.order.push(id);
    else {
      this.recent.delete(evicted);
      this.order[this.next] = id;
      this.next = (this.next + 1) % this.window;
    }
    this.recent.add(id);
  }
}
