import type { Filter } from '../../generated/audit/v1/audit_service.js';
import { type AuditEvent, EventType, eventTypeToJSON, Result, resultToJSON, Severity, severityToJSON } from '../../generated/audit/v1/event.js';
import { auditEventToJson } from '../contract/json-encoding.js';
import { timestampText, toOptionalTimestamp } from '../contract/time-mapping.js';
import { parseTime } from './client.js';
import { eventFromJson } from './event-json.js';
import type { FilterFlags } from './options.js';
import { out, outJson } from './output.js';

/** The Filter the filter flags ask for (tail and query). */
export function filterFromFlags(f: FilterFlags): Filter {
  // Reuse the event parser's enum handling: it accepts short and full names and rejects unknown ones.
  const types = f.type.map((t) => eventFromJson({ type: t }, '--type').type).filter((t) => t !== EventType.EVENT_TYPE_UNSPECIFIED);
  const severities = f.severity.map((s) => eventFromJson({ severity: s }, '--severity').severity);
  return {
    eventTypes: types, severities, categories: f.category.map((c) => c.toLowerCase()),
    minSeverity: f.minSeverity ? eventFromJson({ severity: f.minSeverity }, '--min-severity').severity : Severity.SEVERITY_UNSPECIFIED,
    entityTypes: f.entityType, entityIds: f.entityId, userIds: f.user, expression: f.expression ?? '',
    timeRange: f.from || f.to ? { start: toOptionalTimestamp(f.from ? parseTime(f.from, '--from') : undefined), end: toOptionalTimestamp(f.to ? parseTime(f.to, '--to') : undefined) } : undefined,
  };
}

const COLOURS: Record<number, string> = { 1: '\x1b[37m', 2: '\x1b[36m', 3: '\x1b[33m', 4: '\x1b[31m', 5: '\x1b[1;41;97m' };
const RESET = '\x1b[0m';

/** One event as a line for people: sequence, time, severity (coloured on a terminal), type, who, what. */
export function pretty(e: AuditEvent, colour: boolean): string {
  const severity = severityToJSON(e.severity).replace('SEVERITY_', '').padEnd(8);
  const parts = [
    `#${e.sequence}`, timestampText(e.timestamp) ?? '', colour ? `${COLOURS[e.severity] ?? ''}${severity}${RESET}` : severity,
    eventTypeToJSON(e.type).replace('EVENT_TYPE_', ''), `user=${e.userId || '-'}`, `${e.entityType || '-'}/${e.entityId || '-'}`,
    e.action, e.result === Result.RESULT_UNSPECIFIED ? '' : resultToJSON(e.result).replace('RESULT_', ''),
  ];
  return parts.join('  ').trimEnd();
}

/** Prints events as proto JSON lines (--json) or as coloured lines (colour only on a terminal). */
export function eventPrinter(json: boolean): (e: AuditEvent) => void {
  if (json) return (e) => outJson(auditEventToJson(e));
  const colour = process.stdout.isTTY === true;
  return (e) => out(pretty(e, colour));
}
