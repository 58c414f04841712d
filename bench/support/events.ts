import { AuditEvent, EventType, Result } from '../../generated/audit/v1/event.js';
import { monoMicros } from './stats.js';

/**
 * The events every publisher sends, pre-encoded so that the publisher processes spend as little CPU
 * as possible (the machine is shared with the server under test): 1,000 templates (types, users,
 * entities, metadata vary) are encoded once with the generated AuditEvent codec; each event is a
 * template's bytes followed by two fields written per event, which protobuf parsers accept in any
 * order: `timestamp` (the publisher's clock) and `correlation_id` = "<index>:<send time in µs on
 * CLOCK_MONOTONIC>", which subscribers read to measure publish -> receive latency with microsecond
 * resolution on the clock every process shares. The id is left empty (the server generates one).
 */
const TEMPLATE_COUNT = 1_000;
const TYPES = [
  EventType.EVENT_TYPE_CALL_CREATED, EventType.EVENT_TYPE_CALL_ROUTED, EventType.EVENT_TYPE_BID_CREATED,
  EventType.EVENT_TYPE_PAYMENT_PROCESSED, EventType.EVENT_TYPE_LOGIN_FAILED, EventType.EVENT_TYPE_DATA_ACCESSED,
];
const ENTITY_TYPES = ['call', 'call', 'bid', 'payment', 'session', 'record'];

const templates: Buffer[] = Array.from({ length: TEMPLATE_COUNT }, (_, i) => {
  const k = i % TYPES.length;
  return Buffer.from(AuditEvent.encode(AuditEvent.fromPartial({
    type: TYPES[k],
    userId: `user-${i % 500}`,
    entityType: ENTITY_TYPES[k],
    entityId: `${ENTITY_TYPES[k]}-${i}`,
    action: 'create',
    result: Result.RESULT_SUCCESS,
    metadata: { amount: (i * 37) % 10_000 / 100, region: 'eu-west', campaign: `cmp-${i % 37}` },
    source: 'bench',
  })).finish());
});

function varint(value: number, out: number[]): void {
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

/** The encoded AuditEvent number `index`, stamped now. */
export function encodeEvent(index: number): Buffer {
  const nowMs = Date.now();
  const ts: number[] = [];
  varint(0x08, ts);
  varint(Math.floor(nowMs / 1000), ts);
  varint(0x10, ts);
  varint((nowMs % 1000) * 1_000_000, ts);
  const correlation = Buffer.from(`${index}:${monoMicros()}`);
  const head: number[] = [0x22]; // field 4 (timestamp), length-delimited
  varint(ts.length, head);
  head.push(...ts, 0x5a); // field 11 (correlation_id), length-delimited
  varint(correlation.length, head);
  return Buffer.concat([templates[index % TEMPLATE_COUNT], Buffer.from(head), correlation]);
}

/** `field 1, length-delimited` around each part: a PublishRequest for one event, a PublishBatchRequest for several. */
function wrap(events: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of events) {
    const head: number[] = [0x0a];
    varint(e.length, head);
    parts.push(Buffer.from(head), e);
  }
  return Buffer.concat(parts);
}

export function encodePublishRequest(index: number): Buffer {
  return wrap([encodeEvent(index)]);
}

export function encodePublishBatchRequest(first: number, size: number): Buffer {
  return wrap(Array.from({ length: size }, (_, i) => encodeEvent(first + i)));
}

/** Splits a correlation id written by encodeEvent; undefined for anything else. */
export function parseStamp(correlationId: string): { index: number; sentUs: number } | undefined {
  const colon = correlationId.indexOf(':');
  if (colon <= 0) return undefined;
  const index = Number(correlationId.slice(0, colon));
  const sentUs = Number(correlationId.slice(colon + 1));
  return Number.isFinite(index) && Number.isFinite(sentUs) ? { index, sentUs } : undefined;
}
