import { hash as oneShotHash, randomBytes } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import { asBuffer } from '../lib/bytes.js';
import type { KeyedBytes, NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import { rfc3339 } from '../domain/time.js';

/** The fields a hash covers: everything stored except the hash itself, metadata as its commitments. */
export type HashInput = Omit<NewAuditEvent, 'metadata' | 'metadataSalts'>
  & Pick<StoredAuditEvent, 'sequence' | 'receivedAt' | 'previousHash' | 'metadataCommitments'>;

const SALT_BYTES = 16;

/**
 * The canonical JSON of a value: object keys sorted, no whitespace (safe-stable-stringify). A string,
 * number, boolean or null is what JSON.stringify writes (safe-stable-stringify escapes strings the same
 * way), which skips the library's walk for the common flat metadata value.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  return stringify(value) ?? 'null';
}

/**
 * SHA-256 of the bytes, one shot: crypto.hash skips the Hash object, which cost more than hashing a
 * few hundred bytes (measured in the append path's profile).
 */
export function sha256(data: string | Uint8Array): Buffer {
  return oneShotHash('sha256', data, 'buffer');
}

/** SHA-256(salt || canonical JSON of the value): hides the value, binds it, opens with the salt. */
export function commitment(salt: Uint8Array, value: unknown): Buffer {
  const json = canonicalJson(value);
  const input = Buffer.allocUnsafe(salt.length + Buffer.byteLength(json));
  input.set(salt, 0);
  input.write(json, salt.length);
  return sha256(input);
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

/**
 * The canonical encoding: a JSON array in a fixed field order, metadata as its commitments (hex, keys
 * sorted), times as RFC 3339 UTC (milliseconds; the event's timestamp with 6 or 9 fractional digits
 * when it has nanoseconds below the millisecond, see rfc3339) and the previous hash as hex. Any change to
 * a stored field, including reordering events, changes the hash; no value maskable by redaction
 * enters it in clear.
 */
export function canonicalEncoding(e: HashInput): string {
  return canonicalPrefix(e) + canonicalSuffix(e.sequence, e.receivedAt.toISOString(), e.previousHash);
}

/**
 * The canonical encoding up to the fields the chain assigns (sequence, receivedAt, previousHash):
 * made before the event has a place, so the log's writer only appends the suffix and hashes.
 */
export function canonicalPrefix(e: Omit<HashInput, 'sequence' | 'receivedAt' | 'previousHash'>): string {
  // Written out rather than through safe-stable-stringify (a third of the append path's CPU): each
  // string as JSON.stringify writes it, which is how the library writes strings too, and the
  // commitments' keys sorted by hand. The canonical-encoding tests pin this to the library's output.
  const j = JSON.stringify;
  return `[${j(e.id)},${j(e.type)},${e.severity},"${rfc3339(e.timestamp, e.timestampSubMsNanos)}",${j(e.userId)},` +
    `${j(e.entityType)},${j(e.entityId)},${j(e.action)},${j(e.result)},${hexObject(e.metadataCommitments)},` +
    `${j(e.correlationId)},${j(e.source)},${j(e.traceparent)},`;
}

/** The rest of the canonical encoding: the event's place in the chain (`receivedAt` as toISOString writes it). */
export function canonicalSuffix(sequence: number, receivedAtIso: string, previousHash: Uint8Array): string {
  return `${sequence},"${receivedAtIso}","${hex(previousHash)}"]`;
}

/** {"key":"<hex>",...} with keys in sorted order, as safe-stable-stringify writes an object. */
function hexObject(bytes: KeyedBytes): string {
  const keys = Object.keys(bytes).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${i ? ',' : ''}${JSON.stringify(key)}:"${hex(bytes[key]!)}"`;
  }
  return `${out}}`;
}

function hex(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('hex');
}

/** SHA-256 of the canonical encoding. */
export function computeHash(e: HashInput): Buffer {
  return sha256(canonicalEncoding(e));
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
export function commit(event: Pick<NewAuditEvent, 'metadata' | 'metadataSalts'>): Pick<StoredAuditEvent, 'metadataSalts' | 'metadataCommitments'> {
  const given = event.metadataSalts;
  const metadataSalts = keyed<Uint8Array>([]);
  const metadataCommitments = keyed<Uint8Array>([]);
  for (const [key, value] of Object.entries(event.metadata)) {
    const keySalt = given ? given[key] : salt();
    if (!keySalt) throw new Error(`metadata key ${JSON.stringify(key)} has no salt`);
    metadataSalts[key] = keySalt;
    metadataCommitments[key] = commitment(keySalt, value);
  }
  return { metadataSalts, metadataCommitments };
}

/** Seals an event at its place in the chain. */
export function sealEvent(
  event: NewAuditEvent,
  sequence: number,
  receivedAt: Date,
  previousHash: Uint8Array,
): StoredAuditEvent {
  const { metadataSalts, metadataCommitments } = commit(event);
  // One literal with every field (the append path's profile: spreading the event twice cost as much as hashing it).
  const sealed = {
    id: event.id, type: event.type, severity: event.severity, timestamp: event.timestamp,
    timestampSubMsNanos: event.timestampSubMsNanos, userId: event.userId, entityType: event.entityType,
    entityId: event.entityId, action: event.action, result: event.result, metadata: event.metadata,
    correlationId: event.correlationId, source: event.source, traceparent: event.traceparent,
    metadataSalts, metadataCommitments, sequence, receivedAt, previousHash, hash: EMPTY,
  };
  sealed.hash = computeHash(sealed);
  return sealed;
}

const EMPTY: Uint8Array = new Uint8Array(0);
