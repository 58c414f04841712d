import { Filter as ProtoFilter } from '../../generated/audit/v1/audit_service.js';
import { eventTypeToJSON, severityToJSON } from '../../generated/audit/v1/event.js';
import { AppError } from '../domain/errors.js';
import { CATEGORIES } from '../domain/catalog.js';
import { categoryFromName, MATCH_ALL, type Filter } from '../domain/filter.js';
import { eventTypeFromName, eventTypeFromProto, eventTypeToProto, severityFromName, severityFromProto } from './enums.js';
import { toFilter } from './filter-mapping.js';
import type { InputLimits } from './limits.js';

// The HTTP bridges take filters as JSON (WebSocket) and as query parameters (SSE). Both are checked
// strictly here, because the generated fromJSON is lenient: it ignores unknown keys and a string
// where a list belongs, which would silently widen a filter to "everything".

type Kind = 'types' | 'categories' | 'severities' | 'severity' | 'strings' | 'string' | 'time_range';
const FIELDS: Record<string, Kind> = {
  event_types: 'types', categories: 'categories', severities: 'severities', min_severity: 'severity', entity_types: 'strings',
  entity_ids: 'strings', user_ids: 'strings', time_range: 'time_range', expression: 'string',
};
/** The proto JSON mapping's lowerCamelCase names, accepted like the snake_case ones. */
const SNAKE: Record<string, string> = {
  eventTypes: 'event_types', minSeverity: 'min_severity', entityTypes: 'entity_types',
  entityIds: 'entity_ids', userIds: 'user_ids', timeRange: 'time_range',
};

const describe = (value: unknown): string => (Array.isArray(value) ? 'a list' : value === null ? 'null' : `a ${typeof value}`);

// Enum values as names, or as their numbers, which the proto JSON mapping also allows.
function typeName(value: unknown, field: string): string {
  const type = typeof value === 'string' ? eventTypeFromName(value) : typeof value === 'number' ? eventTypeFromProto(value) : undefined;
  if (!type) throw AppError.invalid(field, `unknown event type ${JSON.stringify(value)}; use a name such as "CALL_CREATED"`);
  return eventTypeToJSON(eventTypeToProto(type));
}

// Category names as the catalog spells them ("security"), any case.
function categoryName(value: unknown, field: string): string {
  const category = typeof value === 'string' ? categoryFromName(value) : undefined;
  if (!category) throw AppError.invalid(field, `unknown category ${JSON.stringify(value)}; use ${CATEGORIES.join(', ')}`);
  return category;
}

function severityJson(value: unknown, field: string): string {
  const severity = typeof value === 'string' ? severityFromName(value) : typeof value === 'number' ? severityFromProto(value) : undefined;
  if (!severity) throw AppError.invalid(field, `unknown severity ${JSON.stringify(value)}; use INFO, LOW, MEDIUM, HIGH or CRITICAL`);
  return severityToJSON(severity);
}

function listOf(value: unknown, field: string, each: (item: unknown, field: string) => unknown): unknown[] {
  if (!Array.isArray(value)) throw AppError.invalid(field, `must be a list, not ${describe(value)}`);
  return value.map((item, i) => each(item, `${field}[${i}]`));
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw AppError.invalid(field, `must be a string, not ${describe(value)}`);
  return value;
}

function time(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw AppError.invalid(field, `${JSON.stringify(value)} is not an RFC 3339 time such as 2025-01-31T12:00:00Z`);
  }
  return value;
}

function timeRange(value: unknown, field: string): object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw AppError.invalid(field, `must be an object, not ${describe(value)}`);
  const { start, end, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw AppError.invalid(`${field}.${extra}`, 'unknown field; expected start or end');
  return { start: time(start, `${field}.start`), end: time(end, `${field}.end`) };
}

