import type { Checkpoint } from '../../domain/checkpoint.js';
import { gapJson, heartbeatJson } from '../../contract/json-encoding.js';
import type { StreamSink } from '../../dispatch/pump.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import { eventsFrame, frame } from './ws-frames.js';

/** What a sink needs from its connection: one shared send buffer with a bound. */
export interface FrameChannel {
  /** Queues a frame; false when the connection's buffer is over websocket.send_buffer_size. */
  send(text: string): boolean;
  /** Resolves when the buffer is back under the bound, or the connection closed. */
  drained(): Promise<void>;
  readonly closed: boolean;
}

/**
 * One subscription on a WebSocket connection, as the pump sees it. All subscriptions of a connection
 * share its buffer, so one over the bound holds them all back; each then catches up from the log.
 */
export class WsSubscriptionSink implements StreamSink {
  private stopped = false;

  constructor(
    private readonly channel: FrameChannel,
    /** The client's name for the subscription, on every frame about it. */
    readonly id: string,
    /** The resume token for a sequence (domain/cursor.ts). */
    private readonly tokenAt: (sequence: number) => string,
  ) {}

  get closed(): boolean {
    return this.stopped || this.channel.closed;
  }

  /** After an unsubscribe: nothing more is written for this id, even by a pump still waking up. */
  stop(): void {
    this.stopped = true;
  }

  sendEvents(events: StoredAuditEvent[]): boolean {
    return this.channel.send(eventsFrame(this.id, events));
  }

  sendGap(from: number, to: number): boolean {
    return this.channel.send(frame('gap', this.id, gapJson(from, to)));
  }

  sendHeartbeat(cursor: number, checkpoint?: Checkpoint): boolean {
    return this.channel.send(frame('heartbeat', this.id, heartbeatJson(cursor, new Date(), this.tokenAt(cursor), checkpoint)));
  }

  drained(): Promise<void> {
    return this.channel.drained();
  }
}
