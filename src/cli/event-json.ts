import { AuditEvent, EventType, Result, Severity } from '../../generated/audit/v1/event.js';
import { UsageError } from './client.js';

/** Short enum names ("CALL_CREATED", "high") are accepted as well as the full proto names. */
function fullName(value: unknown, prefix: string): unknown {
  if (typeof value !== 'string') return value;
  const upper = value.toUpperCase();
  return upper.startsWith(prefix) ? upper : `${prefix}${upper}`;
}

/** One event from a proto-JSON object (snake_case or lowerCamelCase keys). */
export function eventFromJson(value: unknown, where: string): AuditEvent {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${where}: expected a JSON object`);
  const raw = value as Record<string, unknown>;
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
