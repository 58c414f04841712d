import { Checkpoint as ProtoCheckpoint, GapNotice, Heartbeat, SubscriptionStarted } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent, type AuditEvent as ProtoEvent } from '../../generated/audit/v1/event.js';
import type { Checkpoint } from '../domain/checkpoint.js';
import type { StoredAuditEvent } from '../domain/event.js';
import { toProtoCheckpoint } from './checkpoint-mapping.js';
import { toProtoEvent } from './event-mapping.js';
import { timestampText, toTimestamp } from './time-mapping.js';

// The canonical proto3 JSON mapping of what the HTTP bridges send (and Kafka's value_format json), the
// JSON grpcurl or any proto JSON library prints: lowerCamelCase keys, full enum names, RFC 3339
// timestamps, base64 bytes, and 64-bit integers (sequences, cursors) as decimal strings. The generated
// toJSON does all of it but the last (it writes uint64 as a JSON number), so the 64-bit fields of each
// message are turned into strings here. A proto JSON parser accepts the result strictly; one that
// reads sequences as numbers must convert them (Number(...) is exact up to 2^53, BigInt beyond).

/** The uint64 fields of each message the bridges send (its JSON names). */
const INT64_FIELDS = {
  AuditEvent: ['sequence'],
  SubscriptionStarted: ['cursor'],
  Heartbeat: ['cursor'],
  Checkpoint: ['sequence'],
  GapNotice: ['fromSequence', 'toSequence'],
} as const;

/** The given 64-bit fields of a toJSON result as decimal strings, as canonical proto3 JSON writes them. */
function int64AsStrings(json: unknown, fields: readonly string[]): Record<string, unknown> {
  const o = json as Record<string, unknown>;
  for (const field of fields) if (typeof o[field] === 'number') o[field] = String(o[field]);
  return o;
}

/**
 * An AuditEvent as the generated toJSON writes it (uint64 as JSON numbers, as the CLI prints them),
 * but the event's timestamp with all its nanoseconds: toJSON writes a Timestamp through a Date.
 */
export function auditEventToJson(p: ProtoEvent): Record<string, unknown> {
  const json = AuditEvent.toJSON(p) as Record<string, unknown>;
  if (p.timestamp) json.timestamp = timestampText(p.timestamp);
  return json;
}

/**
 * Stored events are immutable and the same object reaches every subscriber it matches, so each is
 * encoded once, however many WebSocket and SSE clients receive it.
 */
const encoded = new WeakMap<StoredAuditEvent, string>();

/** One event as canonical proto JSON text (`"sequence":"124"`). */
export function eventJson(event: StoredAuditEvent): string {
  let text = encoded.get(event);
  if (text === undefined) {
    text = JSON.stringify(int64AsStrings(auditEventToJson(toProtoEvent(event)), INT64_FIELDS.AuditEvent));
    encoded.set(event, text);
  }
  return text;
}

// The cursor is printed even when 0 (as "0": the mapping allows printing defaults): a client resumes
// from it, and a missing cursor would read as "no position" rather than "from the start".

/** `{"subscriptionId", "cursor", "resumeCursor"}`, cursor a decimal string. */
export function startedJson(subscriptionId: string, cursor: number, resumeCursor: string): object {
  return { ...int64AsStrings(SubscriptionStarted.toJSON({ subscriptionId, cursor, resumeCursor }), INT64_FIELDS.SubscriptionStarted), cursor: String(cursor) };
}

/**
 * `{"cursor", "serverTime", "resumeCursor", "checkpoint"?}`: every matching event up to cursor (a
 * decimal string) was delivered; the newest signed checkpoint when checkpoints are on.
 */
export function heartbeatJson(cursor: number, serverTime: Date, resumeCursor: string, checkpoint?: Checkpoint): object {
  const json = int64AsStrings(Heartbeat.toJSON({ cursor, serverTime: toTimestamp(serverTime), resumeCursor, checkpoint: checkpoint && toProtoCheckpoint(checkpoint) }), INT64_FIELDS.Heartbeat);
  if (json.checkpoint !== undefined) int64AsStrings(json.checkpoint, INT64_FIELDS.Checkpoint);
  return { ...json, cursor: String(cursor) };
}

/** A checkpoint as the proto JSON mapping writes it (sequence a decimal string, hash and signature in base64). */
export function checkpointJson(checkpoint: Checkpoint): object {
  return int64AsStrings(ProtoCheckpoint.toJSON(toProtoCheckpoint(checkpoint)), INT64_FIELDS.Checkpoint);
}

/** `{"fromSequence", "toSequence"}` (decimal strings): these sequences are no longer stored. */
export function gapJson(fromSequence: number, toSequence: number): object {
  return int64AsStrings(GapNotice.toJSON({ fromSequence, toSequence }), INT64_FIELDS.GapNotice);
}
