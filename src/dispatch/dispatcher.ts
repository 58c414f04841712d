import { randomUUID } from 'node:crypto';
import { severityName, typeInfo } from '../domain/catalog.js';
import { resolveCursor } from '../domain/cursor.js';
import { AppError } from '../domain/errors.js';
import type { NewAuditEvent } from '../domain/event.js';
import type { Filter } from '../domain/filter.js';
import type { AppendResult, Clock, DeliveryObserver, EventLog, ResolvedCursor, Viewer } from '../domain/ports.js';
import { compileFilter, excluding, restrictTo } from '../filtering/compiled-filter.js';
import type { FilterBudget } from '../filtering/cpu-budget.js';
import { IngestQueue, type IngestLimits } from './ingest-queue.js';
import { SubscriptionRegistry } from './registry.js';
import { Subscription } from './subscription.js';

/** What the composition root hands the dispatcher to tell others what happens. */
export interface DispatcherHooks {
  /** Fed each delivery (metrics). */
  readonly observer?: DeliveryObserver | undefined;
  /** An append failed: health looks at the log now rather than at its next check. */
  readonly onLogFailure?: (err: unknown) => void;
}

export interface DispatcherLimits extends IngestLimits {
  /** Per-subscriber queue bound; beyond it the subscriber catches up from the log. */
  readonly subscriberQueueSize: number;
  readonly maxSubscriptions: number;
  readonly maxExpressionLength: number;
  /** CPU a subscription's CEL expression may spend; beyond it the subscription ends RESOURCE_EXHAUSTED. */
  readonly filterBudget?: FilterBudget | undefined;
}

export interface SubscribeParams {
  readonly filter: Filter;
  readonly afterSequence?: number | undefined;
  /** A resume token (AuditEvent.cursor); the one way to resume in cluster mode. */
  readonly afterCursor?: string | undefined;
  /** The request field that carried afterCursor, for errors (default after_cursor). */
  readonly cursorField?: string | undefined;
  readonly clientName: string;
  readonly transport: string;
  /** The caller's view (roles table); absent: sees everything in clear. */
  readonly viewer?: Viewer | undefined;
  /** Who opened it (the authenticated subject), for "own subscriptions" permissions. */
  readonly owner?: string | undefined;
}

/** Counters since start; all plain numbers so GetStats and /metrics read the same figures. */
export interface DispatcherCounters {
  published: number;
  duplicates: number;
  /** Stored events by "severity/category", for the metrics' labels. */
  publishedByClass: Map<string, number>;
  failed: number;
  /** Events lost to subscriptions that have ended. */
  dropped: number;
  failedByReason: Record<string, number>;
  /** Subscriptions ended because their filter exceeded its cost or CPU budget. */
  filterBudgetExceeded: number;
}

/** NOT_FOUND for a subscription id: also what a caller gets for another caller's id, so ids cannot be probed. */
export function unknownSubscription(id: string): AppError {
  return new AppError('NOT_FOUND', `no active subscription ${JSON.stringify(id)}`, 'subscription_id');
}

/**
 * The core, with no knowledge of transports: takes validated events into the ingest lanes, stores
 * them through the log, and routes each stored event to the subscriptions whose filters match.
 */
export class Dispatcher {
  readonly registry = new SubscriptionRegistry();
  readonly ingest: IngestQueue;
  readonly counters: DispatcherCounters = { published: 0, publishedByClass: new Map(), duplicates: 0, failed: 0, dropped: 0, failedByReason: {}, filterBudgetExceeded: 0 };
  readonly startedAt: Date;
  private closing = false;
  /** Told after each group commit (the Kafka forwarder wakes on it rather than polling the log). */
  private readonly storedListeners = new Set<(results: readonly AppendResult[]) => void>();

  constructor(
    readonly log: EventLog,
    private readonly limits: DispatcherLimits,
    private readonly clock: Clock,
    private readonly hooks: DispatcherHooks = {},
  ) {
    this.startedAt = clock.now();
    this.registry.routedThrough = log.lastSequence();
    // A log shared with other nodes feeds every event in its order, ours included: route from there.
    const routeOwnAppends = !log.follow;
    this.ingest = new IngestQueue(log, limits, (results) => this.stored(results, routeOwnAppends), (err) => this.hooks.onLogFailure?.(err));
    log.follow?.((results) => this.routed(results));
  }

