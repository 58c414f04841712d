import { AppError } from '../domain/errors.js';
import type { Filter } from '../domain/filter.js';
import { filterFromJson } from './json-filter.js';
import type { InputLimits } from './limits.js';

/** What a WebSocket client may send (README, "WebSocket frames"). */
export type ClientFrame =
  | { readonly type: 'subscribe'; readonly id: string; readonly filter: Filter; readonly afterSequence?: number | undefined; readonly afterCursor?: string | undefined; readonly clientName: string }
  | { readonly type: 'unsubscribe'; readonly id: string }
  | { readonly type: 'ping'; readonly id?: string | undefined };

const MAX_ID_LENGTH = 128;
/** Keys each frame type takes; snake_case as in DESIGN.md, lowerCamelCase as the proto JSON mapping allows. */
const KEYS: Record<ClientFrame['type'], ReadonlySet<string>> = {
  subscribe: new Set(['type', 'id', 'filter', 'after_sequence', 'afterSequence', 'after_cursor', 'afterCursor', 'client_name', 'clientName']),
  unsubscribe: new Set(['type', 'id']),
  ping: new Set(['type', 'id']),
};

/** Parses a text frame into a JSON object; INVALID_ARGUMENT when it is not one. */
export function decodeFrame(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('INVALID_ARGUMENT', `the frame is not valid JSON (${(err as Error).message.slice(0, 120)})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('INVALID_ARGUMENT', 'the frame must be a JSON object such as {"type":"ping"}');
  }
  return value as Record<string, unknown>;
}

/** The frame's id when it has a usable one, so an error about the frame can name it. */
export function frameId(frame: Record<string, unknown>): string | undefined {
  return typeof frame.id === 'string' && frame.id.length <= MAX_ID_LENGTH ? frame.id : undefined;
}

/** Validates a decoded frame; errors are INVALID_ARGUMENT naming the field. */
export function toClientFrame(frame: Record<string, unknown>, limits: InputLimits): ClientFrame {
  const type = frame.type;
  if (type !== 'subscribe' && type !== 'unsubscribe' && type !== 'ping') {
    const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : 'missing';
    throw AppError.invalid('type', `unknown frame type ${shown}; expected subscribe, unsubscribe or ping`);
  }
  for (const key of Object.keys(frame)) {
    if (!KEYS[type].has(key)) throw AppError.invalid(key, `unknown field for a ${type} frame`);
  }
  if (type === 'ping') {
    if (frame.id !== undefined && frameId(frame) === undefined) throw AppError.invalid('id', `must be a string of at most ${MAX_ID_LENGTH} characters`);
    return { type, id: frameId(frame) };
  }
  const id = requiredId(frame);
  if (type === 'unsubscribe') return { type, id };
  const clientName = frame.client_name ?? frame.clientName ?? '';
  if (typeof clientName !== 'string') throw AppError.invalid('client_name', 'must be a string');
  const afterCursor = frame.after_cursor ?? frame.afterCursor;
  if (afterCursor !== undefined && (typeof afterCursor !== 'string' || afterCursor.length > 4096)) {
    throw AppError.invalid('after_cursor', 'must be a cursor string from an event or heartbeat');
  }
  return {
    type, id,
    filter: filterFromJson(frame.filter, limits),
    afterSequence: parseSequence(frame.after_sequence ?? frame.afterSequence, 'after_sequence'),
    afterCursor,
    clientName: clientName.slice(0, 256),
  };
}

function requiredId(frame: Record<string, unknown>): string {
  const id = frameId(frame);
  if (id === undefined || id === '') {
    throw AppError.invalid('id', `is required: a string of 1 to ${MAX_ID_LENGTH} characters naming the subscription on this connection`);
  }
  return id;
}

/**
 * A sequence given as a JSON number or as a decimal string (the proto JSON form of uint64); absent
 * or null is undefined. Also reads SSE's Last-Event-ID and after_sequence parameter.
 */
export function parseSequence(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw AppError.invalid(field, `${JSON.stringify(value).slice(0, 40)} is not a sequence (a whole number, 0 or more)`);
  }
  return n;
}
