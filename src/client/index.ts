/**
 * The auditstream client library (`auditstream/client`): publish, publish in batches, and subscribe
 * with resume, over gRPC, typed with the generated messages. It knows the service only by its proto
 * contract; nothing here imports the server.
 */
import type { AuditServiceClient, PublishBatchResponse, PublishResponse } from '../../generated/audit/v1/audit_service.js';
import { type BatchingPublisher, type BatchingPublisherOptions, Batcher } from './batching-publisher.js';
import { type ConnectionOptions, Endpoints } from './connection.js';
import { type EventInput, publishMany, publishOne, type PublishContext } from './publish.js';
import { type RetryInfo, type RetryLimits, retryLimits, type RetrySchedule } from './retry.js';
import { type FilterInput, ResumingSubscription, type SubscribeOptions, type Subscription, toFilter } from './subscribe.js';

export interface ClientOptions extends ConnectionOptions {
  /** Aborting it closes the client: every subscription and publish of it ends with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** The deadline of each publish attempt (default 30 s). */
  readonly callTimeoutMs?: number | undefined;
  /** Retries of publish and publishBatch (defaults: 5 attempts, 100 ms to 5 s; a server's retry-after-ms wins). */
  readonly retry?: RetryLimits | undefined;
  /** Told before each retry of publish and publishBatch. */
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
}

/** Per call: a signal that cancels this call only. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface AuditStreamClient {
  /**
   * Stores one event; resolves with its sequence and cursor once it is durable. The event gets an
   * id here when it has none, so a retry after a lost answer cannot store it twice (the answer then
   * says `duplicate: true`, with the original sequence).
   */
  publish(event: EventInput, options?: CallOptions): Promise<PublishResponse>;
  /** Stores several events in one call; one result per event, in order (see `sendBatch` for what is retried). */
  publishBatch(events: readonly EventInput[], options?: CallOptions): Promise<PublishBatchResponse>;
  /** Collects `publish` calls into PublishBatch calls: in order, each event with its own result. */
  batchingPublisher(options?: BatchingPublisherOptions): BatchingPublisher;
  /** Matching events, handed to the application once each, in order, across reconnects and nodes. */
  subscribe(filter?: FilterInput, options?: SubscribeOptions): Subscription;
  /** The generated grpc-js client of the current address, for the RPCs this library does not wrap (GetStats, Query, ...). */
  raw(): AuditServiceClient;
  /** Ends every subscription and publish in progress and closes the connections. */
  close(): void;
}

const PUBLISH_RETRY = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 5_000 };
const BATCHING_RETRY = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5_000 };

/** A client for one service (one address) or one cluster (several). Connects lazily. */
export function createClient(options: ClientOptions): AuditStreamClient {
  const endpoints = new Endpoints(options);
  const closing = new AbortController();
  const signalOf = (own?: AbortSignal): AbortSignal => AbortSignal.any([closing.signal, ...(options.signal ? [options.signal] : []), ...(own ? [own] : [])]);
  const context = (own: AbortSignal | undefined, retry: RetryLimits | undefined, defaults: RetrySchedule, onRetry = options.onRetry): PublishContext => ({
    endpoints, signal: signalOf(own), callTimeoutMs: options.callTimeoutMs ?? 30_000, retry: retryLimits(retry ?? options.retry, defaults), onRetry,
  });
  const close = (): void => {
    closing.abort(new DOMException('the client is closed', 'AbortError'));
    endpoints.close();
  };
  if (options.signal?.aborted) close();
  else options.signal?.addEventListener('abort', close, { once: true });
  return {
    publish: (event, call) => publishOne(context(call?.signal, undefined, PUBLISH_RETRY), event),
    publishBatch: (events, call) => publishMany(context(call?.signal, undefined, PUBLISH_RETRY), events),
    batchingPublisher: (batching = {}) => new Batcher(context(batching.signal, batching.retry, BATCHING_RETRY, batching.onRetry ?? options.onRetry), batching),
    subscribe: (filter, subscribe = {}) => new ResumingSubscription(endpoints, toFilter(filter), subscribe, signalOf(subscribe.signal)),
    raw: () => endpoints.pick().client,
    close,
  };
}

export { AuditStreamError } from './errors.js';
export type { BatchingPublisher, BatchingPublisherOptions } from './batching-publisher.js';
export type { ConnectionOptions, TlsOptions } from './connection.js';
export { channelCredentials, bearerInterceptor } from './connection.js';
export type { EventInput } from './publish.js';
export type { RetryInfo, RetryLimits } from './retry.js';
export type { FilterInput, SubscribeOptions, Subscription } from './subscribe.js';
export type {
  Checkpoint, Filter, GapNotice, PublishBatchResponse, PublishError, PublishResponse, PublishResult, TimeRange,
} from '../../generated/audit/v1/audit_service.js';
export { AuditEvent, EventType, Result, Severity } from '../../generated/audit/v1/event.js';
