import { status } from '@grpc/grpc-js';
import {
  type Checkpoint, type DeepPartial, Filter, type GapNotice, SubscribeRequest, type SubscribeResponse,
} from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import type { Endpoints } from './connection.js';
import { abortReason, AuditStreamError, isConnectionLoss } from './errors.js';
import { readMessages } from './message-stream.js';
import { Deduplicator, ResumePosition } from './resume.js';
import { type RetryInfo, type RetryLimits, retryLimits, withRetries } from './retry.js';

/** A filter as the application gives it: any subset of the fields (an empty filter matches everything). */
export type FilterInput = DeepPartial<Filter>;

export interface SubscribeOptions {
  /** Start after this token (an event's `cursor`, a heartbeat's `resumeCursor`, a stopped subscription's `resumeCursor`); any node accepts it. */
  readonly afterCursor?: string | undefined;
  /** Start after this sequence (single node; in a cluster sequences are per node: use afterCursor). */
  readonly afterSequence?: number | undefined;
  /** Shown in ListSubscriptions. */
  readonly clientName?: string | undefined;
  /** Aborting ends the iteration promptly: the loop throws the signal's reason and the stream is cancelled. */
  readonly signal?: AbortSignal | undefined;
  /** Reconnecting (defaults: forever, 100 ms to 5 s). maxAttempts counts failed attempts in a row; a stream that starts resets it. */
  readonly reconnect?: RetryLimits | undefined;
  /** Take the connection as lost when nothing (not even a heartbeat) arrives for this long; set it above the server's heartbeat_interval. Default 0: off. */
  readonly idleTimeoutMs?: number | undefined;
  /** Messages read ahead of the application (default 64). */
  readonly readAhead?: number | undefined;
  /** Event ids remembered to refuse one a server sends again (default 10,000). */
  readonly dedupeWindow?: number | undefined;
  /** A stream started (first, and after every reconnect). */
  readonly onStarted?: ((info: { subscriptionId: string; address: string; resumeCursor: string }) => void) | undefined;
  /** The stream was lost and the library is about to reconnect (after `delayMs`). */
  readonly onReconnect?: ((info: RetryInfo & { resumeCursor: string; resumeSequence: number | undefined }) => void) | undefined;
  /** Events the server no longer stores (retention): they cannot be delivered. */
  readonly onGap?: ((gap: GapNotice) => void) | undefined;
  /** A signed checkpoint came with a heartbeat. */
  readonly onCheckpoint?: ((checkpoint: Checkpoint) => void) | undefined;
}

/** Matching events, each handed to the application once, in order, across reconnects. Iterate it once. */
export interface Subscription extends AsyncIterable<AuditEvent> {
  /** The token to resume after everything handed to the application (afterCursor of a later subscribe). */
  readonly resumeCursor: string;
  /** The sequence resumeCursor stands for, in the numbering of the node that sent it. */
  readonly resumeSequence: number | undefined;
  /** The current stream's subscription id (Unsubscribe, GetSubscriptionStats); it changes on reconnect. */
  readonly subscriptionId: string | undefined;
  /** The address of the node the current stream comes from. */
  readonly address: string | undefined;
}

const RECONNECT = { maxAttempts: Infinity, initialDelayMs: 100, maxDelayMs: 5_000 };

interface OpenStream {
  readonly endpoint: number;
  readonly messages: AsyncGenerator<SubscribeResponse, void, undefined>;
}

/**
 * Subscribe with resume: every stream starts after the position of the last event handed to the
 * application (or a newer heartbeat), so a reconnect, to the same node or another, neither repeats
 * nor skips an event. Lost connections (UNAVAILABLE, a dropped or reset stream, a shutting-down
 * server) reconnect with backoff; any other error ends the iteration by throwing, and an OK end of
 * the stream (Unsubscribe, a passed time_range.end) ends it normally.
 */
export class ResumingSubscription implements Subscription {
  subscriptionId: string | undefined;
  address: string | undefined;
  private readonly position: ResumePosition;
  private readonly seen: Deduplicator;
  private iterated = false;

  constructor(
    private readonly endpoints: Endpoints,
    private readonly filter: Filter,
    private readonly options: SubscribeOptions,
    private readonly signal: AbortSignal,
  ) {
    this.position = new ResumePosition(options.afterCursor, options.afterSequence);
    this.seen = new Deduplicator(options.dedupeWindow ?? 10_000);
  }

