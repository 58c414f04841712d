import type { Message } from 'kafkajs';
import { encodedEvent } from '../../contract/event-encoding.js';
import { asBuffer } from '../../lib/bytes.js';
import { eventJson } from '../../contract/json-encoding.js';
import { severityName, Severity, typeInfo } from '../../domain/catalog.js';
import type { StoredAuditEvent } from '../../domain/event.js';

export interface RoutingOptions {
  /** false: every event goes to `topic`. */
  readonly enableTopicRouting: boolean;
  readonly topic: string;
  readonly topicPrefix: string;
  readonly valueFormat: 'protobuf' | 'json';
}

/** One event as it goes to Kafka. */
export interface OutgoingRecord {
  readonly sequence: number;
  readonly topic: string;
  readonly message: Message;
}

/**
 * `<prefix>.critical` for any CRITICAL event (one topic to watch for the worst), else
 * `<prefix>.<category>` from the event catalog; with routing off, the single `topic`.
 */
export function topicFor(e: StoredAuditEvent, o: RoutingOptions): string {
  if (!o.enableTopicRouting) return o.topic;
  if (e.severity === Severity.CRITICAL) return `${o.topicPrefix}.critical`;
  return `${o.topicPrefix}.${typeInfo(e.type).category}`;
}

/**
 * The partition key: the entity, so every event about one entity lands in one partition and stays in
 * order; events about no entity are ordered per user; with neither, the id spreads them evenly.
 */
export function keyFor(e: StoredAuditEvent): string {
  return e.entityId || e.userId || e.id;
}

/** Enough for a consumer to route and filter without decoding the value. Enum values are short names. */
export function headersFor(e: StoredAuditEvent): Record<string, string> {
  const headers: Record<string, string> = {
    event_id: e.id,
    event_type: e.type,
    severity: severityName(e.severity),
    user_id: e.userId,
    entity_id: e.entityId,
    sequence: String(e.sequence),
  };
  if (e.traceparent) headers.traceparent = e.traceparent;
  return headers;
}

/** The protobuf binary AuditEvent, or its proto JSON mapping (the same JSON the HTTP bridges send). */
export function valueFor(e: StoredAuditEvent, format: RoutingOptions['valueFormat']): Buffer {
  if (format === 'json') return Buffer.from(eventJson(e));
  return asBuffer(encodedEvent(e)); // the log's stored bytes
}

export function toRecord(e: StoredAuditEvent, o: RoutingOptions): OutgoingRecord {
  return {
    sequence: e.sequence,
    topic: topicFor(e, o),
    message: {
      key: keyFor(e),
      value: valueFor(e, o.valueFormat),
      headers: headersFor(e),
      // The time the service stored it, not the publisher's clock: a broker may refuse timestamps far
      // from its own (message.timestamp.difference.max.ms), and time-based retention should count from
      // when the event entered the system.
      timestamp: String(e.receivedAt.getTime()),
    },
  };
}
