import type { EventType, ResultName, Severity } from '../domain/catalog.js';
import type { KeyedBytes, Metadata, StoredAuditEvent } from '../domain/event.js';
import { asBuffer } from '../lib/bytes.js';
import { keyed } from './hash-chain.js';

/**
 * Rows as schemas 1 to 3 stored them, for the upgrade only: every field in its own column, metadata
 * as JSON text, salts and commitments as JSON objects of base64 strings (schema 2; '{}' before), the
 * nanoseconds below the millisecond beside the timestamp (schema 3; 0 before).
 */
export const LEGACY_COLUMNS =
  'sequence, id, type, severity, timestamp, user_id, entity_type, entity_id, action, result, metadata, ' +
  'correlation_id, source, traceparent, received_at, previous_hash, hash, salts, commitments, timestamp_sub_ms_nanos';

export type LegacyRow = [
  sequence: number, id: string, type: string, severity: number, timestamp: number, userId: string, entityType: string,
  entityId: string, action: string, result: string, metadata: string, correlationId: string, source: string,
  traceparent: string, receivedAt: number, previousHash: Buffer, hash: Buffer, salts: string, commitments: string,
  timestampSubMsNanos: number,
];

export function legacyRowToEvent(row: LegacyRow): StoredAuditEvent {
  const [sequence, id, type, severity, timestamp, userId, entityType, entityId, action, result, metadata,
    correlationId, source, traceparent, receivedAt, previousHash, hash, salts, commitments, timestampSubMsNanos] = row;
  return {
    id, type: type as EventType, severity: severity as Severity, timestamp: new Date(timestamp), timestampSubMsNanos,
    userId, entityType, entityId, action, result: result as ResultName, metadata: JSON.parse(metadata) as Metadata,
    correlationId, source, traceparent, sequence, receivedAt: new Date(receivedAt), previousHash, hash,
    metadataSalts: parseKeyedBytes(salts), metadataCommitments: parseKeyedBytes(commitments),
  };
}

/** Salts or commitments as schemas 2 and 3 stored them. */
export function keyedBytesJson(bytes: KeyedBytes): string {
  let out = '{';
  for (const key in bytes) out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:"${asBuffer(bytes[key]!).toString('base64')}"`;
  return `${out}}`;
}

function parseKeyedBytes(json: string): KeyedBytes {
  if (json === '{}') return keyed([]);
  const parsed = JSON.parse(json) as Record<string, string>;
  const out = keyed<Uint8Array>([]);
  for (const key of Object.keys(parsed)) out[key] = Buffer.from(parsed[key]!, 'base64');
  return out;
}
