import { v7 as timeOrderedUuid } from 'uuid';
import { status } from '@grpc/grpc-js';
import type { DeepPartial, PublishBatchResponse, PublishError, PublishResponse, PublishResult } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import type { Endpoints } from './connection.js';
import { asError, AuditStreamError, isRetryablePublish, isRetryableRefusal } from './errors.js';
import { type RetryPlan, type RetrySchedule, withRetries } from './retry.js';
import { unaryCall } from './unary.js';

/** An event as the application gives it: any subset of the fields; the rest take their defaults. */
export type EventInput = DeepPartial<AuditEvent>;

/** What a publish needs besides its events. */
export interface PublishContext {
  readonly endpoints: Endpoints;
  readonly signal: AbortSignal;
  /** Each attempt's deadline. */
  readonly callTimeoutMs: number;
  readonly retry: RetrySchedule;
  readonly onRetry?: RetryPlan['onRetry'] | undefined;
}

/**
 * The event with an id: the library draws the id the server would otherwise draw (a time-ordered
 * UUIDv7, which the log's id index takes in order) before the first attempt, so that sending it again
 * after a lost answer stores it once (the server answers `duplicate: true` with the original sequence
 * instead of storing a copy).
 */
export function withId(input: EventInput): AuditEvent {
  const event = AuditEvent.fromPartial(input);
  return event.id === '' ? { ...event, id: timeOrderedUuid() } : event;
}

const plan = (context: PublishContext): RetryPlan => ({ limits: context.retry, retryable: isRetryablePublish, onRetry: context.onRetry });

/** Publish: one event, stored once however often it had to be sent. */
export function publishOne(context: PublishContext, input: EventInput): Promise<PublishResponse> {
  const event = withId(input);
  const choose = context.endpoints.chooser();
  return withRetries((attempt, previousError) => {
    const { client } = choose(attempt, previousError);
    return unaryCall<PublishResponse>((metadata, options, cb) => client.publish({ event }, metadata, options, cb), context.signal, context.callTimeoutMs);
  }, plan(context), context.signal);
}

/** Some events of a batch were refused for now; they are sent again, alone, after a backoff. */
class RefusedForNow extends AuditStreamError {}

/** What became of a batch: each event's result, and for the events without one, why the sending stopped. */
export interface BatchOutcome {
  /** results[i] is events[i]'s answer; undefined when it got none (see failure). */
  readonly results: (PublishResult | undefined)[];
  /** Why some events got no answer: a call failed for good, the retries ran out, or the signal aborted. */
  readonly failure?: Error | undefined;
}

/**
 * PublishBatch with retries, one result per event in the order given. A call the server refused
 * as a whole (rate limit, lost connection) is sent again after the backoff or the server's
 * `retry-after-ms`; events refused one by one for now (a full lane, a shutdown) are sent again, in
 * their order, without the events already stored. Events refused for good (INVALID_ARGUMENT ...)
 * keep their refusal; so do events still refused for now when the retries run out. When a call
 * fails for good after earlier attempts stored some events, those keep their results.
 */
export async function sendBatch(context: PublishContext, events: readonly AuditEvent[]): Promise<BatchOutcome> {
  const results: (PublishResult | undefined)[] = events.map(() => undefined);
  /** The events still to send, with their place in `events`. */
  let pending = events.map((event, index) => ({ event, index }));
  const choose = context.endpoints.chooser();
  try {
    await withRetries(async (attempt, previousError) => {
      const { client } = choose(attempt, previousError);
      const request = { events: pending.map((p) => p.event) };
      const response = await unaryCall<PublishBatchResponse>(
        (metadata, options, cb) => client.publishBatch(request, metadata, options, cb), context.signal, context.callTimeoutMs,
      );
      if (response.results.length !== pending.length) {
        throw new AuditStreamError(status.INTERNAL, `PublishBatch answered ${response.results.length} results for ${pending.length} events`);
      }
      const refused: { error: PublishError; event: AuditEvent; index: number }[] = [];
      pending.forEach((p, k) => {
        const result = response.results[k];
        results[p.index] = result;
        if (result?.outcome?.$case === 'error' && isRetryableRefusal(result.outcome.error)) refused.push({ ...p, error: result.outcome.error });
      });
      pending = refused;
      const first = refused[0];
      if (first) {
        const code = first.error.code === 'UNAVAILABLE' ? status.UNAVAILABLE : status.RESOURCE_EXHAUSTED;
        throw new RefusedForNow(code, `${refused.length} of ${request.events.length} events refused for now: ${first.error.message}`);
      }
    }, plan(context), context.signal);
    return { results };
  } catch (err) {
    if (err instanceof RefusedForNow) return { results };
    // The events of the failed attempt have no answer of their own (a refusal from before is stale).
    for (const p of pending) results[p.index] = undefined;
    return { results, failure: asError(err) };
  }
}

/**
 * PublishBatch as the generated client answers it, with the retries of `sendBatch`. Throws when the
 * batch failed as a whole with nothing stored; when some events were stored first, the others carry
 * the failure as their own error.
 */
export async function publishMany(context: PublishContext, inputs: readonly EventInput[]): Promise<PublishBatchResponse> {
  const events = inputs.map(withId);
  const { results, failure } = await sendBatch(context, events);
  if (failure !== undefined && results.every((r) => r === undefined)) throw failure;
  const failed = failure instanceof AuditStreamError
    ? { code: failure.codeName, message: failure.details, field: failure.field ?? '' }
    : { code: 'UNKNOWN', message: failure instanceof Error ? failure.message : String(failure), field: '' };
  const complete = events.map((event, i): PublishResult => results[i] ?? { eventId: event.id, outcome: { $case: 'error', error: failed } });
  const acceptedCount = complete.filter((r) => r.outcome?.$case === 'stored').length;
  return { results: complete, acceptedCount, rejectedCount: complete.length - acceptedCount };
}
