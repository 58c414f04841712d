import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import type { NewAuditEvent, StoredAuditEvent } from '../domain/event.js';

/** The fields a hash covers: everything stored except the hash itself. */
export type HashInput = NewAuditEvent & Pick<StoredAuditEvent, 'sequence' | 'receivedAt' | 'previousHash'>;

/**
 * The canonical encoding: a JSON array in a fixed field order, metadata with sorted keys, times as
 * ISO-8601 UTC (millisecond precision) and the previous hash as hex. Any change to a stored field,
 * including reordering events, changes the hash.
 */
export function canonicalEncoding(e: HashInput): string {
  return stringify([
    e.id, e.type, e.severity, e.timestamp.toISOString(), e.userId, e.entityType, e.entityId, e.action,
    e.result, e.metadata, e.correlationId, e.source, e.traceparent, e.sequence, e.receivedAt.toISOString(),
    Buffer.from(e.previousHash).toString('hex'),
  ]);
}

/** SHA-256 of the canonical encoding. */
export function computeHash(e: HashInput): Buffer {
  return createHash('sha256').update(canonicalEncoding(e)).digest();
}

/** Seals an event at its place in the chain. */
export function sealEvent(
  event: NewAuditEvent,
  sequence: number,
  receivedAt: Date,
  previousHash: Uint8Array,
): StoredAuditEvent {
  const base = { ...event, sequence, receivedAt, previousHash };
  return { ...base, hash: computeHash(base) };
}
