import { Checkpoint as ProtoCheckpoint, GapNotice, Heartbeat, SubscriptionStarted } from '../../generated/audit/v1/audit_service.js';
import { AuditEvent } from '../../generated/audit/v1/event.js';
import type { Checkpoint } from '../domain/checkpoint.js';
import type { StoredAuditEvent } from '../domain/event.js';
import { toProtoCheckpoint } from './checkpoint-mapping.js';
import { toProtoEvent } from './event-mapping.js';

// The proto JSON mapping of what the HTTP bridges send, through the generated toJSON so the JSON
// is the same one grpcurl or any proto JSON client shows: lowerCamelCase keys, full enum names.

/**
 * Stored events are immutable and the same object reaches every subscriber it matches, so each is
 * encoded once, however many WebSocket and SSE clients receive it.
 */
const encoded = new WeakMap<StoredAuditEvent, string>();

/** One event as proto JSON text. */
export function eventJson(event: StoredAuditEvent): string {
  let text = encoded.get(event);
  if (text === undefined) {
    text = JSON.stringify(AuditEvent.toJSON(toProtoEvent(event)));
    encoded.set(event, text);
  }
  return text;
}

// The cursor is printed even when 0 (the mapping allows printing defaults): a client resumes from
// it, and a missing cursor would read as "no position" rather than "from the start".

/** `{"subscriptionId", "cursor", "resumeCursor"}` */
export function startedJson(subscriptionId: string, cursor: number, resumeCursor: string): object {
  return { ...(SubscriptionStarted.toJSON({ subscriptionId, cursor, resumeCursor }) as object), cursor };
}

/**
 * `{"cursor", "serverTime", "resumeCursor", "checkpoint"?}`: every matching event up to cursor was
 * delivered; the newest signed checkpoint when checkpoints are on.
 */
export function heartbeatJson(cursor: number, serverTime: Date, resumeCursor: string, checkpoint?: Checkpoint): object {
  return { ...(Heartbeat.toJSON({ cursor, serverTime, resumeCursor, checkpoint: checkpoint && toProtoCheckpoint(checkpoint) }) as object), cursor };
}

/** A checkpoint as the proto JSON mapping writes it (hash and signature in base64). */
export function checkpointJson(checkpoint: Checkpoint): object {
  return ProtoCheckpoint.toJSON(toProtoCheckpoint(checkpoint)) as object;
}

/** `{"fromSequence", "toSequence"}`: these sequences are no longer stored. */
export function gapJson(fromSequence: number, toSequence: number): object {
  return GapNotice.toJSON({ fromSequence, toSequence }) as object;
}
