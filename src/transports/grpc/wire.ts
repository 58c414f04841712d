import { LRUCache } from 'lru-cache';
import { QueryResponse, SubscribeResponse } from '../../../generated/audit/v1/audit_service.js';
import { encodedEvent } from '../../contract/event-encoding.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { StoredBytes } from '../../domain/ports.js';

/**
 * Zero-copy fan-out: each stored event's protobuf bytes are the ones the log stored (or made once),
 * however many subscribers get it (see encodedEvent). A batch message is then built by concatenation:
 * `repeated AuditEvent events = 1` inside `EventBatch events = 2` of SubscribeResponse is, on the wire,
 * each event's tag, length and bytes.
 */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/** The EventBatch field of each response, length-delimited: SubscribeResponse.events = 2, QueryResponse.events = 1. */
const SUBSCRIBE_BATCH_TAG = (2 << 3) | 2;
export const QUERY_BATCH_TAG = (1 << 3) | 2;
const EVENT_TAG = (1 << 3) | 2; // EventBatch.events, length-delimited

/**
 * Most bytes of events in one frame: a client's default receive limit is 4 MiB (grpc-js, grpc-go,
 * grpc-java), and a batch of large events (metadata may be 64 KiB each) would pass it and end the
 * client's stream. An event is far smaller than this, so every frame holds at least one.
 */
const MAX_FRAME_EVENT_BYTES = 4 * 1024 * 1024 - 64 * 1024;

/** The events as encoded frames (see eventsFrame) of at most MAX_FRAME_EVENT_BYTES of events each, in order. */
export function eventsFrames(events: readonly StoredAuditEvent[], batchTag = SUBSCRIBE_BATCH_TAG): Buffer[] {
  return framesOf(events.map(encodedEvent), batchTag);
}

interface BuiltFrames {
  readonly events: readonly StoredAuditEvent[];
  readonly frames: Buffer[];
}

/**
 * Subscribe frames built lately, by their first event. A live event goes to every matching
 * subscriber, and each subscriber's pump usually takes the same batch (the same commit's events), so
 * K subscribers cost one frame, not K copies of it (at K=1,000 building the frames was the server's
 * largest own entry in a CPU profile of the fan-out scenario). A hit needs the very same event objects
 * in the same order: redacted or re-cursored copies are other objects, so they never share. At most
 * 16 MiB is kept. Query pages are never shared, so they do not go through it.
 */
const builtFrames = new LRUCache<StoredAuditEvent, BuiltFrames>({
  maxSize: 16 * 1024 * 1024,
  sizeCalculation: (built) => built.frames.reduce((n, f) => n + f.length, 0) || 1,
});

function sameEvents(a: readonly StoredAuditEvent[], b: readonly StoredAuditEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * eventsFrames for a Subscribe stream, shared with the other streams sent the same events: the
 * Buffers must never be modified (grpc-js copies each into its own message).
 */
export function sharedEventsFrames(events: readonly StoredAuditEvent[]): Buffer[] {
  const first = events[0];
  if (first === undefined) return eventsFrames(events);
  const built = builtFrames.get(first);
  if (built && sameEvents(built.events, events)) return built.frames;
  const frames = eventsFrames(events);
  builtFrames.set(first, { events: events.slice(), frames });
  return frames;
}

/** eventsFrames of events as the log stored them: their bytes go out as they are. */
export function storedFrames(events: readonly StoredBytes[]): Buffer[] {
  return framesOf(events.map((e) => e.bytes), SUBSCRIBE_BATCH_TAG);
}

function framesOf(parts: readonly Uint8Array[], batchTag: number): Buffer[] {
  const frames: Buffer[] = [];
  let start = 0;
  let bytes = 0;
  for (const [i, part] of parts.entries()) {
    if (i > start && bytes + part.length > MAX_FRAME_EVENT_BYTES) {
      frames.push(frameOf(parts.slice(start, i), batchTag));
      start = i;
      bytes = 0;
    }
    bytes += part.length;
  }
  frames.push(frameOf(parts.slice(start), batchTag));
  return frames;
}

/** The encoded SubscribeResponse (or, with QUERY_BATCH_TAG, QueryResponse) carrying these events, identical to ts-proto's own encoding. */
export function eventsFrame(events: readonly StoredAuditEvent[], batchTag = SUBSCRIBE_BATCH_TAG): Buffer {
  return frameOf(events.map(encodedEvent), batchTag);
}

function frameOf(parts: readonly Uint8Array[], batchTag: number): Buffer {
  const batchLength = parts.reduce((sum, p) => sum + 1 + varintSize(p.length) + p.length, 0);
  const frame = Buffer.allocUnsafe(1 + varintSize(batchLength) + batchLength);
  let offset = 0;
  frame[offset++] = batchTag;
  offset = writeVarint(frame, offset, batchLength);
  for (const p of parts) {
    frame[offset++] = EVENT_TAG;
    offset = writeVarint(frame, offset, p.length);
    frame.set(p, offset);
    offset += p.length;
  }
  return frame;
}

/** Subscribe's response serializer: pre-built frames pass through, messages are encoded as usual. */
export function serializeSubscribeResponse(value: SubscribeResponse | Buffer): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(SubscribeResponse.encode(value).finish());
}

/** Query's response serializer, the same way. */
export function serializeQueryResponse(value: QueryResponse | Buffer): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(QueryResponse.encode(value).finish());
}
