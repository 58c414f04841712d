import { eventJson } from '../../contract/json-encoding.js';
import type { StoredAuditEvent } from '../../domain/event.js';

/** Server frame types (README, "WebSocket frames"). */
export type ServerFrameType = 'subscribed' | 'events' | 'heartbeat' | 'gap' | 'ended' | 'error' | 'pong';

/** A server frame: `{"type", "id"?, ...body}`; the body is already in the proto JSON mapping. */
export function frame(type: ServerFrameType, id: string | undefined, body: object = {}): string {
  return JSON.stringify(id === undefined ? { type, ...body } : { type, id, ...body });
}

/** An events frame, spliced from each event's cached JSON rather than re-encoding it per client. */
export function eventsFrame(id: string, events: readonly StoredAuditEvent[]): string {
  let list = '';
  for (const event of events) list += (list ? ',' : '') + eventJson(event);
  return `{"type":"events","id":${JSON.stringify(id)},"events":[${list}]}`;
}
