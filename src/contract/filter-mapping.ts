import type { Filter as ProtoFilter } from '../../generated/audit/v1/audit_service.js';
import { Severity as ProtoSeverity } from '../../generated/audit/v1/event.js';
import { CATEGORIES, type Category, type EventType, type Severity } from '../domain/catalog.js';
import { AppError } from '../domain/errors.js';
import { categoryFromName, MATCH_ALL, type Filter } from '../domain/filter.js';
import { eventTypeFromProto, eventTypeToProto, severityFromProto } from './enums.js';
import type { InputLimits } from './limits.js';
import { timestampToDate, toOptionalTimestamp } from './time-mapping.js';

const F = 'filter';

function checkCount(name: string, values: readonly unknown[], limits: InputLimits): void {
  if (values.length > limits.maxFilterValues) {
    throw AppError.invalid(`${F}.${name}`, `has ${values.length} values, the limit is ${limits.maxFilterValues}`);
  }
}

/** Validates a subscription filter and maps it to the domain; unknown enum values are INVALID_ARGUMENT. */
export function toFilter(p: ProtoFilter | undefined, limits: InputLimits): Filter {
  if (!p) return MATCH_ALL;
  checkCount('event_types', p.eventTypes, limits);
  checkCount('categories', p.categories, limits);
  checkCount('severities', p.severities, limits);
  checkCount('entity_types', p.entityTypes, limits);
  checkCount('entity_ids', p.entityIds, limits);
  checkCount('user_ids', p.userIds, limits);
  const eventTypes = p.eventTypes.map((value, i): EventType => {
    const type = eventTypeFromProto(value);
    if (!type) throw AppError.invalid(`${F}.event_types[${i}]`, `unknown event type ${value}`);
    return type;
  });
  const categories = p.categories.map((value, i): Category => {
    const category = categoryFromName(value);
    if (!category) throw AppError.invalid(`${F}.categories[${i}]`, `unknown category ${JSON.stringify(value)}; use ${CATEGORIES.join(', ')}`);
    return category;
  });
  const severities = p.severities.map((value, i): Severity => {
    const severity = severityFromProto(value);
    if (!severity) throw AppError.invalid(`${F}.severities[${i}]`, `unknown severity ${value}`);
    return severity;
  });
  let minSeverity: Severity | undefined;
  if (p.minSeverity !== ProtoSeverity.SEVERITY_UNSPECIFIED) {
    minSeverity = severityFromProto(p.minSeverity);
    if (!minSeverity) throw AppError.invalid(`${F}.min_severity`, `unknown severity ${p.minSeverity}`);
  }
  const start = timestampToDate(p.timeRange?.start, `${F}.time_range.start`);
  const end = timestampToDate(p.timeRange?.end, `${F}.time_range.end`);
  if (start && end && start > end) throw AppError.invalid(`${F}.time_range`, 'start is after end');
  return {
    eventTypes, categories, severities, minSeverity, start, end,
    entityTypes: p.entityTypes, entityIds: p.entityIds, userIds: p.userIds,
    expression: p.expression.trim(),
  };
}

/** The wire form of a filter, for listing subscriptions. */
export function toProtoFilter(f: Filter): ProtoFilter {
  return {
    eventTypes: f.eventTypes.map(eventTypeToProto),
    categories: [...(f.categories ?? [])],
    severities: [...f.severities],
    minSeverity: f.minSeverity ?? 0,
    entityTypes: [...f.entityTypes],
    entityIds: [...f.entityIds],
    userIds: [...f.userIds],
    timeRange: f.start || f.end ? { start: toOptionalTimestamp(f.start), end: toOptionalTimestamp(f.end) } : undefined,
    expression: f.expression,
  };
}
