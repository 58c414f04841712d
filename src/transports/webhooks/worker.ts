import { isBrokenCircuitError } from 'cockatiel';
import { eventJson } from '../../contract/json-encoding.js';
import type { DeadLetterStore } from '../../domain/dead-letters.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { EventLog } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import { FailureLog } from './failure-log.js';
import { type CircuitName, Stopped, type WebhookPolicy } from './policy.js';
import type { Selector } from './selector.js';
import { DeliveryError, postSigned } from './sender.js';

export interface WorkerDeps {
  readonly id: string;
  readonly url: string;
  readonly secret: string;
  readonly log: EventLog;
  /** The last sequence dealt with (delivered, filtered out or dead-lettered); kept with the log. */
  readonly cursor: { get(): number; set(sequence: number): void };
  readonly deadLetters: DeadLetterStore;
  readonly policy: WebhookPolicy;
  readonly selector: Selector;
  readonly logger: Logger;
  readonly batchSize: number;
  readonly lingerMs: number;
  /** The filter failed its cost limit: the webhook must be paused with this reason (see Selector). */
  readonly onHalt: (reason: string) => void;
}

/** A webhook's delivery state (WebhookStatus in the proto). */
export interface DeliveryStatus {
  readonly cursor: number;
  /** Stored events after the cursor, matching or not. */
  readonly lag: number;
  readonly circuit: CircuitName;
  /** Since start: events acknowledged, failed requests, events dead-lettered. */
  readonly sent: number;
  readonly failed: number;
  readonly deadLettered: number;
  readonly deadLetters: number;
  readonly lastError: string;
  readonly lastSuccessAt: Date | undefined;
}

/** What one request with some events came to (redrive). */
export type SendOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly message: string; readonly circuitOpen: boolean };

/** Raw log rows read in one go, and at most per event-loop turn, however sparse the filter. */
const MAX_SCAN_PER_TURN = 5_000;
/** A request stops growing past this many bytes of events (always at least one event): receivers cap bodies. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** How long progress over events that matched nothing may stay unsaved (see advance). */
const SAVE_SKIPPED_AFTER_MS = 1_000;

/**
 * One webhook's delivery loop, independent of every other: it reads the log after its cursor, picks
 * the events its owner may see and its filter matches, POSTs up to batchSize of them through its own
 * policy, and moves the cursor only after a 2xx (at least once: a crash or a lost answer sends the
 * batch again). One request is in flight at a time, so batches arrive in log order. When the retries
 * of a batch are used up, its events become dead letters and the cursor moves past them.
 *
 * Nothing here is awaited by anyone else: the dispatcher only calls wake(), which starts the loop if
 * it is idle; an endpoint that hangs or fails holds up this loop alone.
 */
