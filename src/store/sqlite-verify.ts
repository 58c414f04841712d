import type { ChainVerification } from '../domain/history.js';
import { verifiesItself } from './hash-chain.js';
import { type EventRow, ROW_HASH, ROW_PREVIOUS_HASH, ROW_SEQUENCE, rowToEvent } from './sqlite-schema.js';
import type { Statements } from './sqlite-statements.js';

/**
 * Recomputes every hash in [fromSequence, toSequence] (default: the first kept event to `newest`),
 * checks each previous hash against the prior event's hash (the retention anchor's for the first kept
 * event) and that no sequence is missing. Stops at the first break. Rows are streamed. Run it inside
 * one read transaction, so the anchor and the rows come from the same snapshot.
 */
export function walkChain(s: Statements, newest: number, fromSequence?: number, toSequence?: number): ChainVerification {
  const anchor = s.getMeta.get('anchor')!;
  const first = Math.max(fromSequence ?? anchor.sequence + 1, anchor.sequence + 1);
  const last = Math.min(toSequence ?? newest, newest);
  let checked = 0;
  const result = (firstBreak?: ChainVerification['firstBreak']): ChainVerification =>
    firstBreak
      ? { ok: false, checked, firstSequence: first, lastSequence: last, firstBreak }
      : { ok: true, checked, firstSequence: first, lastSequence: last };
  if (first > last) return result();

  // The link into the range; unknown (so unchecked) only when the row before a sub-range is missing.
  let expectedPrevious: Buffer | undefined =
    first === anchor.sequence + 1 ? anchor.hash : s.hashAt.get(first - 1)?.hash;
  let expectedSequence = first;
  for (const row of s.range.iterate(first, last)) {
    const sequence = row[ROW_SEQUENCE];
    if (sequence !== expectedSequence) return result({ sequence: expectedSequence, kind: 'missing_sequence' });
    if (!hashMatches(row)) return result({ sequence, kind: 'hash_mismatch' });
    const previous = row[ROW_PREVIOUS_HASH];
    if (expectedPrevious !== undefined && !(Buffer.isBuffer(previous) && expectedPrevious.equals(previous))) {
      return result({ sequence, kind: 'previous_hash_mismatch' });
    }
    expectedPrevious = row[ROW_HASH];
    expectedSequence += 1;
    checked += 1;
  }
  if (expectedSequence <= last) return result({ sequence: expectedSequence, kind: 'missing_sequence' });
  return result();
}

/** False for any row that does not reproduce its hash, including rows too damaged to decode. */
function hashMatches(row: EventRow): boolean {
  try {
    const hash = row[ROW_HASH];
    return Buffer.isBuffer(hash) && verifiesItself(rowToEvent(row));
  } catch {
    return false;
  }
}

/** A range of the log, split into `parts` contiguous sub-ranges of about equal length (at least `minimum` each). */
export function splitRange(first: number, last: number, parts: number, minimum: number): Array<[number, number]> {
  const count = Math.max(1, Math.min(parts, Math.floor((last - first + 1) / minimum)));
  const size = Math.ceil((last - first + 1) / count);
  return Array.from({ length: count }, (_, i) => [first + i * size, Math.min(last, first + (i + 1) * size - 1)] as [number, number]);
}
