import { Severity } from '../domain/catalog.js';
import { AppError } from '../domain/errors.js';
import type { NewAuditEvent } from '../domain/event.js';
import type { AppendResult, EventLog } from '../domain/ports.js';
import { spansUnder } from '../lib/tracing.js';

export interface IngestLimits {
  /** Regular lane capacity (audit.publisher.max_queue_depth). */
  readonly maxQueueDepth: number;
  /** The critical lane's own reserved capacity, so a flood of regular events never blocks a critical one. */
  readonly criticalQueueDepth: number;
  /** How long a publish may wait for room in a full lane before RESOURCE_EXHAUSTED. */
  readonly backpressureDelayMs: number;
  /** Most events stored in one group commit. */
  readonly appendBatchSize: number;
}

/** Group commits handed to the log at once: one committing while the next is prepared. */
const APPENDS_IN_FLIGHT = 2;

interface Pending {
  readonly event: NewAuditEvent;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

class Lane {
  readonly items: Pending[] = [];
  private spaceWaiters: Array<() => void> = [];
  constructor(
    readonly name: 'critical' | 'regular',
    readonly capacity: number,
  ) {}

  get full(): boolean {
    return this.items.length >= this.capacity;
  }

  /**
   * Runs `enqueue` as soon as the lane has room, within `ms`; false when it stayed full. The room check
   * and `enqueue` run in one synchronous step, so waiters woken together cannot overfill the lane.
   */
  async admit(ms: number, enqueue: () => void): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.full) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.spaceWaiters.push(done);
      });
    }
    enqueue();
    return true;
  }

  take(max: number): Pending[] {
    const taken = this.items.splice(0, max);
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    waiters.forEach((wake) => wake());
    return taken;
  }
}

interface InFlight {
  readonly batch: Pending[];
  readonly appended: Promise<AppendResult[]>;
  readonly endSpans: () => void;
}

/**
 * Two bounded lanes in front of the log. Up to two appends are in flight: one committing while the
 * next is prepared. Publishes that arrive while a slot is free start the next group commit at once
 * (critical events first, so a critical event is stored and routed ahead of regular events queued
 * before it); those that arrive while both are busy join the commit after them.
 */
export class IngestQueue {
  readonly critical: Lane;
  readonly regular: Lane;
  private readonly inFlight: InFlight[] = [];
  private filling = false;
  private settling = false;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly log: EventLog,
    private readonly limits: IngestLimits,
    private readonly onStored: (results: AppendResult[]) => void,
    private readonly onFailed: (err: unknown) => void,
  ) {
    this.critical = new Lane('critical', limits.criticalQueueDepth);
    this.regular = new Lane('regular', limits.maxQueueDepth);
  }

  submit(event: NewAuditEvent): Promise<AppendResult> {
    const lane = event.severity === Severity.CRITICAL ? this.critical : this.regular;
    return new Promise<AppendResult>((resolve, reject) => {
      const enqueue = (): void => {
        if (this.closed) return reject(new AppError('UNAVAILABLE', 'the server is shutting down'));
        lane.items.push({ event, resolve, reject });
        this.schedule();
      };
      void lane.admit(this.limits.backpressureDelayMs, enqueue).then((admitted) => {
        if (admitted) return;
        reject(new AppError(
          'RESOURCE_EXHAUSTED',
          `the ${lane.name} ingest queue is full (${lane.capacity} events); retry later`,
          undefined,
          this.limits.backpressureDelayMs,
        ));
      });
    });
  }

  /** Refuses new events and resolves once everything already queued is stored. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private get queued(): boolean {
    return this.critical.items.length > 0 || this.regular.items.length > 0;
  }

  private isIdle(): boolean {
    return !this.filling && !this.settling && !this.queued;
  }

  private schedule(): void {
    if (this.filling) return;
    this.filling = true;
    // setImmediate rather than a microtask: publishes arriving in the same I/O turn share one commit.
    setImmediate(() => {
      this.filling = false;
      this.fill();
    });
  }

  /**
   * Hands queued events to the log while fewer than two appends are in flight. Called when events
   * arrive and when an append settles, so in a closed loop (publishers waiting for their acks) the
   * next commit is prepared while the current one runs, not after it.
   */
  private fill(): void {
    while (this.inFlight.length < APPENDS_IN_FLIGHT && this.queued) {
      const batch = this.critical.take(this.limits.appendBatchSize);
      batch.push(...this.regular.take(this.limits.appendBatchSize - batch.length));
      const events = batch.map((p) => p.event);
      const endSpans = spansUnder('auditstream.append', events, (e) => ({ 'audit.event_id': e.id, 'audit.batch_size': events.length }));
      this.inFlight.push({ batch, appended: this.log.append(events), endSpans });
    }
    if (this.settling) return;
    if (this.inFlight.length > 0) void this.settle();
    else this.wakeIdle();
  }

  /**
   * Settles the appends strictly in the order they were handed to the log, so acknowledgements and
   * routing keep the log's order.
   */
  private async settle(): Promise<void> {
    this.settling = true;
    for (let oldest = this.inFlight[0]; oldest; oldest = this.inFlight[0]) {
      let results: AppendResult[] | undefined;
      let failure: unknown;
      try {
        results = await oldest.appended;
      } catch (err) {
        failure = err;
      }
      oldest.endSpans();
      this.inFlight.shift();
      // The freed slot takes what arrived meanwhile before the acks go out (which bring more).
      this.fill();
      if (results) this.stored(oldest.batch, results);
      else this.failed(oldest.batch, failure);
    }
    this.settling = false;
    this.wakeIdle();
  }

  /** Resolves close() once nothing is queued, scheduled or in flight. */
  private wakeIdle(): void {
    if (!this.isIdle()) return;
    const idle = this.idle;
    this.idle = [];
    idle.forEach((resolve) => resolve());
  }

  private stored(batch: readonly Pending[], results: AppendResult[]): void {
    const endDispatchSpans = spansUnder('auditstream.dispatch', results.map((r) => r.event), (e) => ({ 'audit.sequence': e.sequence }));
    this.onStored(results);
    endDispatchSpans();
    batch.forEach((p, i) => p.resolve(results[i]!));
  }

  private failed(batch: readonly Pending[], err: unknown): void {
    const failure = new AppError('UNAVAILABLE', 'the event log could not store the event; retry later');
    failure.cause = err;
    batch.forEach((p) => p.reject(failure));
    this.onFailed(err);
  }
}
