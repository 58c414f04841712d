import { SubscribeResponse } from '../../../generated/audit/v1/audit_service.js';
import { AuditEvent } from '../../../generated/audit/v1/event.js';
import { toProtoEvent } from '../../contract/event-mapping.js';
import type { StoredAuditEvent } from '../../domain/event.js';

/**
 * Zero-copy fan-out: each stored event is encoded to protobuf once, however many subscribers get it
 * (events are immutable, and redacted copies are distinct objects, so the cache stays correct). A
 * batch message is then built by concatenation: `repeated AuditEvent events = 1` inside
 * `EventBatch events = 2` of SubscribeResponse is, on the wire, each event's tag, length and bytes.
 */
const encoded = new WeakMap<StoredAuditEvent, Uint8Array>();

function encodeEvent(event: StoredAuditEvent): Uint8Array {
  let bytes = encoded.get(event);
  if (!bytes) {
    bytes = AuditEvent.encode(toProtoEvent(event)).finish();
    encoded.set(event, bytes);
  }
  return bytes;
}

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

const BATCH_TAG = (2 << 3) | 2; // SubscribeResponse.events, length-delimited
const EVENT_TAG = (1 << 3) | 2; // EventBatch.events, length-delimited

/** The encoded SubscribeResponse carrying these events, identical to ts-proto's own encoding. */
export function eventsFrame(events: readonly StoredAuditEvent[]): Buffer {
  const parts = events.map(encodeEvent);
  const batchLength = parts.reduce((sum, p) => sum + 1 + varintSize(p.length) + p.length, 0);
  const frame = Buffer.allocUnsafe(1 + varintSize(batchLength) + batchLength);
  let offset = 0;
  frame[offset++] = BATCH_TAG;
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
