import { v7 as timeOrderedUuid } from 'uuid';
import { type AuditEvent as ProtoEvent, EventType, Severity as ProtoSeverity } from '../../generated/audit/v1/event.js';
import { typeInfo, type Severity } from '../domain/catalog.js';
import { AppError } from '../domain/errors.js';
import { asBuffer } from '../lib/bytes.js';
import type { KeyedBytes, Metadata, NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import { eventTypeFromProto, eventTypeToProto, resultFromProto, resultToProto, severityFromProto } from './enums.js';
import type { InputLimits } from './limits.js';
import { checkedTimestamp, fromTimestamp, toTimestamp } from './time-mapping.js';
import { keySegment, wireProblemOf } from './wire-problem.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STRING_FIELDS = ['user_id', 'entity_type', 'entity_id', 'action', 'correlation_id', 'source'] as const;

/**
 * Validates a published event and maps it to the domain, filling in the id, default severity and
 * timestamp. Errors are INVALID_ARGUMENT naming the field as `<prefix>.<proto field>`.
 */
export function toNewEvent(p: ProtoEvent | undefined, limits: InputLimits, now: Date, prefix = 'event'): NewAuditEvent {
  const field = (name: string): string => `${prefix}.${name}`;
  if (!p) throw AppError.invalid(prefix, 'is required');
  // What the request check (request-wire.ts) found in this event's bytes; p is then an empty placeholder.
  const problem = wireProblemOf(p);
  if (problem) {
    const path = problem.path === '' ? prefix : problem.path.startsWith('[') ? `${prefix}${problem.path}` : field(problem.path);
    throw AppError.invalid(path, problem.framing ? `is not valid protobuf: ${problem.message}` : problem.message);
  }
  if (p.id !== '' && !UUID.test(p.id)) throw AppError.invalid(field('id'), `${JSON.stringify(p.id.slice(0, 64))} is not a UUID`);
  if (p.type === EventType.EVENT_TYPE_UNSPECIFIED) throw AppError.invalid(field('type'), 'is required (EVENT_TYPE_UNSPECIFIED is not a type)');
  const type = eventTypeFromProto(p.type);
  if (!type) throw AppError.invalid(field('type'), `unknown event type ${p.type}`);
  let severity: Severity | undefined = typeInfo(type).defaultSeverity;
  if (p.severity !== ProtoSeverity.SEVERITY_UNSPECIFIED) {
    severity = severityFromProto(p.severity);
    if (!severity) throw AppError.invalid(field('severity'), `unknown severity ${p.severity}`);
  }
  const result = resultFromProto(p.result);
  if (!result) throw AppError.invalid(field('result'), `unknown result ${p.result}`);
  const strings = {
    user_id: p.userId, entity_type: p.entityType, entity_id: p.entityId, action: p.action,
    correlation_id: p.correlationId, source: p.source,
  };
  for (const name of STRING_FIELDS) {
    const length = characters(strings[name], limits.maxStringLength);
    if (length > limits.maxStringLength) {
      throw AppError.invalid(field(name), `is ${length} characters (Unicode code points), the limit is ${limits.maxStringLength}`);
    }
  }
  if (p.action.trim() === '') throw AppError.invalid(field('action'), 'is required');
  const metadata = p.metadata ?? {};
  checkMetadata(metadata, limits, field('metadata'));
  const time = p.timestamp ? checkedTimestamp(p.timestamp, field('timestamp')) : { date: now, subMsNanos: 0 };
  return {
    // A UUIDv7 (time-ordered, RFC 9562) rather than a random v4: the log's UNIQUE index on id then takes
    // drawn ids at its right edge instead of dirtying a random page per event (bench/sqlite-floor.ts).
    id: p.id === '' ? timeOrderedUuid() : p.id.toLowerCase(),
    type,
    severity,
    timestamp: time.date,
    timestampSubMsNanos: time.subMsNanos,
    userId: p.userId,
    entityType: p.entityType,
    entityId: p.entityId,
    action: p.action,
    result,
    metadata,
    correlationId: p.correlationId,
    source: p.source,
    traceparent: '',
  };
}

/**
 * Characters as the limits count them: Unicode code points (what a person calls characters; an emoji
 * outside the BMP is one, not the two UTF-16 units of String.length). Counting stops past `limit`.
 */
function characters(s: string, limit: number): number {
  if (s.length <= limit) return s.length; // code points never outnumber UTF-16 units
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return n;
}

/**
 * Metadata limits: depth first (bounded recursion, so hostile nesting cannot exhaust the stack or
 * JSON.stringify), then size in bytes of its UTF-8 JSON encoding, then keys over every nested object.
 * Also refused here, for metadata that did not come through the gRPC request check (which refuses
 * them on the wire, where they would otherwise be lost): `__proto__` keys and values JSON cannot hold
 * exactly (undefined, NaN, Infinity, functions...), which JSON.stringify would drop or turn into null.
 */
function checkMetadata(metadata: Metadata, limits: InputLimits, field: string): void {
  if (nestsDeeperThan(metadata, limits.maxMetadataDepth)) {
    throw AppError.invalid(field, `nests deeper than ${limits.maxMetadataDepth} levels`);
  }
  checkJsonValues(metadata, field);
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > limits.maxMetadataBytes) {
    throw AppError.invalid(field, `is ${bytes} bytes as JSON (UTF-8), the limit is ${limits.maxMetadataBytes} bytes`);
  }
  const keys = countKeys(metadata);
  if (keys > limits.maxMetadataKeys) {
    throw AppError.invalid(field, `has ${keys} keys (counted over every nested object), the limit is ${limits.maxMetadataKeys}`);
  }
}

