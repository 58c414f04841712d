import { randomUUID } from 'node:crypto';
import type { AuditEvent as ProtoEvent } from '../../generated/audit/v1/event.js';
import { typeInfo, type Severity } from '../domain/catalog.js';
import { AppError } from '../domain/errors.js';
import type { KeyedBytes, Metadata, NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import { eventTypeFromProto, eventTypeToProto, resultFromProto, resultToProto, severityFromProto } from './enums.js';
import type { InputLimits } from './limits.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STRING_FIELDS = ['user_id', 'entity_type', 'entity_id', 'action', 'correlation_id', 'source'] as const;

/**
 * Validates a published event and maps it to the domain, filling in the id, default severity and
 * timestamp. Errors are INVALID_ARGUMENT naming the field as `<prefix>.<proto field>`.
 */
export function toNewEvent(p: ProtoEvent | undefined, limits: InputLimits, now: Date, prefix = 'event'): NewAuditEvent {
  const field = (name: string): string => `${prefix}.${name}`;
  if (!p) throw AppError.invalid(prefix, 'is required');
  if (p.id !== '' && !UUID.test(p.id)) throw AppError.invalid(field('id'), `${JSON.stringify(p.id.slice(0, 64))} is not a UUID`);
  if (p.type === 0) throw AppError.invalid(field('type'), 'is required (EVENT_TYPE_UNSPECIFIED is not a type)');
  const type = eventTypeFromProto(p.type);
  if (!type) throw AppError.invalid(field('type'), `unknown event type ${p.type}`);
  let severity: Severity | undefined = typeInfo(type).defaultSeverity;
  if (p.severity !== 0) {
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
    if (strings[name].length > limits.maxStringLength) {
      throw AppError.invalid(field(name), `is ${strings[name].length} characters, the limit is ${limits.maxStringLength}`);
    }
  }
  if (p.action.trim() === '') throw AppError.invalid(field('action'), 'is required');
  const metadata = p.metadata ?? {};
  checkMetadata(metadata, limits, field('metadata'));
  if (p.timestamp && Number.isNaN(p.timestamp.getTime())) throw AppError.invalid(field('timestamp'), 'is not a valid time');
  return {
    id: p.id === '' ? randomUUID() : p.id.toLowerCase(),
    type,
    severity,
    timestamp: p.timestamp ?? now,
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

function checkMetadata(metadata: Metadata, limits: InputLimits, field: string): void {
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > limits.maxMetadataBytes) {
    throw AppError.invalid(field, `is ${bytes} bytes as JSON, the limit is ${limits.maxMetadataBytes}`);
  }
  if (nestsDeeperThan(metadata, limits.maxMetadataDepth)) {
    throw AppError.invalid(field, `nests deeper than ${limits.maxMetadataDepth} levels`);
  }
  const keys = countKeys(metadata);
  if (keys > limits.maxMetadataKeys) throw AppError.invalid(field, `has ${keys} keys, the limit is ${limits.maxMetadataKeys}`);
}

/** Keys over every nested object (depth is already bounded). */
function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Object.values(value as object);
  return (Array.isArray(value) ? 0 : children.length) + children.reduce((sum: number, child) => sum + countKeys(child), 0);
}

/** Stops descending past `max`, so hostile nesting cannot exhaust the stack. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max <= 0) return true;
  return Object.values(value as object).some((child) => nestsDeeperThan(child, max - 1));
}

/** The wire form of a stored event. */
export function toProtoEvent(e: StoredAuditEvent): ProtoEvent {
  return {
    id: e.id,
    type: eventTypeToProto(e.type),
    severity: e.severity,
    timestamp: e.timestamp,
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
    receivedAt: e.receivedAt,
    previousHash: Buffer.from(e.previousHash),
    hash: Buffer.from(e.hash),
    cursor: e.cursor ?? String(e.sequence),
    metadataCommitments: buffers(e.metadataCommitments),
    metadataSalts: buffers(e.metadataSalts),
  };
}

function buffers(bytes: KeyedBytes): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(bytes).map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength)]));
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
  const event: NewAuditEvent = {
    id: p.id, type, severity, timestamp: p.timestamp, userId: p.userId, entityType: p.entityType,
    entityId: p.entityId, action: p.action, result, metadata: p.metadata ?? {}, correlationId: p.correlationId,
    source: p.source, traceparent: p.traceparent, metadataSalts: p.metadataSalts,
  };
  return { event, receivedAt: p.receivedAt };
}
