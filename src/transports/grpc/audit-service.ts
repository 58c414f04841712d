import { status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import type {
  AuditServiceServer, GetStatsResponse, PublishBatchRequest, PublishBatchResponse, PublishResponse, PublishResult,
  SubscribeRequest, SubscribeResponse, SubscriptionInfo,
} from '../../../generated/audit/v1/audit_service.js';
import { toNewEvent } from '../../contract/event-mapping.js';
import { toFilter, toProtoFilter } from '../../contract/filter-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import { unknownSubscription, type Dispatcher } from '../../dispatch/dispatcher.js';
import { pumpSubscription, type PumpOptions } from '../../dispatch/pump.js';
import type { Subscription } from '../../dispatch/subscription.js';
import { AppError, isAppError } from '../../domain/errors.js';
import type { NewAuditEvent } from '../../domain/event.js';
import type { AppendResult } from '../../domain/ports.js';
import { activeTraceparent, tracingEnabled } from '../../lib/tracing.js';
import type { Logger } from '../../observability/logger.js';
import type { FilterBudget } from '../../filtering/cpu-budget.js';
import type { Checkpointer } from '../../store/checkpointer.js';
import type { KafkaSink } from '../kafka/index.js';
import { createDeadLetterHandlers, kafkaStats } from './dead-letter-handlers.js';
import type { Permissions } from '../../security/roles.js';
import type { Security } from '../../security/security.js';
import { createBackupHandler } from './backup-handler.js';
import { callerOf } from './caller.js';
import { createErasureHandler } from './erasure-handler.js';
import { createHistoryHandlers } from './history-handlers.js';
import { toGrpcError } from './status.js';
import { GrpcStreamSink } from './stream-sink.js';
import { toTimestamp } from '../../contract/time-mapping.js';

export interface AuditServiceDeps {
  readonly dispatcher: Dispatcher;
  readonly limits: InputLimits;
  readonly maxExpressionLength: number;
  readonly filterBudget?: FilterBudget;
  /** Signed checkpoints, when storage.checkpoints is on (GetCheckpoint, VerifyChain). */
  readonly checkpoints?: Checkpointer;
  readonly pump: PumpOptions;
  readonly log: Logger;
  /** Open Subscribe streams, so shutdown can wait for them to drain. */
  readonly streams: Set<Promise<void>>;
  /** The Kafka forwarder, when kafka.enabled (GetStats, dead letter RPCs). */
  readonly kafka?: KafkaSink;
  readonly security: Security;
}

function ack({ event, duplicate }: AppendResult): PublishResponse {
  return { eventId: event.id, sequence: event.sequence, duplicate, cursor: event.cursor ?? String(event.sequence) };
}

/**
 * Answers a unary call from a promise, mapping errors through the one status table, with a debug
 * log line per call (carrying the trace id when tracing is on).
 */
function answer<T>(rpc: string, callback: sendUnaryData<T>, log: Logger, work: () => Promise<T> | T): void {
  const started = performance.now();
  const done = (code: string): void => log.debug({ rpc, code, ms: Math.round((performance.now() - started) * 10) / 10 }, 'rpc');
  Promise.resolve()
    .then(work)
    .then((value) => {
      done('OK');
      callback(null, value);
    }, (err: unknown) => {
      const status = toGrpcError(err, log);
      done(String(status.code));
      callback(status);
    });
}

export function subscriptionInfo(sub: Subscription, lastSequence: number): SubscriptionInfo {
  const cursor = sub.deliveredCursor;
  return {
    subscriptionId: sub.id,
    filter: toProtoFilter(sub.filter.source),
    createdAt: toTimestamp(sub.createdAt),
    ...sub.counters,
    lag: Math.max(0, lastSequence - sub.resumeCursor()),
    mode: sub.mode,
    transport: sub.transport,
    clientName: sub.clientName,
    cursor,
  };
}

export function createAuditService(deps: AuditServiceDeps): AuditServiceServer {
  const { dispatcher, limits, log, security } = deps;
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

  async function publishBatch(request: PublishBatchRequest, caller: Permissions): Promise<PublishBatchResponse> {
    security.requirePublish(caller);
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
        return { eventId: raw.id, pending: Promise.reject(err) };
      }
    });
    const settled = await Promise.allSettled(outcomes.map((o) => o.pending));
    const results = settled.map((s, i): PublishResult => {
      if (s.status === 'fulfilled') return { eventId: s.value.event.id, outcome: { $case: 'stored', stored: ack(s.value) } };
      const grpc = toGrpcError(s.reason, log);
      const field = isAppError(s.reason) ? (s.reason.field ?? '') : '';
      return {
        eventId: outcomes[i].eventId,
        outcome: { $case: 'error', error: { code: status[grpc.code ?? status.INTERNAL], message: grpc.details ?? '', field } },
      };
    });
    const acceptedCount = settled.filter((s) => s.status === 'fulfilled').length;
    return { results, acceptedCount, rejectedCount: results.length - acceptedCount };
  }

  async function subscribe(call: ServerWritableStream<SubscribeRequest, SubscribeResponse>): Promise<void> {
    let sub: Subscription;
    let release = (): void => undefined;
    try {
      const caller = await callerOf(security, call);
      security.requireRead(caller);
      const filter = toFilter(call.request.filter, limits);
      release = security.holdSubscription(caller);
      sub = dispatcher.subscribe({
        filter, afterSequence: call.request.afterSequence, afterCursor: call.request.afterCursor || undefined, clientName: call.request.clientName.slice(0, 256), transport: 'grpc',
        viewer: security.viewer(caller), owner: caller.identity.subject,
      });
    } catch (err) {
      release();
      call.emit('error', toGrpcError(err, log));
      return;
    }
    const sink = new GrpcStreamSink(call, (sequence) => sub.tokenAt(sequence));
    call.on('cancelled', () => sub.end('cancelled')); // wakes the pump if it is waiting for events
    const started = { subscriptionId: sub.id, cursor: sub.deliveredCursor, resumeCursor: sub.tokenAt(sub.deliveredCursor) };
    sink.write({ kind: { $case: 'started', started } });
    try {
      const reason = await pumpSubscription(sub, sink, deps.pump);
      if (reason === 'shutdown') call.emit('error', { code: status.UNAVAILABLE, details: 'the server is shutting down; resume with after_cursor' });
      else if (reason !== 'cancelled') call.end();
    } catch (err) {
      call.emit('error', toGrpcError(err, log));
    } finally {
      dispatcher.release(sub);
      release();
    }
  }

  const history = createHistoryHandlers({
    log: dispatcher.log, limits, maxExpressionLength: deps.maxExpressionLength, filterBudget: deps.filterBudget, checkpoints: deps.checkpoints, batchSize: deps.pump.batchSize, logger: log, security,
  });
  const deadLetters = createDeadLetterHandlers({ kafka: deps.kafka, logger: log });
  /** An operations RPC: admins only. */
  const opsOnly = <Req, Res>(handler: (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      callerOf(security, call).then((caller) => {
        security.requireOps(caller);
        handler(call, callback);
      }).catch((err: unknown) => callback(toGrpcError(err, log)));
    };

  return {
    ...history,
    listDeadLetters: opsOnly(deadLetters.listDeadLetters),
    redriveDeadLetters: opsOnly(deadLetters.redriveDeadLetters),
    erasePersonalData: createErasureHandler({ dispatcher, limits, security, logger: log }),
    backup: createBackupHandler({ log: dispatcher.log, security, logger: log }),
    publish(call, callback) {
      answer('Publish', callback, log, async () => {
        const caller = await callerOf(security, call);
        security.requirePublish(caller);
        security.limitPublish(caller, 1);
        const event = validated(() => toNewEvent(call.request.event, limits, now()));
        return ack(await dispatcher.publish(event));
      });
    },
    publishBatch(call, callback) {
      answer('PublishBatch', callback, log, async () => publishBatch(call.request, await callerOf(security, call)));
    },
    subscribe(call) {
      const stream = subscribe(call);
      deps.streams.add(stream);
      void stream.finally(() => deps.streams.delete(stream));
    },
    unsubscribe(call, callback) {
      answer('Unsubscribe', callback, log, async () => {
        const caller = await callerOf(security, call);
        const { subscriptionId } = call.request;
        const sub = dispatcher.registry.get(subscriptionId);
        // Another caller's subscription answers exactly as an unknown id: ids cannot be probed.
        if (!sub || !security.mayActOn(caller, sub.owner)) throw unknownSubscription(subscriptionId);
        dispatcher.unsubscribe(subscriptionId);
        return {};
      });
    },
    getStats(call, callback) {
      answer('GetStats', callback, log, async (): Promise<GetStatsResponse> => {
        security.requireOps(await callerOf(security, call));
        const { counters, ingest } = dispatcher;
        const lanes = [ingest.critical, ingest.regular].map((l) => ({ name: l.name, size: l.items.length, capacity: l.capacity }));
        return {
          eventsPublished: counters.published, eventsFailed: counters.failed, duplicates: counters.duplicates,
          eventsDropped: dispatcher.droppedTotal(),
          lanes, activeSubscriptions: dispatcher.registry.size, lastSequence: dispatcher.log.lastSequence(),
          startedAt: toTimestamp(dispatcher.startedAt),
          kafka: kafkaStats(deps.kafka),
        };
      });
    },
    getSubscriptionStats(call, callback) {
      answer('GetSubscriptionStats', callback, log, async () => {
        const caller = await callerOf(security, call);
        const { subscriptionId } = call.request;
        const sub = dispatcher.registry.get(subscriptionId);
        if (!sub || !security.mayActOn(caller, sub.owner)) throw unknownSubscription(subscriptionId);
        return { subscription: subscriptionInfo(sub, dispatcher.log.lastSequence()) };
      });
    },
    listSubscriptions(call, callback) {
      answer('ListSubscriptions', callback, log, async () => {
        const caller = await callerOf(security, call);
        const visible = dispatcher.registry.list().filter((s) => caller.canOperate || s.owner === caller.identity.subject);
        return { subscriptions: visible.map((s) => subscriptionInfo(s, dispatcher.log.lastSequence())) };
      });
    },
  };
}