/** Refuses what would not be stored exactly as given (depth is already bounded). */
function checkJsonValues(value: unknown, path: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw AppError.invalid(path, `${value} is not a number JSON can hold`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJsonValues(item, `${path}[${i}]`));
    return;
  }
  if (value === undefined) throw AppError.invalid(path, 'value has no kind');
  if (typeof value !== 'object') throw AppError.invalid(path, `a ${typeof value} is not a JSON value`);
  for (const key of Object.keys(value)) {
    const segment = keySegment(key);
    const at = segment.startsWith('[') ? `${path}${segment}` : `${path}.${segment}`;
    // Refused, not lost: see request-wire.ts, struct().
    if (key === '__proto__') throw AppError.invalid(at, 'this key is not accepted');
    checkJsonValues((value as Record<string, unknown>)[key], at);
  }
}

/** Keys over every nested object (depth is already bounded). */
function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Object.values(value);
  return (Array.isArray(value) ? 0 : children.length) + children.reduce((sum: number, child) => sum + countKeys(child), 0);
}

/** Stops descending past `max`, so hostile nesting cannot exhaust the stack. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max <= 0) return true;
  return Object.values(value).some((child) => nestsDeeperThan(child, max - 1));
}

/** The wire form of a stored event. */
export function toProtoEvent(e: StoredAuditEvent): ProtoEvent {
  return {
    id: e.id,
    type: eventTypeToProto(e.type),
    severity: e.severity,
    timestamp: toTimestamp(e.timestamp, e.timestampSubMsNanos),
    userId: e.userId,
    entityType: e.entityType,
    entityId: e.entityId,
    action: e.action,
    result: resultToProto(e.result),
    metadata: e.metadata,
    correlationId: e.correlationId,
    source: e.source,
    traceparent: e.traceparent,
    sequence: e.sequence,
    receivedAt: toTimestamp(e.receivedAt),
    previousHash: asBuffer(e.previousHash),
    hash: asBuffer(e.hash),
    cursor: e.cursor ?? String(e.sequence),
    metadataCommitments: buffers(e.metadataCommitments),
    metadataSalts: buffers(e.metadataSalts),
  };
}

function buffers(bytes: KeyedBytes): Record<string, Buffer> {
  return Object.fromEntries(Object.keys(bytes).map((key) => [key, asBuffer(bytes[key]!)]));
}

/**
 * An event as a cluster node wrote it to the shared topic (toProtoEvent of the accepted event), back
 * to the domain. The writer validated it; this only refuses what is not an event of ours at all.
 */
export function fromRecordEvent(p: ProtoEvent): { event: NewAuditEvent; receivedAt: Date } {
  const type = eventTypeFromProto(p.type);
  const severity = severityFromProto(p.severity);
  const result = resultFromProto(p.result);
  if (!type || !severity || !result || !UUID.test(p.id) || !p.timestamp || !p.receivedAt) {
    throw new Error(`not an audit event record (id ${JSON.stringify(p.id.slice(0, 64))})`);
  }
  const time = fromTimestamp(p.timestamp);
  const event: NewAuditEvent = {
    id: p.id, type, severity, timestamp: time.date, timestampSubMsNanos: time.subMsNanos, userId: p.userId, entityType: p.entityType,
    entityId: p.entityId, action: p.action, result, metadata: p.metadata ?? {}, correlationId: p.correlationId,
    source: p.source, traceparent: p.traceparent, metadataSalts: p.metadataSalts,
  };
  return { event, receivedAt: fromTimestamp(p.receivedAt).date };
}
