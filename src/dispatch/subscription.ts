import type { AppError } from '../domain/errors.js';
import type { StoredAuditEvent } from '../domain/event.js';
import { cursorAt } from '../domain/cursor.js';
import type { DeliveryObserver, EventLog, StoredBytes, Viewer } from '../domain/ports.js';
import type { CompiledFilter } from '../filtering/compiled-filter.js';
import { spansUnder, tracingEnabled } from '../lib/tracing.js';

export type SubscriptionMode = 'live' | 'catch-up';
/**
 * Why a stream ended: completed (time range over), unsubscribed, shutdown, cancelled by the client,
 * failed (the server ended it with an error, e.g. its filter exceeded the CPU budget: see failure).
 */
export type EndReason = 'completed' | 'unsubscribed' | 'shutdown' | 'cancelled' | 'failed';

/** What a transport writes next: events in sequence order, after a gap notice when history is gone. */
export interface Delivery {
  readonly events: StoredAuditEvent[];
  /** Instead of events, when the transport asked for them: the log's stored bytes of each event (see readStoredBytes). */
  readonly stored?: StoredBytes[] | undefined;
  readonly gap?: { readonly from: number; readonly to: number } | undefined;
}

export interface SubscriptionOptions {
  readonly id: string;
  readonly filter: CompiledFilter;
  readonly transport: string;
  readonly clientName: string;
  /** Deliver events with a sequence above this. */
  readonly startCursor: number;
  readonly queueSize: number;
  readonly createdAt: Date;
  readonly log: EventLog;
  /** The highest sequence the router has offered to subscriptions. */
  readonly routedThrough: () => number;
  readonly observer?: DeliveryObserver | undefined;
  /** Presents each event as the caller may see it (redaction); its filter already holds the visibility rule. */
  readonly viewer?: Viewer | undefined;
  readonly owner: string;
  /** Raises the tokens this subscription hands out to cover its resume token (ResolvedCursor.raise). */
  readonly raise?: ((token: string) => string) | undefined;
}

/** Scan at most this many log rows per batch asked for, so one take() never blocks the loop for long. */
const SCAN_FACTOR = 16;

/**
 * One subscriber's position and bounded queue. Live, the router offers it matching events; when its
 * queue is full it does not drop anything: it switches to catch-up and reads from the log after its
 * cursor until it reaches the head, then goes live again in the same synchronous step (the log's
 * reads are synchronous), so no event is missed or repeated across the switch.
 */
export class Subscription {
  readonly id: string;
  readonly filter: CompiledFilter;
  readonly transport: string;
  readonly clientName: string;
  readonly createdAt: Date;
  readonly owner: string;
  mode: SubscriptionMode;
  /** Every event with a sequence up to this has been queued, delivered or found not to match. */
  private cursor: number;
  private lastDelivered: number;
  private queue: StoredAuditEvent[] = [];
  private wake?: (() => void) | undefined;
  private ending?: { reason: EndReason; drainQueue: boolean } | undefined;
  readonly counters = { matched: 0, delivered: 0, dropped: 0, overflows: 0 };
  /** Whether the last batch taken came from the live queue rather than from the log (for delivery metrics). */
  private tookFromQueue = false;
  /** Why the server ended it, when reason is 'failed'. */
  failure?: AppError | undefined;
  /** Until the tokens handed out cover the resume token by themselves (they only grow). */
  private raise?: ((token: string) => string) | undefined;

  constructor(private readonly opts: SubscriptionOptions) {
    this.id = opts.id;
    this.filter = opts.filter;
    this.transport = opts.transport;
    this.clientName = opts.clientName;
    this.createdAt = opts.createdAt;
    this.owner = opts.owner;
    this.cursor = this.lastDelivered = opts.startCursor;
    this.mode = opts.startCursor < opts.log.lastSequence() ? 'catch-up' : 'live';
    this.raise = opts.raise;
  }

  /** The resume token just after `sequence`, as this subscriber may use it (see raise). */
  tokenAt(sequence: number): string {
    const token = cursorAt(this.opts.log, sequence);
    return this.raise ? this.raise(token) : token;
  }

  /** Called by the router with an event that matches this subscription's filter. Never blocks. */
  offer(event: StoredAuditEvent): void {
    if (this.ending || this.mode === 'catch-up' || event.sequence <= this.cursor) return;
    if (this.queue.length >= this.opts.queueSize) {
      this.mode = 'catch-up'; // the log still has it: read from there once the queue drains
      this.counters.overflows++;
      this.signal();
      return;
    }
    this.queue.push(event);
    this.cursor = event.sequence;
    this.counters.matched++;
    this.signal();
  }

  /**
   * The next batch to write, or undefined when there is nothing to write now. `storedBytes`: the
   * transport sends events as the log stored them, so a batch read from the log may come as bytes.
   */
  take(max: number, storedBytes = false): Delivery | undefined {
    const delivery = this.next(max, storedBytes);
    const viewer = this.opts.viewer;
    const presented = delivery && viewer ? { ...delivery, events: delivery.events.map((e) => viewer.present(e)) } : delivery;
    return presented && this.raise ? { ...presented, events: presented.events.map((e) => this.raised(e)) } : presented;
  }

