import type { ServerWritableStream } from '@grpc/grpc-js';
import type {
  GetSubscriptionStatsRequest, GetSubscriptionStatsResponse, ListSubscriptionsRequest, ListSubscriptionsResponse,
  SubscribeRequest, SubscribeResponse, SubscriptionInfo, UnsubscribeRequest, UnsubscribeResponse,
} from '../../../generated/audit/v1/audit_service.js';
import { toFilter, toProtoFilter } from '../../contract/filter-mapping.js';
import type { InputLimits } from '../../contract/limits.js';
import { toTimestamp } from '../../contract/time-mapping.js';
import { unknownSubscription, type Dispatcher } from '../../dispatch/dispatcher.js';
import { pumpSubscription, type PumpOptions } from '../../dispatch/pump.js';
import type { Subscription } from '../../dispatch/subscription.js';
import { AppError } from '../../domain/errors.js';
import type { Permissions } from '../../security/roles.js';
import { type PipelineDeps, streamed, unary } from './pipeline.js';
import { GrpcStreamSink } from './stream-sink.js';

export interface SubscriptionDeps extends PipelineDeps {
  readonly dispatcher: Dispatcher;
  readonly limits: InputLimits;
  readonly pump: PumpOptions;
  /** Open Subscribe streams, so shutdown can wait for them to drain. */
  readonly streams: Set<Promise<void>>;
}

export function subscriptionInfo(sub: Subscription, lastSequence: number): SubscriptionInfo {
  return {
    subscriptionId: sub.id,
    filter: toProtoFilter(sub.filter.source),
    createdAt: toTimestamp(sub.createdAt),
    ...sub.counters,
    lag: Math.max(0, lastSequence - sub.resumeCursor()),
    mode: sub.mode,
    transport: sub.transport,
    clientName: sub.clientName,
    cursor: sub.deliveredCursor,
  };
}

/** Subscribe, Unsubscribe, GetSubscriptionStats and ListSubscriptions. */
export function createSubscriptionHandlers(deps: SubscriptionDeps) {
  const { dispatcher, security } = deps;

  /** The caller's own subscription; another caller's answers exactly as an unknown id, so ids cannot be probed. */
  function ownSubscription(caller: Permissions, subscriptionId: string): Subscription {
    const sub = dispatcher.registry.get(subscriptionId);
    if (!sub || !security.mayActOn(caller, sub.owner)) throw unknownSubscription(subscriptionId);
    return sub;
  }

  async function subscribe(call: ServerWritableStream<SubscribeRequest, SubscribeResponse>, caller: Permissions): Promise<void> {
    const filter = toFilter(call.request.filter, deps.limits);
    const release = security.holdSubscription(caller);
    let sub: Subscription;
    try {
      sub = dispatcher.subscribe({
        filter, afterSequence: call.request.afterSequence, afterCursor: call.request.afterCursor || undefined,
        clientName: call.request.clientName.slice(0, 256), transport: 'grpc', viewer: security.viewer(caller), owner: caller.identity.subject,
      });
    } catch (err) {
      release();
      throw err;
    }
    try {
      const sink = new GrpcStreamSink(call, (sequence) => sub.tokenAt(sequence));
      call.on('cancelled', () => sub.end('cancelled')); // wakes the pump if it is waiting for events
      const started = { subscriptionId: sub.id, cursor: sub.deliveredCursor, resumeCursor: sub.tokenAt(sub.deliveredCursor) };
      sink.write({ kind: { $case: 'started', started } });
      const reason = await pumpSubscription(sub, sink, deps.pump);
      if (reason === 'shutdown') throw new AppError('UNAVAILABLE', 'the server is shutting down; resume with after_cursor');
      if (reason !== 'cancelled') call.end();
    } finally {
      dispatcher.release(sub);
      release();
    }
  }

  return {
    subscribe(call: ServerWritableStream<SubscribeRequest, SubscribeResponse>): void {
      const stream = streamed(deps, 'Subscribe', 'read', subscribe, call);
      deps.streams.add(stream);
      void stream.finally(() => deps.streams.delete(stream));
    },
    unsubscribe: unary<UnsubscribeRequest, UnsubscribeResponse>(deps, 'Unsubscribe', 'signed-in', (request, caller) => {
      dispatcher.unsubscribe(ownSubscription(caller, request.subscriptionId).id);
      return {};
    }),
    getSubscriptionStats: unary<GetSubscriptionStatsRequest, GetSubscriptionStatsResponse>(deps, 'GetSubscriptionStats', 'signed-in', (request, caller) =>
      ({ subscription: subscriptionInfo(ownSubscription(caller, request.subscriptionId), dispatcher.log.lastSequence()) })),
    listSubscriptions: unary<ListSubscriptionsRequest, ListSubscriptionsResponse>(deps, 'ListSubscriptions', 'signed-in', (_request, caller) => {
      const visible = dispatcher.registry.list().filter((s) => caller.canOperate || s.owner === caller.identity.subject);
      return { subscriptions: visible.map((s) => subscriptionInfo(s, dispatcher.log.lastSequence())) };
    }),
  };
}
