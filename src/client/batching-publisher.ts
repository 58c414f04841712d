import { status } from '@grpc/grpc-js';
import type { PublishResponse, PublishResult } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { abortReason, asError, AuditStreamError } from './errors.js';
import { type EventInput, type PublishContext, sendBatch, withId } from './publish.js';
import type { RetryInfo, RetryLimits } from './retry.js';

export interface BatchingPublisherOptions {
  /** Events per PublishBatch call (default 100). Keep it within the server's `publish_burst` when a rate limit applies: a larger batch never fits. */
  readonly maxBatch?: number | undefined;
  /** How long the first waiting event waits for others before its batch goes (default 5 ms). */
  readonly lingerMs?: number | undefined;
  /** Retries of a batch (defaults: 10 attempts, 100 ms to 5 s; a server's retry-after-ms wins). */
  readonly retry?: RetryLimits | undefined;
  /** Told before each retry: why, which attempt, how long the wait. */
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
  /** Aborting rejects every event not yet stored with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

export interface BatchingPublisher {
  /**
   * Queues one event; resolves with its own acknowledgement once it is stored, or rejects with an
   * AuditStreamError carrying its own code and field (`event.action`, as a single Publish names it).
   */
  publish(event: EventInput): Promise<PublishResponse>;
  /** Sends what waits now; resolves once every event published before it is settled. */
  flush(): Promise<void>;
  /** Flushes, then refuses further events. */
  close(): Promise<void>;
}

interface Waiting {
  readonly event: AuditEvent;
  readonly resolve: (ack: PublishResponse) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Collects events into PublishBatch calls. One batch is in flight at a time and a batch is retried
 * before the next one goes, so events reach the server in the order they were published; events
 * published while a batch is in flight form the next one at once. No event is dropped: each
 * promise settles with that event's own outcome.
 */
export class Batcher implements BatchingPublisher {
  private waiting: Waiting[] = [];
  private sending = false;
  private closed = false;
  private linger: NodeJS.Timeout | undefined;
  /** Settles after the newest event published so far: since batches go in order, after all of them. */
  private newest: Promise<unknown> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly lingerMs: number;

  constructor(private readonly context: PublishContext, options: BatchingPublisherOptions) {
    this.maxBatch = options.maxBatch ?? 100;
    this.lingerMs = options.lingerMs ?? 5;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new TypeError('maxBatch: a whole number of at least 1');
    context.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  publish(input: EventInput): Promise<PublishResponse> {
    if (this.closed) return Promise.reject(new AuditStreamError(status.CANCELLED, 'the batching publisher is closed'));
    if (this.context.signal.aborted) return Promise.reject(abortReason(this.context.signal));
    let event: AuditEvent;
    try {
      event = withId(input);
    } catch (err) {
      return Promise.reject(asError(err));
    }
    const ack = new Promise<PublishResponse>((resolve, reject) => this.waiting.push({ event, resolve, reject }));
    this.newest = ack.catch(() => undefined);
    if (this.waiting.length >= this.maxBatch) this.send();
    else this.linger ??= setTimeout(() => this.send(), this.lingerMs);
    return ack;
  }

  async flush(): Promise<void> {
    this.send();
    await this.newest;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.context.signal.removeEventListener('abort', this.onAbort);
  }

  /** Starts sending unless a batch is already in flight (its loop takes what waits when it is done). */
  private send(): void {
    clearTimeout(this.linger);
    this.linger = undefined;
    if (this.sending || this.waiting.length === 0) return;
    this.sending = true;
    void this.sendAll();
  }

  private async sendAll(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, this.maxBatch);
        const { results, failure } = await sendBatch(this.context, batch.map((w) => w.event));
        batch.forEach((waiting, i) => {
          const result = results[i];
          if (result) settle(waiting, result);
          else waiting.reject(failure ?? new AuditStreamError(status.INTERNAL, 'PublishBatch left this event without an answer'));
        });
      }
    } finally {
      // In the same turn as the last check for waiting events: one published after it starts a new loop.
      this.sending = false;
    }
  }

  private readonly onAbort = (): void => {
    clearTimeout(this.linger);
    for (const w of this.waiting.splice(0)) w.reject(abortReason(this.context.signal));
  };
}

function settle(waiting: Waiting, result: PublishResult): void {
  if (result.outcome?.$case === 'stored') waiting.resolve(result.outcome.stored);
  else if (result.outcome?.$case === 'error') waiting.reject(AuditStreamError.fromPublishError(result.outcome.error, waiting.event.id, true));
  else waiting.reject(new AuditStreamError(status.INTERNAL, 'PublishBatch answered no outcome for this event'));
}
