import type { ChainVerification } from '../domain/history.js';
import { verifiesItself } from './hash-chain.js';
import { decodeStoredEvent } from '../contract/event-decoding.js';
import type { StoredAuditEvent } from '../domain/event.js';
import { columnsAgree, type EventRow, ROW_ENCODED, ROW_HASH } from './sqlite-schema.js';
import type { Statements } from './sqlite-statements.js';
import type { VerifyJob, VerifyReply } from './sqlite-verify-thread.js';
import { startThread } from './thread.js';

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
    const sequence = row[0];
    if (sequence !== expectedSequence) return result({ sequence: expectedSequence, kind: 'missing_sequence' });
    const event = verifiedEvent(row);
    if (!event) return result({ sequence, kind: 'hash_mismatch' });
    if (expectedPrevious !== undefined && !expectedPrevious.equals(event.previousHash)) {
      return result({ sequence, kind: 'previous_hash_mismatch' });
    }
    expectedPrevious = row[ROW_HASH];
    expectedSequence += 1;
    checked += 1;
  }
  if (expectedSequence <= last) return result({ sequence: expectedSequence, kind: 'missing_sequence' });
  return result();
}

/**
 * The row's event when its stored bytes reproduce its hash and open its commitments and its lookup
 * columns agree with them; undefined for any other row, including rows too damaged to decode.
 */
function verifiedEvent(row: EventRow): StoredAuditEvent | undefined {
  try {
    const event = decodeStoredEvent(Buffer.from(row[ROW_ENCODED], 'base64'));
    return columnsAgree(row, event) && verifiesItself(event) ? event : undefined;
  } catch {
    return undefined;
  }
}

/** A range to verify in a file: `newest` and `anchor` as the log saw them when asked. */
export interface VerifySpan {
  readonly path: string;
  readonly newest: number;
  readonly anchor: number;
  readonly from?: number | undefined;
  readonly to?: number | undefined;
}

/**
 * walkChain off the event loop: the range is split over up to `threads` reader threads (at least
 * `perThread` events each), each with its own connection and one snapshot. A break found that way is
 * confirmed by one thread walking the whole range in one snapshot, since retention may have removed
 * rows between the threads' snapshots.
 */
export async function verifyOnThreads(span: VerifySpan, threads: number, perThread: number): Promise<ChainVerification> {
  const { path, newest, anchor, from, to } = span;
  const first = Math.max(from ?? anchor + 1, anchor + 1);
  const last = Math.min(to ?? newest, newest);
  const ranges = splitRange(first, last, threads, perThread);
  // The first range keeps the caller's start, so its thread reads the anchor in its own snapshot.
  const parts = await Promise.all(ranges.map(([a, b], i) => verifyInThread({ path, newest, from: i === 0 ? from : a, to: b })));
  if (parts.length === 1) return parts[0]!;
  if (parts.every((p) => p.ok)) {
    return { ok: true, checked: parts.reduce((n, p) => n + p.checked, 0), firstSequence: parts[0]!.firstSequence, lastSequence: last };
  }
  return verifyInThread({ path, newest, from, to });
}

async function verifyInThread(job: VerifyJob): Promise<ChainVerification> {
  const thread = startThread('sqlite-verify-thread', job);
  const reply = await new Promise<VerifyReply>((resolve, reject) => {
    thread.once('message', resolve);
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`the chain verification thread exited (${code})`)));
  });
  if ('result' in reply) return reply.result;
  throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
}

/** A range of the log, split into `parts` contiguous sub-ranges of about equal length (at least `minimum` each). */
function splitRange(first: number, last: number, parts: number, minimum: number): Array<[number, number]> {
  const count = Math.max(1, Math.min(parts, Math.floor((last - first + 1) / minimum)));
  const size = Math.ceil((last - first + 1) / count);
  return Array.from({ length: count }, (_, i) => [first + i * size, Math.min(last, first + (i + 1) * size - 1)] as [number, number]);
}
