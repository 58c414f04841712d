import { toProtoCheckpoint } from '../../contract/checkpoint-mapping.js';
import type { Checkpoint } from '../../domain/checkpoint.js';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { SubscribeRequest, SubscribeResponse } from '../../../generated/audit/v1/audit_service.js';
import type { StreamSink } from '../../dispatch/pump.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { StoredBytes } from '../../domain/ports.js';
import { sharedEventsFrames, storedFrames } from './wire.js';
import { toTimestamp } from '../../contract/time-mapping.js';
import { drained } from './drained.js';

/** A Subscribe stream as the pump sees it: write() false means wait for 'drain'. */
export class GrpcStreamSink implements StreamSink {
  constructor(
    private readonly call: ServerWritableStream<SubscribeRequest, SubscribeResponse>,
    /** The resume token for a sequence (domain/cursor.ts). */
    private readonly tokenAt: (sequence: number) => string,
  ) {}

  get closed(): boolean {
    return this.call.cancelled || this.call.destroyed || this.call.writableEnded;
  }

  sendEvents(events: StoredAuditEvent[]): boolean {
    if (this.closed) return true;
    // Pre-encoded frames: the service definition's serializer passes Buffers through (wire.ts).
    let room = true;
    for (const frame of sharedEventsFrames(events)) room = this.call.write(frame as unknown as SubscribeResponse) && room;
    return room;
  }

  sendStored(events: readonly StoredBytes[]): boolean {
    if (this.closed) return true;
    let room = true;
    for (const frame of storedFrames(events)) room = this.call.write(frame as unknown as SubscribeResponse) && room;
    return room;
  }

  sendGap(from: number, to: number): boolean {
    return this.write({ kind: { $case: 'gap', gap: { fromSequence: from, toSequence: to } } });
  }

  sendHeartbeat(cursor: number, checkpoint?: Checkpoint): boolean {
    const heartbeat = { cursor, serverTime: toTimestamp(new Date()), resumeCursor: this.tokenAt(cursor), checkpoint: checkpoint && toProtoCheckpoint(checkpoint) };
    return this.write({ kind: { $case: 'heartbeat', heartbeat } });
  }

  write(message: SubscribeResponse): boolean {
    if (this.closed) return true;
    return this.call.write(message);
  }

  /** The one wait for 'drain' (drained.ts) that Query and Backup use too: it also ends when the caller leaves. */
  async drained(): Promise<void> {
    await drained(this.call);
  }
}