const CHECK: Record<Kind, (value: unknown, field: string) => unknown> = {
  types: (v, f) => listOf(v, f, typeName),
  categories: (v, f) => listOf(v, f, categoryName),
  severities: (v, f) => listOf(v, f, severityJson),
  severity: severityJson,
  strings: (v, f) => listOf(v, f, text),
  string: text,
  time_range: timeRange,
};

/**
 * A filter in the proto JSON mapping (snake_case or lowerCamelCase keys) to the domain. Enum values
 * may be full names ("EVENT_TYPE_CALL_CREATED", "SEVERITY_HIGH") or short ones ("CALL_CREATED",
 * "HIGH"), any case. Absent or null means match everything. Errors name the field as `filter.<name>`.
 */
export function filterFromJson(value: unknown, limits: InputLimits): Filter {
  if (value === undefined || value === null) return MATCH_ALL;
  if (typeof value !== 'object' || Array.isArray(value)) throw AppError.invalid('filter', `must be an object, not ${describe(value)}`);
  const normalized: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const name = SNAKE[key] ?? key;
    const kind = FIELDS[name];
    if (!kind) throw AppError.invalid(`filter.${key}`, `unknown filter field; expected one of ${Object.keys(FIELDS).join(', ')}`);
    if (raw !== null) normalized[name] = CHECK[kind](raw, `filter.${name}`);
  }
  return toFilter(ProtoFilter.fromJSON(normalized), limits);
}

/** SSE query parameters and the filter fields they fill; repeating a list parameter ORs its values. */
const QUERY: Record<string, { field: string; list: boolean }> = {
  type: { field: 'event_types', list: true },
  category: { field: 'categories', list: true },
  severity: { field: 'severities', list: true },
  min_severity: { field: 'min_severity', list: false },
  entity_type: { field: 'entity_types', list: true },
  entity_id: { field: 'entity_ids', list: true },
  user_id: { field: 'user_ids', list: true },
  expression: { field: 'expression', list: false },
  from: { field: 'time_range.start', list: false },
  to: { field: 'time_range.end', list: false },
};
export const FILTER_QUERY_PARAMETERS: readonly string[] = Object.keys(QUERY);

/** The SSE filter from query parameters; errors name the parameter (`type[1]`, `min_severity`). */
export function filterFromQuery(params: URLSearchParams, limits: InputLimits): Filter {
  const json: Record<string, unknown> = {};
  const range: Record<string, string> = {};
  for (const [param, { field, list }] of Object.entries(QUERY)) {
    const values = params.getAll(param);
    if (values.length === 0) continue;
    if (!list && values.length > 1) throw AppError.invalid(param, 'may be given only once');
    if (field.startsWith('time_range.')) range[field.slice('time_range.'.length)] = values[0]!;
    else json[field] = list ? values : values[0];
  }
  if (Object.keys(range).length > 0) json.time_range = range;
  try {
    return filterFromJson(json, limits);
  } catch (err) {
    throw asQueryError(err);
  }
}

/**
 * An error about `filter.<field>` renamed after the query parameter that set it; for errors found
 * later too (a CEL expression is compiled when the subscription opens).
 */
export function asQueryError(err: unknown): unknown {
  return err instanceof AppError && err.field?.startsWith('filter') ? renameField(err, err.field) : err;
}

/** "filter.event_types[1]" -> "type[1]", "filter.categories[0]" -> "category[0]", "filter.time_range.start" -> "from", "filter.time_range" -> "from". */
function renameField(err: AppError, field: string): AppError {
  const entries = Object.entries(QUERY).sort(([, a], [, b]) => b.field.length - a.field.length);
  for (const [param, { field: target }] of entries) {
    const prefix = `filter.${target}`;
    if (field === prefix || field.startsWith(`${prefix}[`)) return new AppError(err.code, messageOf(err), param + field.slice(prefix.length));
  }
  if (field === 'filter.time_range') return new AppError(err.code, messageOf(err), 'from');
  return err;
}

/** The message without the "field: " prefix AppError adds. */
function messageOf(err: AppError): string {
  return err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
}