  /** The event with its cursor raised to the resume token, until its own cursor covers that. */
  private raised(e: StoredAuditEvent): StoredAuditEvent {
    if (!this.raise || e.cursor === undefined) return e;
    const cursor = this.raise(e.cursor);
    if (cursor === e.cursor) this.raise = undefined; // every later token covers it too
    return cursor === e.cursor ? e : { ...e, cursor };
  }

  private next(max: number, storedBytes: boolean): Delivery | undefined {
    this.tookFromQueue = this.queue.length > 0;
    if (this.tookFromQueue) return { events: this.queue.splice(0, max) };
    if (this.ending || this.mode === 'live') return undefined;
    return storedBytes && this.readsStoredBytes() ? this.readStoredBytes(max) : this.readFromLog(max);
  }

  /**
   * Whether a catch-up may send the log's bytes without decoding a single event: nothing to match
   * (no filter, no visibility rule), nothing to present differently (no redaction, no raised
   * cursor), no span to start per event (tracing off), and a log that keeps its events as bytes.
   */
  private readsStoredBytes(): boolean {
    return this.filter.soleCriterion?.() === 'none' && !this.opts.viewer && !this.raise && !tracingEnabled()
      && this.opts.log.readStoredBytesAfter !== undefined;
  }

  /** Records what the transport wrote. */
  delivered(events: readonly StoredAuditEvent[] | readonly StoredBytes[]): void {
    const last = events.at(-1);
    if (!last) return;
    this.counters.delivered += events.length;
    this.lastDelivered = last.sequence;
    if ('bytes' in last) { // stored bytes: read back from the log, and never traced (see readsStoredBytes)
      this.opts.observer?.delivered(this.transport, events.length, undefined);
      return;
    }
    const decoded = events as readonly StoredAuditEvent[];
    this.opts.observer?.delivered(this.transport, events.length, this.tookFromQueue ? decoded[0] : undefined);
    spansUnder('auditstream.deliver', decoded, (e) => ({ 'audit.sequence': e.sequence, 'audit.subscription_id': this.id, 'audit.transport': this.transport }))();
  }

  /** Resolves when there may be something to take, when the subscription ends, or after `ms`. */
  waitReadable(ms: number): Promise<void> {
    if (this.queue.length > 0 || this.mode === 'catch-up' || this.ending) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.signal(), ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Ends the subscription; with drainQueue, what is already queued is still taken first. */
  end(reason: EndReason, drainQueue = false): void {
    if (this.ending) return;
    this.ending = { reason, drainQueue };
    if (!drainQueue) this.queue = [];
    this.signal();
  }

  /** Ends the subscription with an error for its client (at once: nothing more is delivered). */
  fail(err: AppError): void {
    if (this.ending) return;
    this.failure = err;
    this.end('failed');
  }

  /** Why the stream should end now, once nothing is left to take. */
  endReason(now: Date): EndReason | undefined {
    if (this.ending) return this.queue.length === 0 ? this.ending.reason : undefined;
    const end = this.filter.source.end;
    if (end && now > end && this.mode === 'live' && this.queue.length === 0) return 'completed';
    return undefined;
  }

  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** A position a client can resume from: every matching event up to it was delivered. */
  resumeCursor(): number {
    if (this.mode === 'live' && this.queue.length === 0) return Math.max(this.cursor, this.opts.routedThrough());
    return this.lastDelivered;
  }

  get queued(): number {
    return this.queue.length;
  }

  get deliveredCursor(): number {
    return this.lastDelivered;
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The gap to report before reading from the log, when retention removed events after the cursor. */
  private gapBeforeRead(): Delivery['gap'] {
    const first = this.opts.log.firstSequence();
    if (this.cursor + 1 >= first) return undefined;
    const gap = { from: this.cursor + 1, to: first - 1 };
    this.counters.dropped += first - 1 - this.cursor;
    this.cursor = first - 1;
    return gap;
  }

  /** The match-all catch-up (see readsStoredBytes): the next stored events, as bytes. */
  private readStoredBytes(max: number): Delivery {
    const log = this.opts.log;
    const gap = this.gapBeforeRead();
    const stored = log.readStoredBytesAfter!(this.cursor, max);
    const last = stored.at(-1);
    if (last) this.cursor = last.sequence;
    if (this.cursor >= log.lastSequence()) this.mode = 'live'; // same tick as the read, as in readFromLog
    this.counters.matched += stored.length;
    return { events: [], stored, gap };
  }

  private readFromLog(max: number): Delivery {
    const log = this.opts.log;
    const gap = this.gapBeforeRead();
    const events: StoredAuditEvent[] = [];
    for (let scanned = 0; events.length < max && scanned < max * SCAN_FACTOR; ) {
      const rows = log.readAfter(this.cursor, max);
      for (const row of rows) {
        this.cursor = row.sequence;
        scanned++;
        if (this.filter.matches(row)) {
          events.push(row);
          if (events.length === max) break;
        }
      }
      if (this.cursor >= log.lastSequence()) {
        this.mode = 'live'; // same tick as the read: nothing was routed in between
        break;
      }
    }
    this.counters.matched += events.length;
    return { events, gap };
  }
}
