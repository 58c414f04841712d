import { AppError } from './errors.js';
import type { EventLog, ResolvedCursor } from './ports.js';

/**
 * Resume tokens. A single-node log's token is its sequence in decimal; a cluster log's encodes the
 * Kafka partition offsets read so far, so any node can resume it although each node numbers events
 * in its own order. Clients treat both as opaque.
 */
export function cursorAt(log: EventLog, sequence: number): string {
  return log.cursorAt ? log.cursorAt(sequence) : String(sequence);
}

/** Parses a client's token; INVALID_ARGUMENT naming `field` when it is not one. */
export function resolveCursor(log: EventLog, token: string, field: string): ResolvedCursor {
  if (log.resolveCursor) return log.resolveCursor(token, field);
  if (!/^\d{1,15}$/.test(token)) throw AppError.invalid(field, 'is not a cursor this server issued');
  return { afterSequence: Number(token) };
}
