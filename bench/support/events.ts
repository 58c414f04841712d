import { AuditEvent, EventType, Result } from '../../generated/audit/v1/event.js';
import { monoMicros } from './stats.js';

const TYPES = [
  EventType.EVENT_TYPE_CALL_CREATED, EventType.EVENT_TYPE_CALL_ROUTED, EventType.EVENT_TYPE_BID_CREATED,
  EventType.EVENT_TYPE_PAYMENT_PROCESSED, EventType.EVENT_TYPE_LOGIN_FAILED, EventType.EVENT_TYPE_DATA_ACCESSED,
];
const ENTITY_TYPES = ['call', 'call', 'bid', 'payment', 'session', 'record'];

/**
 * The event every publisher sends: realistic size (about 250 bytes encoded), id left empty (the
 * auditstream server generates one; the baseline too), `timestamp` set by the publisher, and
 * `correlation_id` = "<index>:<send time in µs on CLOCK_MONOTONIC>", which subscribers read to measure
 * publish -> receive latency with microsecond resolution on the shared machine clock.
 */
export function benchEvent(index: number): AuditEvent {
  const k = index % TYPES.length;
  return AuditEvent.fromPartial({
    type: TYPES[k],
    timestamp: new Date(),
    userId: `user-${index % 500}`,
    entityType: ENTITY_TYPES[k],
    entityId: `${ENTITY_TYPES[k]}-${index % 1000}`,
    action: 'create',
    result: Result.RESULT_SUCCESS,
    metadata: { n: index, amount: (index % 10_000) / 100, region: 'eu-west', campaign: `cmp-${index % 37}` },
    correlationId: `${index}:${monoMicros()}`,
    source: 'bench',
  });
}

/** Splits a correlation id written by benchEvent; undefined for anything else. */
export function parseStamp(correlationId: string): { index: number; sentUs: number } | undefined {
  const colon = correlationId.indexOf(':');
  if (colon <= 0) return undefined;
  const index = Number(correlationId.slice(0, colon));
  const sentUs = Number(correlationId.slice(colon + 1));
  return Number.isFinite(index) && Number.isFinite(sentUs) ? { index, sentUs } : undefined;
}