export class WebhookWorker {
  private cursor: number;
  /** The cursor as last saved. */
  private saved: number;
  private pumping: Promise<void> | undefined;
  private again = false;
  private paused = false;
  /** No new batch is taken (shutdown or delete); the request in flight may still finish. */
  private stopping = false;
  /** Aborts the batch being delivered: its retries, and its request if one is in flight. */
  private batch: AbortController | undefined;
  /** Requests in flight: the loop's (at most one) and a redrive's. */
  private requestsInFlight = 0;
  private readonly counters = { sent: 0, failed: 0, deadLettered: 0 };
  private lastError = '';
  private lastSuccessAt: Date | undefined;
  private readonly failures: FailureLog;
  /** Set while the cursor has moved past events that matched nothing and is not saved yet. */
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: WorkerDeps) {
    this.cursor = deps.cursor.get();
    this.saved = this.cursor;
    this.failures = new FailureLog(deps.logger, () => ({ lag: this.lag() }));
    deps.policy.onCircuitChange((state) => this.failures.circuit(state));
    deps.policy.onFailedAttempt((failure) => {
      this.counters.failed++;
      this.lastError = failure.reason;
      this.failures.failed(failure);
    });
  }

  /** Events were stored (or the worker starts or resumes): deliver what is after the cursor. */
  wake(): void {
    if (this.paused || this.stopping) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.again = false;
    this.pumping = this.pump()
      .catch((err: unknown) => this.deps.logger.error({ err }, 'webhook delivery failed'))
      .finally(() => {
        this.pumping = undefined;
        if (this.again) this.wake();
      });
  }

  /** Stops delivering: a batch being retried or sent is given up (sent again on resume, by a new worker). */
  pause(): void {
    this.paused = true;
    this.batch?.abort();
  }

  /**
   * Takes no new batch; lets a request in flight finish (its 2xx then moves the cursor, so it is not
   * sent twice) until `timeoutMs`, then gives it up. A batch waiting between retries is given up at once.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.save(); // before any await: a worker made next for this webhook reads the cursor at once
    if (this.requestsInFlight === 0) this.batch?.abort();
    await Promise.race([this.pumping, delay(timeoutMs)]);
    this.batch?.abort();
    await Promise.race([this.pumping, delay(100)]);
    this.save();
  }

  status(): DeliveryStatus {
    return {
      cursor: this.cursor, lag: this.lag(), circuit: this.deps.policy.circuit, ...this.counters,
      deadLetters: this.deps.deadLetters.count(), lastError: this.lastError, lastSuccessAt: this.lastSuccessAt,
    };
  }

  /** One request with these events, tried once (redrive); resolves with the failure, if any. */
  async sendOnce(events: readonly StoredAuditEvent[]): Promise<SendOutcome> {
    try {
      await this.deps.policy.executeOnce((signal) => this.post(events, signal), new AbortController().signal);
      this.delivered(events.length);
      return { ok: true };
    } catch (err) {
      const circuitOpen = isBrokenCircuitError(err);
      const failure = err instanceof DeliveryError ? err : undefined;
      return { ok: false, reason: circuitOpen ? 'circuit open' : failure?.reason ?? 'error', message: failure?.message ?? String(err), circuitOpen };
    }
  }

  private lag(): number {
    return Math.max(0, this.deps.log.lastSequence() - this.cursor);
  }

  private running(): boolean {
    return !this.paused && !this.stopping;
  }

  private async pump(): Promise<void> {
    if (this.deps.lingerMs > 0 && this.lag() < this.deps.batchSize) await delay(this.deps.lingerMs);
    while (this.running()) {
      const started = performance.now();
      const next = this.collect();
      if (!next) return;
      const failure = this.deps.selector.failure();
      if (failure) {
        // The filter judged some of these events without evaluating them: deliver nothing, keep the cursor.
        this.deps.onHalt(`filter.expression failed its cost limit: ${failure.message}`);
        return;
      }
      const wait = this.deps.selector.pace(performance.now() - started);
      if (next.events.length > 0 && !(await this.deliver(next.events))) return;
      this.advance(next.through, next.events.length > 0);
      await delay(wait);
    }
  }

  /** The next events to send (at most batchSize) and the last sequence looked at; undefined when there is nothing new. */
  private collect(): { events: StoredAuditEvent[]; through: number } | undefined {
    const oldest = this.deps.log.firstSequence();
    if (this.cursor < oldest - 1) {
      // Retention removed events before they were delivered (the endpoint failed longer than the log keeps them).
      this.deps.logger.error({ from: this.cursor + 1, to: oldest - 1 }, 'events were removed by retention before reaching the webhook');
      this.advance(oldest - 1, true);
    }
    const events: StoredAuditEvent[] = [];
    let through = this.cursor;
    let scanned = 0;
    let bytes = 0;
    while (events.length < this.deps.batchSize && scanned < MAX_SCAN_PER_TURN && bytes < MAX_BODY_BYTES) {
      const rows = this.deps.log.readAfter(through, this.deps.batchSize - events.length);
      if (rows.length === 0) break;
      for (const event of rows) {
        through = event.sequence;
        scanned++;
        const view = this.deps.selector.pick(event);
        if (!view) continue;
        events.push(view);
        bytes += eventJson(view).length; // encoded once per event and view, reused for the body
        if (bytes >= MAX_BODY_BYTES) break;
      }
    }
    return through === this.cursor ? undefined : { events, through };
  }

  /**
   * Sends the batch under the policy. True when the cursor may move past it: delivered, or its retries
   * used up and its events dead-lettered. False when the worker gave it up (pause, shutdown, delete):
   * it is sent again from the cursor later.
   */
  private async deliver(events: readonly StoredAuditEvent[]): Promise<boolean> {
    const batch = new AbortController();
    this.batch = batch;
    let attempts = 0;
    const sent = this.deps.policy.execute((signal) => {
      attempts++;
      return this.post(events, signal, batch);
    }, batch.signal);
    try {
      // The retry policy's backoff cannot be interrupted: stop waiting for it when the batch is given up.
      await Promise.race([sent, aborted(batch.signal)]);
      this.delivered(events.length);
      return true;
    } catch (err) {
      if (batch.signal.aborted || err instanceof Stopped) return false;
      this.deadLetter(events, err, attempts);
      return true;
    } finally {
      sent.catch(() => undefined);
      this.batch = undefined;
    }
  }

  private async post(events: readonly StoredAuditEvent[], signal: AbortSignal, batch?: AbortController): Promise<void> {
    const body = `{"events":[${events.map(eventJson).join(',')}]}`;
    this.requestsInFlight++;
    try {
      await postSigned({ url: this.deps.url, webhookId: this.deps.id, secret: this.deps.secret, body }, signal);
    } catch (err) {
      // Shutting down: a failed request is not retried now; the next start sends the batch again.
      if (this.stopping) batch?.abort();
      throw err;
    } finally {
      this.requestsInFlight--;
    }
  }

  private delivered(count: number): void {
    this.counters.sent += count;
    this.lastSuccessAt = new Date();
    this.failures.succeeded();
  }

  private deadLetter(events: readonly StoredAuditEvent[], err: unknown, attempts: number): void {
    const circuitOpen = isBrokenCircuitError(err);
    const failure = err instanceof DeliveryError ? err : undefined;
    const reason = failure?.reason ?? (circuitOpen ? this.lastError || 'circuit open' : 'error');
    const message = failure?.message ?? (circuitOpen ? 'the retries ran out while the circuit was open' : String(err));
    const failedAt = new Date();
    for (const e of events) {
      this.deps.deadLetters.record({ sequence: e.sequence, eventId: e.id, destination: this.deps.url, reason, message, attempts, failedAt });
    }
    this.counters.deadLettered += events.length;
    this.deps.logger.error({ from: events[0]?.sequence, to: events.at(-1)?.sequence, events: events.length, reason, attempts },
      'webhook retries used up: events moved to its dead letters');
  }

  /**
   * Moves the cursor. Past a delivered or dead-lettered batch it is saved at once, so the batch is not
   * sent again after a restart. Past events that matched nothing it is saved within a second: a
   * webhook with a narrow filter would otherwise commit (and fsync) once per group commit of the log,
   * and losing that progress in a crash costs only a second look at events that do not match.
   */
  private advance(sequence: number, durable: boolean): void {
    this.cursor = sequence;
    if (durable) this.save();
    else this.saveTimer ??= setTimeout(() => this.save(), SAVE_SKIPPED_AFTER_MS).unref();
  }

  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (this.saved === this.cursor) return;
    try {
      this.deps.cursor.set(this.cursor);
      this.saved = this.cursor;
    } catch (err) {
      // Past the shutdown deadline the log may be closed: the next start looks at these events again.
      this.deps.logger.warn({ err, cursor: this.cursor }, 'could not save the webhook cursor');
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}

/** Rejects with Stopped once `signal` is aborted (never settles otherwise). */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(new Stopped());
    else signal.addEventListener('abort', () => reject(new Stopped()), { once: true });
  });
}
