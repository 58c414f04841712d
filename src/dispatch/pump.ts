import type { Checkpoint } from '../domain/checkpoint.js';
import type { StoredAuditEvent } from '../domain/event.js';
import type { StoredBytes } from '../domain/ports.js';
import type { EndReason, Subscription } from './subscription.js';

/** What a transport offers the pump: writes that report backpressure, like a Node stream. */
export interface StreamSink {
  /** False when the transport's buffer is full: the pump then waits for drained(). */
  sendEvents(events: StoredAuditEvent[]): boolean;
  /** Events as the log stored them (audit.v1.AuditEvent bytes); a transport that can send them as they are has it. */
  sendStored?(events: readonly StoredBytes[]): boolean;
  sendGap(from: number, to: number): boolean;
  /** `checkpoint`: the newest signed checkpoint, when checkpoints are on. */
  sendHeartbeat(cursor: number, checkpoint?: Checkpoint): boolean;
  /** Resolves when the buffer has room again or the stream closed. */
  drained(): Promise<void>;
  /** True once the client went away. */
  readonly closed: boolean;
}

export interface PumpOptions {
  readonly batchSize: number;
  /** The newest signed checkpoint, carried in heartbeats (storage.checkpoints). */
  readonly checkpoint?: () => Checkpoint | undefined;
  readonly heartbeatIntervalMs: number;
  readonly now: () => Date;
}

/**
 * Moves a subscription's events to its transport until the stream ends. Writes as soon as something
 * is queued (an idle stream gets each event at once); while the transport is busy, events coalesce
 * into the next batch up to batchSize. Never writes past the transport's buffer.
 *
 * At most one batch per event-loop turn: after each write the pump yields (setImmediate) before
 * taking the next batch, whether or not the transport reported room. Neither answer implies a trip
 * through the event loop: a socket that accepts everything (a fast reader on loopback, or one the OS
 * has already torn down, whose writes fail only in a later callback) keeps saying yes, and a write
 * over the stream's high-water mark that the OS took at once emits 'drain' from process.nextTick. A
 * replay of the whole log would then run in one stretch of microtasks: no other request served, and
 * the transport's close and error events, which are what make `closed` true, never run.
 */
export async function pumpSubscription(sub: Subscription, sink: StreamSink, opts: PumpOptions): Promise<EndReason> {
  let lastWrite = Date.now();
  for (;;) {
    if (sink.closed) return 'cancelled';
    const delivery = sub.take(opts.batchSize, sink.sendStored !== undefined);
    if (delivery) {
      let room = true;
      if (delivery.gap) room = sink.sendGap(delivery.gap.from, delivery.gap.to);
      if (delivery.stored && delivery.stored.length > 0) {
        room = sink.sendStored!(delivery.stored) && room;
        sub.delivered(delivery.stored);
      } else if (delivery.events.length > 0) {
        room = sink.sendEvents(delivery.events) && room;
        sub.delivered(delivery.events);
      }
      lastWrite = Date.now();
      if (!room) await sink.drained();
      await nextTurn();
      continue;
    }
    const reason = sub.endReason(opts.now());
    if (reason === 'failed' && sub.failure) throw sub.failure; // each transport maps it to its error form
    if (reason) return reason;
    const sinceWrite = Date.now() - lastWrite;
    if (sinceWrite >= opts.heartbeatIntervalMs) {
      lastWrite = Date.now();
      if (!sink.sendHeartbeat(sub.resumeCursor(), opts.checkpoint?.())) await sink.drained();
      await nextTurn();
      continue;
    }
    await sub.waitReadable(untilNextCheck(sub, opts, sinceWrite));
  }
}

/** Resolves in the event loop's next check phase, after pending I/O (socket close, write errors) ran. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Wake for the next heartbeat, or when the subscription's time range ends, whichever is first. */
function untilNextCheck(sub: Subscription, opts: PumpOptions, sinceWrite: number): number {
  const heartbeatIn = opts.heartbeatIntervalMs - sinceWrite;
  const end = sub.filter.source.end;
  if (!end) return heartbeatIn;
  return Math.max(1, Math.min(heartbeatIn, end.getTime() - opts.now().getTime() + 1));
}