  /** Stores one validated event; resolves once it is durable. */
  async publish(event: NewAuditEvent): Promise<AppendResult> {
    try {
      return await this.ingest.submit(event);
    } catch (err) {
      this.rejected(err instanceof AppError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  /** Counts a publish that failed before reaching the core (validation, auth). */
  rejected(reason: string): void {
    this.counters.failed++;
    this.counters.failedByReason[reason] = (this.counters.failedByReason[reason] ?? 0) + 1;
  }

  /** Opens a subscription positioned by after_sequence and/or a time range start. */
  subscribe(params: SubscribeParams): Subscription {
    if (this.closing) throw new AppError('UNAVAILABLE', 'the server is shutting down');
    if (this.registry.size >= this.limits.maxSubscriptions) {
      throw new AppError('RESOURCE_EXHAUSTED', `the server holds its maximum of ${this.limits.maxSubscriptions} subscriptions`);
    }
    const resumed = this.resumePoint(params);
    const compiled = compileFilter(params.filter, this.limits.maxExpressionLength, this.limits.filterBudget);
    const filter = excluding(restrictTo(compiled, params.viewer), resumed?.seen);
    const sub = new Subscription({
      id: randomUUID(),
      filter,
      transport: params.transport,
      clientName: params.clientName,
      startCursor: this.startCursor(params.filter, resumed?.afterSequence),
      queueSize: this.limits.subscriberQueueSize,
      createdAt: this.clock.now(),
      log: this.log,
      routedThrough: () => this.registry.routedThrough,
      observer: this.hooks.observer,
      viewer: params.viewer,
      owner: params.owner ?? '',
      raise: resumed?.raise,
    });
    compiled.whenExhausted?.((err) => {
      this.counters.filterBudgetExceeded++;
      sub.fail(err);
    });
    this.registry.add(sub);
    return sub;
  }

  /** Ends a subscription's stream (status OK) and frees it. */
  unsubscribe(id: string): void {
    const sub = this.subscription(id);
    sub.end('unsubscribed');
    this.release(sub);
  }

  /** Events lost to subscribers (cursors older than the log's retention), ended ones included. */
  droppedTotal(): number {
    return this.registry.list().reduce((sum, s) => sum + s.counters.dropped, this.counters.dropped);
  }

  /** Frees a subscription whose stream ended for any reason. */
  release(sub: Subscription): void {
    sub.end('cancelled');
    if (this.registry.get(sub.id) === sub) this.counters.dropped += sub.counters.dropped;
    this.registry.remove(sub);
  }

  subscription(id: string): Subscription {
    const sub = this.registry.get(id);
    if (!sub) throw unknownSubscription(id);
    return sub;
  }

  /** Calls `listener` after every group commit with its results; returns a function that removes it. */
  onStored(listener: (results: readonly AppendResult[]) => void): () => void {
    this.storedListeners.add(listener);
    return () => this.storedListeners.delete(listener);
  }

  /** Stops taking events, stores what is queued, then ends every stream after its queue is written. */
  async shutdown(): Promise<void> {
    this.closing = true;
    await this.ingest.close();
    for (const sub of this.registry.list()) sub.end('shutdown', true);
  }

  private stored(results: AppendResult[], route: boolean): void {
    for (const r of results) {
      if (r.duplicate) {
        this.counters.duplicates++;
        continue;
      }
      this.counters.published++;
      const key = `${severityName(r.event.severity)}/${typeInfo(r.event.type).category}`;
      this.counters.publishedByClass.set(key, (this.counters.publishedByClass.get(key) ?? 0) + 1);
    }
    if (route) this.routed(results);
  }

  private routed(results: readonly AppendResult[]): void {
    this.registry.route(results);
    for (const listener of this.storedListeners) listener(results);
  }

  private resumePoint({ afterSequence, afterCursor, cursorField = 'after_cursor' }: SubscribeParams): ResolvedCursor | undefined {
    if (afterCursor === undefined) return afterSequence === undefined ? undefined : { afterSequence };
    if (afterSequence !== undefined) throw AppError.invalid(cursorField, 'give after_sequence or after_cursor, not both');
    return resolveCursor(this.log, afterCursor, cursorField);
  }

  private startCursor(filter: Filter, afterSequence: number | undefined): number {
    const last = this.log.lastSequence();
    if (afterSequence !== undefined && afterSequence > last) {
      throw AppError.invalid('after_sequence', `${afterSequence} is beyond the last stored sequence ${last}`);
    }
    const fromTime = filter.start && filter.start.getTime() <= this.clock.now().getTime()
      ? this.log.sequenceBefore(filter.start)
      : undefined;
    if (afterSequence === undefined) return fromTime ?? last;
    return Math.max(afterSequence, fromTime ?? 0);
  }
}
