import { AuditEvent, EventType, Result, Severity } from '../../generated/audit/v1/event.js';
import { closest } from '../config/keys.js';
import { UsageError } from './usage.js';

/** Short enum names ("CALL_CREATED", "high") are accepted as well as the full proto names. */
function fullName(value: unknown, prefix: string): unknown {
  if (typeof value !== 'string') return value;
  const upper = value.toUpperCase();
  return upper.startsWith(prefix) ? upper : `${prefix}${upper}`;
}

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** The AuditEvent fields by their proto names (user_id), as suggestions name them. */
const PROTO_NAMES = Object.keys(AuditEvent.create()).map(snake);
/** Proto JSON accepts both the proto name and the lowerCamelCase JSON name. */
const KNOWN = new Set([...Object.keys(AuditEvent.create()), ...PROTO_NAMES]);

/** `unknown field "user" (did you mean user_id?)`: a field a typo would otherwise drop silently. */
function unknownField(field: string): string {
  const lower = field.toLowerCase();
  const extended = PROTO_NAMES.filter((name) => name.startsWith(`${lower}_`));
  const near = extended.length > 0 ? extended : [closest(snake(field), PROTO_NAMES) ?? closest(field, PROTO_NAMES)].filter((n) => n !== undefined);
  return `unknown field ${JSON.stringify(field)}${near.length > 0 ? ` (did you mean ${near.join(' or ')}?)` : ''}`;
}

/**
 * One event from a proto-JSON object (snake_case or lowerCamelCase keys). A field that is not an
 * AuditEvent field is refused, naming it: dropping it would store an event without what it meant.
 */
export function eventFromJson(value: unknown, where: string): AuditEvent {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${where}: expected a JSON object`);
  const raw = value as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new UsageError(`${where}: ${unknown.map(unknownField).join('; ')}`);
  if (raw.metadata !== undefined && raw.metadata !== null && (typeof raw.metadata !== 'object' || Array.isArray(raw.metadata))) {
    throw new UsageError(`${where}: metadata must be a JSON object`);
  }
  const event = AuditEvent.fromJSON({
    ...raw,
    type: fullName(raw.type, 'EVENT_TYPE_'),
    severity: fullName(raw.severity, 'SEVERITY_'),
    result: fullName(raw.result, 'RESULT_'),
  });
  for (const [field, parsed, given] of [['type', event.type, raw.type], ['severity', event.severity, raw.severity], ['result', event.result, raw.result]] as const) {
    if (parsed === EventType.UNRECOGNIZED || parsed === Severity.UNRECOGNIZED || parsed === Result.UNRECOGNIZED) {
      throw new UsageError(`${where}: unknown ${field} ${JSON.stringify(given)}`);
    }
  }
  return event;
}
