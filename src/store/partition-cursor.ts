import { AppError } from '../domain/errors.js';

const PREFIX = 'p1.';
const TOKEN = /^p1\.\d{1,15}(\.\d{1,15})*$/;

/**
 * A cluster resume token: for each partition of the shared topic, in partition order, the next
 * offset to read (so "p1.0.0" is the start of a two-partition topic). Every node reads each partition
 * in offset order, so the token names the same set of events on every node.
 */
export function encodePartitionCursor(nextOffsets: readonly number[]): string {
  return PREFIX + nextOffsets.join('.');
}

/** The next offsets a token names; INVALID_ARGUMENT naming `field` when it is not a token of this topic. */
export function decodePartitionCursor(token: string, partitions: number, field: string): number[] {
  if (!TOKEN.test(token)) throw AppError.invalid(field, 'is not a cursor this cluster issued (AuditEvent.cursor)');
  const offsets = token.slice(PREFIX.length).split('.').map(Number);
  if (offsets.length !== partitions) {
    throw AppError.invalid(field, `names ${offsets.length} partitions; the cluster topic has ${partitions}`);
  }
  return offsets;
}
