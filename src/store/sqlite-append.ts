import type Database from 'better-sqlite3';
import stringify from 'safe-stable-stringify';
import type { Metadata, NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import type { AppendResult } from '../domain/ports.js';
import { canonicalPrefix, canonicalSuffix, commit, sha256 } from './hash-chain.js';
import { asBuffer } from '../lib/bytes.js';
import { type EventRow, keyedBytesJson, ROW_HASH, ROW_PREVIOUS_HASH, rowToEvent } from './sqlite-schema.js';
import type { ChainPoint, Statements } from './sqlite-statements.js';

/**
 * An event made ready for the log by the thread that accepts it: normalized (metadata as it reads
 * back), committed (salts drawn, commitments made) and encoded as far as its place in the chain
 * allows. The log's writer then does only what must happen in order: number, link, hash, insert.
 */
export interface Draft {
  /** The event as the log will return it, less its place in the chain (kept by the accepting thread). */
  readonly event: Omit<StoredAuditEvent, 'sequence' | 'receivedAt' | 'previousHash' | 'hash'>;
  /** What the writer needs (strings and numbers: cheap to hand to its thread). */
  readonly row: DraftRow;
}

/**
 * The row's columns id .. traceparent (table order), then salts, commitments, the timestamp's
 * nanoseconds below the millisecond, and the canonical encoding's prefix.
 */
export type DraftRow = readonly [
  id: string, type: string, severity: number, timestamp: number, userId: string, entityType: string, entityId: string,
  action: string, result: string, metadata: string, correlationId: string, source: string, traceparent: string,
  salts: string, commitments: string, timestampSubMsNanos: number, canonicalPrefix: string,
];

export function draftEvent(e: NewAuditEvent): Draft {
  // The same serializer the hash uses, so parsing it back re-encodes to the hashed bytes.
  const metadataJson = stringify(e.metadata) ?? '{}';
  const subMsNanos = e.timestampSubMsNanos ?? 0;
  const normalized: NewAuditEvent = {
    id: e.id, type: e.type, severity: e.severity, timestamp: new Date(e.timestamp.getTime()),
    timestampSubMsNanos: subMsNanos, userId: e.userId, entityType: e.entityType, entityId: e.entityId,
    action: e.action, result: e.result, metadata: JSON.parse(metadataJson) as Metadata, correlationId: e.correlationId,
    source: e.source, traceparent: e.traceparent, metadataSalts: e.metadataSalts,
  };
  const { metadataSalts, metadataCommitments } = commit(normalized);
  const event = { ...normalized, metadataSalts, metadataCommitments };
  return {
    event,
    row: [
      e.id, e.type, e.severity, event.timestamp.getTime(), e.userId, e.entityType, e.entityId, e.action, e.result, metadataJson,
      e.correlationId, e.source, e.traceparent, keyedBytesJson(metadataSalts), keyedBytesJson(metadataCommitments),
      subMsNanos, canonicalPrefix(event),
    ],
  };
}

/** What the writer says of each draft: its place in the chain, or the stored original of its id. */
export type Placed =
  | { readonly sequence: number; readonly previousHash: Uint8Array; readonly hash: Uint8Array }
  | { readonly original: EventRow }
  | { readonly sameAs: number };

export interface Committed {
  readonly placed: Placed[];
  readonly last: ChainPoint;
}

/**
 * The group commit: one transaction stores a batch after `last`, sealing each new event into the
 * chain; an id already stored (or earlier in the batch) answers with the original. The one place
 * events are written, whichever thread runs it.
 */
export function appendTransaction(db: Database.Database, s: Statements) {
  return db.transaction((batch: readonly DraftRow[], receivedAtMs: number, last: ChainPoint): Committed => {
    let sequence = last.sequence;
    let hash = last.hash;
    const receivedAtIso = new Date(receivedAtMs).toISOString();
    const inBatch = new Map<string, number>();
    const placed: Placed[] = [];
    for (const [i, row] of batch.entries()) {
      const [id, type, severity, timestamp, userId, entityType, entityId, action, result, metadata, correlationId, source,
        traceparent, salts, commitments, subMsNanos, prefix] = row;
      const earlier = inBatch.get(id);
      if (earlier !== undefined) {
        placed.push({ sameAs: earlier });
        continue;
      }
      const original = s.byId.get(id);
      if (original) {
        placed.push({ original });
        continue;
      }
      sequence += 1;
      const previousHash = hash;
      hash = sha256(prefix + canonicalSuffix(sequence, receivedAtIso, previousHash));
      s.insert.run(sequence, id, type, severity, timestamp, userId, entityType, entityId, action, result, metadata, correlationId,
        source, traceparent, receivedAtMs, previousHash, hash, salts, commitments, subMsNanos);
      inBatch.set(id, i);
      placed.push({ sequence, previousHash, hash });
    }
    if (sequence !== last.sequence) s.setMeta.run(sequence, hash, 'last');
    return { placed, last: { sequence, hash } };
  });
}

/** The append's results from the drafts and what the writer said of them (on the accepting thread). */
export function appendResults(drafts: readonly Draft[], placed: readonly Placed[], receivedAt: Date): AppendResult[] {
  const results: AppendResult[] = [];
  for (const [i, p] of placed.entries()) {
    if ('sameAs' in p) results.push({ event: results[p.sameAs]!.event, duplicate: true });
    else if ('original' in p) results.push({ event: rowToEvent(withBuffers(p.original)), duplicate: true });
    else {
      const { sequence, previousHash, hash } = p;
      results.push({ event: { ...drafts[i]!.event, sequence, receivedAt, previousHash: asBuffer(previousHash), hash: asBuffer(hash) }, duplicate: false });
    }
  }
  return results;
}

/** A row that crossed a thread has Uint8Arrays where SQLite gave Buffers: Buffers again, no copy. */
function withBuffers(row: EventRow): EventRow {
  const copy = [...row] as EventRow;
  copy[ROW_PREVIOUS_HASH] = asBuffer(row[ROW_PREVIOUS_HASH]);
  copy[ROW_HASH] = asBuffer(row[ROW_HASH]);
  return copy;
}
