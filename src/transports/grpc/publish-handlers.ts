import { status } from '@grpc/grpc-js';
import type {
  PublishBatchRequest, PublishBatchResponse, PublishRequest, PublishResponse, PublishResult,
} from '../../../generated/audit/v1/audit_service.js';
import { toNewEvent } from '../../contract/event-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import type { Dispatcher } from '../../dispatch/dispatcher.js';
import { AppError, isAppError } from '../../domain/errors.js';
import type { NewAuditEvent } from '../../domain/event.js';
import type { AppendResult } from '../../domain/ports.js';
import { activeTraceparent, tracingEnabled } from '../../lib/tracing.js';
import { type PipelineDeps, unary } from './pipeline.js';
import { toGrpcError } from './status.js';

export interface PublishDeps extends PipelineDeps {
  readonly dispatcher: Dispatcher;
  readonly limits: InputLimits;
}

function ack({ event, duplicate }: AppendResult): PublishResponse {
  return { eventId: event.id, sequence: event.sequence, duplicate, cursor: event.cursor ?? String(event.sequence) };
}

/** Publish and PublishBatch: acknowledged once the log holds the event. */
export function createPublishHandlers(deps: PublishDeps) {
  const { dispatcher, limits, security, log } = deps;
  const now = (): Date => new Date();

  /** Validates, and carries the caller's trace context with the event (so its later spans join the trace). */
  function validated(build: () => NewAuditEvent): NewAuditEvent {
    try {
      const event = build();
      return tracingEnabled() ? { ...event, traceparent: activeTraceparent() } : event;
    } catch (err) {
      if (isAppError(err)) dispatcher.rejected(err.code);
      throw err;
    }
  }

  return {
    publish: unary<PublishRequest, PublishResponse>(deps, 'Publish', 'publish', async (request, caller) => {
      security.limitPublish(caller, 1);
      const event = validated(() => toNewEvent(request.event, limits, now()));
      return ack(await dispatcher.publish(event));
    }),

    publishBatch: unary<PublishBatchRequest, PublishBatchResponse>(deps, 'PublishBatch', 'publish', async (request, caller) => {
      if (request.events.length > limits.maxBatchEvents) {
        throw AppError.invalid('events', `has ${request.events.length} events, the limit is ${limits.maxBatchEvents}`);
      }
      security.limitPublish(caller, request.events.length);
      // Submit every valid event before awaiting any, so the batch shares group commits and keeps its order.
      const outcomes = request.events.map((raw, i) => {
        try {
          const event = validated(() => toNewEvent(raw, limits, now(), `events[${i}]`));
          return { eventId: event.id, pending: dispatcher.publish(event) };
        } catch (err) {
          return { eventId: raw.id, pending: Promise.reject(err instanceof Error ? err : new Error(String(err))) };
        }
      });
      const settled = await Promise.allSettled(outcomes.map((o) => o.pending));
      const results = settled.map((s, i): PublishResult => {
        if (s.status === 'fulfilled') return { eventId: s.value.event.id, outcome: { $case: 'stored', stored: ack(s.value) } };
        const grpc = toGrpcError(s.reason, log);
        const field = isAppError(s.reason) ? (s.reason.field ?? '') : '';
        return {
          eventId: outcomes[i]?.eventId ?? '',
          outcome: { $case: 'error', error: { code: status[grpc.code ?? status.INTERNAL], message: grpc.details ?? '', field } },
        };
      });
      const acceptedCount = settled.filter((s) => s.status === 'fulfilled').length;
      return { results, acceptedCount, rejectedCount: results.length - acceptedCount };
    }),
  };
}
