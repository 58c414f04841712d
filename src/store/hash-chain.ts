import { createHash, randomBytes } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import type { KeyedBytes, Metadata, NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import { rfc3339 } from '../domain/time.js';

/** The fields a hash covers: everything stored except the hash itself, metadata as its commitments. */
export type HashInput = Omit<NewAuditEvent, 'metadata' | 'metadataSalts'>
  & Pick<StoredAuditEvent, 'sequence' | 'receivedAt' | 'previousHash' | 'metadataCommitments'>;

const SALT_BYTES = 16;

/** The canonical JSON of a value: object keys sorted, no whitespace (safe-stable-stringify). */
export function canonicalJson(value: unknown): string {
  return stringify(value) ?? 'null';
}

/** SHA-256(salt || canonical JSON of the value): hides the value, binds it, opens with the salt. */
export function commitment(salt: Uint8Array, value: unknown): Buffer {
  return createHash('sha256').update(salt).update(canonicalJson(value)).digest();
}

/** A null-prototype record, so keys such as `__proto__` or `constructor` are plain data. */
export function keyed<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [key, value] of entries) out[key] = value;
  return out;
}

/**
 * Random bytes drawn 64 KiB at a time (a randomBytes call per event cost more than its hashing: a
 * system call each), handed out in 16-byte salts, each used once.
 */
let pool = Buffer.alloc(0);
let poolOffset = 0;

function salt(): Buffer {
  if (poolOffset + SALT_BYTES > pool.length) {
    pool = randomBytes(64 * 1024);
    poolOffset = 0;
  }
  poolOffset += SALT_BYTES;
  return pool.subarray(poolOffset - SALT_BYTES, poolOffset);
}

/** Fresh random salts for each top-level metadata key. */
export function drawSalts(metadata: Metadata): KeyedBytes {
  return keyed(Object.keys(metadata).map((key) => [key, salt()] as const));
}

/**
 * The canonical encoding: a JSON array in a fixed field order, metadata as its commitments (hex, keys
 * sorted), times as RFC 3339 UTC (milliseconds; the event's timestamp with 6 or 9 fractional digits
 * when it has nanoseconds below the millisecond, see rfc3339) and the previous hash as hex. Any change to
 * a stored field, including reordering events, changes the hash; no value maskable by redaction
 * enters it in clear.
 */
export function canonicalEncoding(e: HashInput): string {
  const commitments = keyed(Object.entries(e.metadataCommitments).map(([k, v]) => [k, Buffer.from(v).toString('hex')] as const));
  return stringify([
    e.id, e.type, e.severity, rfc3339(e.timestamp, e.timestampSubMsNanos), e.userId, e.entityType, e.entityId, e.action,
    e.result, commitments, e.correlationId, e.source, e.traceparent, e.sequence, e.receivedAt.toISOString(),
    Buffer.from(e.previousHash).toString('hex'),
  ]);
}

/** SHA-256 of the canonical encoding. */
export function computeHash(e: HashInput): Buffer {
  return createHash('sha256').update(canonicalEncoding(e)).digest();
}

/**
 * Whether every clear metadata value opens its commitment with its salt (keys with a commitment but
 * no value were erased). With computeHash, this is what verifying a stored event means.
 */
export function opensCommitments(e: Pick<StoredAuditEvent, 'metadata' | 'metadataSalts' | 'metadataCommitments'>): boolean {
  for (const [key, value] of Object.entries(e.metadata)) {
    const salt = e.metadataSalts[key];
    const committed = e.metadataCommitments[key];
    if (!salt || !committed || !commitment(salt, value).equals(committed)) return false;
  }
  return true;
}

/** A stored event reproduces its hash and its commitments. */
export function verifiesItself(e: StoredAuditEvent): boolean {
  return opensCommitments(e) && computeHash(e).equals(e.hash);
}

/** Commitments for an event's metadata, with salts drawn now unless the event carries them. */
export function commit(event: NewAuditEvent): Pick<StoredAuditEvent, 'metadataSalts' | 'metadataCommitments'> {
  const salts = event.metadataSalts ?? drawSalts(event.metadata);
  const commitments = keyed(Object.entries(event.metadata).map(([key, value]) => {
    const salt = salts[key];
    if (!salt) throw new Error(`metadata key ${JSON.stringify(key)} has no salt`);
    return [key, commitment(salt, value)] as const;
  }));
  return { metadataSalts: keyed(Object.keys(event.metadata).map((k) => [k, salts[k]!] as const)), metadataCommitments: commitments };
}

/** Seals an event at its place in the chain. */
export function sealEvent(
  event: NewAuditEvent,
  sequence: number,
  receivedAt: Date,
  previousHash: Uint8Array,
): StoredAuditEvent {
  const base = { ...event, ...commit(event), sequence, receivedAt, previousHash };
  return { ...base, hash: computeHash(base) };
}
