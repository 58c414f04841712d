import type Database from 'better-sqlite3';
import stringify from 'safe-stable-stringify';
import type { Metadata, NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import type { AppendResult } from '../domain/ports.js';
import { encodeDraft, placedEncoding, rememberEncoding } from '../contract/event-encoding.js';
import { canonicalPrefix, canonicalSuffix, commit, sha256 } from './hash-chain.js';
import { asBuffer } from '../lib/bytes.js';
import { type ReadRow, rowToEvent } from './sqlite-schema.js';
import type { ChainPoint, Statements } from './sqlite-statements.js';

/**
 * An event made ready for the log by the thread that accepts it: normalized (metadata as it reads
 * back), committed (salts drawn, commitments made) and encoded as far as its place in the chain
 * allows. The log's writer then does only what must happen in order: number, link, hash, insert.
 */
export interface Draft {
  /** The event as the log will return it, less its place in the chain (kept by the accepting thread). */
  readonly event: Omit<StoredAuditEvent, 'sequence' | 'receivedAt' | 'previousHash' | 'hash'>;
  /** What the writer needs (strings, numbers and two byte arrays: cheap to hand to its thread). */
  readonly row: DraftRow;
}

/**
 * The row's lookup columns id .. entity id (table order), the canonical encoding's prefix, and the
 * protobuf encoding's parts before and after the event's place (see encodeDraft).
 */
export type DraftRow = readonly [
  id: string, type: string, severity: number, timestamp: number, userId: string, entityType: string, entityId: string,
  canonicalPrefix: string, encodedHead: Uint8Array, encodedTail: Uint8Array,
];

const DRAFT_HEAD = 8;
const DRAFT_TAIL = 9;

/** How many bytes the event's encoding takes (stored as base64: a third more). */
export function encodedSize(row: DraftRow): number {
  return row[DRAFT_HEAD].length + row[DRAFT_TAIL].length;
}

export function draftEvent(e: NewAuditEvent): Draft {
  const timestamp = new Date(e.timestamp.getTime());
  const metadata = normalizedMetadata(e.metadata);
  const { metadataSalts, metadataCommitments } = commit({ metadata, metadataSalts: e.metadataSalts });
  // One literal with every field: spreading the event cost as much as hashing it (the append path's profile).
  const event = {
    id: e.id, type: e.type, severity: e.severity, timestamp, timestampSubMsNanos: e.timestampSubMsNanos ?? 0,
    userId: e.userId, entityType: e.entityType, entityId: e.entityId, action: e.action, result: e.result, metadata,
    correlationId: e.correlationId, source: e.source, traceparent: e.traceparent, metadataSalts, metadataCommitments,
  };
  const { head, tail } = encodeDraft(event);
  return {
    event,
    row: [e.id, e.type, e.severity, timestamp.getTime(), e.userId, e.entityType, e.entityId, canonicalPrefix(event), head, tail],
  };
}

/**
 * Metadata as its stored bytes' Struct holds it and gives it back: JSON values, keys sorted (the
 * serializer the commitments use), so the event read back is the event committed and hashed. Flat
 * metadata of strings, booleans, null and finite numbers (the common case) is copied in key order;
 * anything else takes the round trip through JSON, which is what defines the result (it turns -0
 * into 0, for one).
 */
export function normalizedMetadata(metadata: Metadata): Metadata {
  const keys = Object.keys(metadata).sort();
  const copy: Metadata = {};
  for (const key of keys) {
    const value = metadata[key];
    if (key === '__proto__' || !isJsonScalar(value)) return JSON.parse(stringify(metadata) ?? '{}') as Metadata;
    copy[key] = value;
  }
  return copy;
}

function isJsonScalar(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  return typeof value === 'string' || typeof value === 'boolean' || value === null;
}

/** What the writer says of each draft: its place in the chain, or the stored original of its id. */
export type Placed =
  | { readonly sequence: number; readonly previousHash: Uint8Array; readonly hash: Uint8Array }
  | { readonly original: ReadRow }
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
      const [id, type, severity, timestamp, userId, entityType, entityId, prefix, head, tail] = row;
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
      const encoded = placedEncoding({ head, tail }, sequence, receivedAtMs, previousHash, hash);
      s.insert.run(sequence, id, type, severity, timestamp, userId, entityType, entityId, receivedAtMs, hash, encoded.toString('base64'));
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
    else if ('original' in p) results.push({ event: rowToEvent(p.original), duplicate: true });
    else {
      const { sequence, previousHash, hash } = p;
      const draft = drafts[i]!;
      const d = draft.event;
      // One literal with every field, not a spread of the draft (which showed in the append path's profile).
      const event: StoredAuditEvent = {
        id: d.id, type: d.type, severity: d.severity, timestamp: d.timestamp, timestampSubMsNanos: d.timestampSubMsNanos,
        userId: d.userId, entityType: d.entityType, entityId: d.entityId, action: d.action, result: d.result,
        metadata: d.metadata, correlationId: d.correlationId, source: d.source, traceparent: d.traceparent,
        metadataSalts: d.metadataSalts, metadataCommitments: d.metadataCommitments,
        sequence, receivedAt, previousHash: asBuffer(previousHash), hash: asBuffer(hash),
      };
      // The bytes the writer stored, made again here rather than sent back across the thread.
      rememberEncoding(event, placedEncoding({ head: draft.row[DRAFT_HEAD], tail: draft.row[DRAFT_TAIL] }, sequence, receivedAt.getTime(), previousHash, hash));
      results.push({ event, duplicate: false });
    }
  }
  return results;
}