  get resumeCursor(): string {
    return this.position.token;
  }

  get resumeSequence(): number | undefined {
    return this.position.sequence;
  }

  [Symbol.asyncIterator](): AsyncIterator<AuditEvent> {
    if (this.iterated) throw new TypeError('a Subscription is iterated once; subscribe again with afterCursor: resumeCursor');
    this.iterated = true;
    return this.run();
  }

  private async *run(): AsyncGenerator<AuditEvent, void, undefined> {
    let dropped: { error: unknown; endpoint: number } | undefined;
    for (;;) {
      const stream = await this.connect(dropped);
      dropped = undefined;
      try {
        for await (const message of stream.messages) {
          const kind = message.kind;
          if (kind?.$case === 'events') {
            for (const event of kind.events.events) {
              if (!this.seen.accept(event)) continue;
              this.position.delivered(event);
              yield event;
              this.signal.throwIfAborted();
            }
          } else if (kind?.$case === 'heartbeat') {
            this.position.heartbeat(kind.heartbeat);
            if (kind.heartbeat.checkpoint) this.options.onCheckpoint?.(kind.heartbeat.checkpoint);
          } else if (kind?.$case === 'gap') {
            this.options.onGap?.(kind.gap);
          }
        }
        return;
      } catch (err) {
        if (this.signal.aborted) throw abortReason(this.signal);
        if (!isConnectionLoss(err)) throw err;
        dropped = { error: err, endpoint: stream.endpoint };
      }
    }
  }

  /**
   * Opens a stream from the current position, retrying until one starts. A dropped stream counts
   * as the failed first attempt: the reconnect waits its backoff, moves to the next address, and
   * counts against maxAttempts like any failed connect (so maxAttempts 0 never reconnects).
   */
  private async connect(dropped: { error: unknown; endpoint: number } | undefined): Promise<OpenStream> {
    const choose = this.endpoints.chooser(dropped?.endpoint);
    const plan = {
      limits: retryLimits(this.options.reconnect, RECONNECT),
      retryable: isConnectionLoss,
      onRetry: (info: RetryInfo) => this.options.onReconnect?.({ ...info, resumeCursor: this.position.token, resumeSequence: this.position.sequence }),
    };
    try {
      return await withRetries(async (attempt, previousError) => {
        if (attempt === 0 && dropped) throw dropped.error;
        const endpoint = choose(attempt, previousError);
        return this.open(endpoint.index, endpoint.address, endpoint.client);
      }, plan, this.signal);
    } catch (err) {
      throw this.signal.aborted ? abortReason(this.signal) : err;
    }
  }

  /** One Subscribe call, returned once its started message came (an error before it fails the attempt). */
  private async open(index: number, address: string, client: ReturnType<Endpoints['pick']>['client']): Promise<OpenStream> {
    const request = SubscribeRequest.fromPartial({ filter: this.filter, clientName: this.options.clientName ?? '', ...this.position.request() });
    const call = client.subscribe(request);
    const cancel = (): void => call.cancel();
    this.signal.addEventListener('abort', cancel, { once: true });
    const release = this.unlistening(readMessages(call, { readAhead: this.options.readAhead ?? 64, idleTimeoutMs: this.options.idleTimeoutMs ?? 0 }), cancel);
    const first = await release.next().catch(async (err: unknown) => {
      await release.return();
      throw err;
    });
    if (first.done) return { endpoint: index, messages: release };
    if (first.value.kind?.$case !== 'started') {
      await release.return();
      throw new AuditStreamError(status.INTERNAL, `the stream began with ${first.value.kind?.$case ?? 'an empty message'}, not started`);
    }
    const started = first.value.kind.started;
    this.position.started(started);
    this.subscriptionId = started.subscriptionId;
    this.address = address;
    this.options.onStarted?.({ subscriptionId: started.subscriptionId, address, resumeCursor: this.position.token });
    return { endpoint: index, messages: release };
  }

  /** `messages`, removing the stream's abort listener once they end, however they end. */
  private async *unlistening(messages: AsyncGenerator<SubscribeResponse, void, undefined>, listener: () => void): AsyncGenerator<SubscribeResponse, void, undefined> {
    try {
      yield* messages;
    } finally {
      this.signal.removeEventListener('abort', listener);
    }
  }
}

/** The Filter message for a filter input. */
export const toFilter = (input: FilterInput | undefined): Filter => Filter.fromPartial(input ?? {});
