import type { KeyedBytes, StoredAuditEvent } from '../domain/event.js';
import { eventTypeToProto, resultToProto } from './enums.js';
import { toTimestamp } from './time-mapping.js';

/**
 * A stored event as the protobuf bytes of audit.v1.AuditEvent, written directly: exactly the bytes
 * ts-proto's `AuditEvent.encode(toProtoEvent(e))` makes (fields in number order, defaults left out,
 * metadata as a google.protobuf.Struct in key order, maps in key order), which the tests check on
 * arbitrary events. ts-proto builds a wrapper object per metadata value and a writer per nested
 * message; encoding this way costs a fraction of that, and every replayed, queried, forwarded or
 * fanned-out event is encoded once.
 */
export function encodeStoredEvent(e: StoredAuditEvent): Buffer {
  const w = writer;
  w.pos = 0;
  writeHead(w, e);
  writePlace(w, e.sequence, e.receivedAt, e.previousHash, e.hash, e.cursor ?? String(e.sequence));
  writeTail(w, e.metadataCommitments, e.metadataSalts);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** What an event is before the log gives it a place (see EncodedDraft). */
export type UnplacedEvent = Omit<StoredAuditEvent, 'sequence' | 'receivedAt' | 'previousHash' | 'hash' | 'cursor'>;

/**
 * An event's encoding made before it has a place in the chain: the fields before its place (1-13)
 * and after it (19-20). The log's writer puts the place between them (placedEncoding), so the stored
 * bytes are made once, at ingest, and are exactly encodeStoredEvent's.
 */
export interface EncodedDraft {
  readonly head: Uint8Array;
  readonly tail: Uint8Array;
}

export function encodeDraft(e: UnplacedEvent): EncodedDraft {
  const w = writer;
  w.pos = 0;
  writeHead(w, e);
  const head = Buffer.from(w.buf.subarray(0, w.pos));
  w.pos = 0;
  writeTail(w, e.metadataCommitments, e.metadataSalts);
  return { head, tail: Buffer.from(w.buf.subarray(0, w.pos)) };
}

/** The stored event's bytes: the draft's head and tail around its place (the cursor is the sequence, as stored events have). */
export function placedEncoding(draft: EncodedDraft, sequence: number, receivedAtMs: number, previousHash: Uint8Array, hash: Uint8Array): Buffer {
  const w = writer;
  w.pos = 0;
  writePlace(w, sequence, new Date(receivedAtMs), previousHash, hash, String(sequence));
  const out = Buffer.allocUnsafe(draft.head.length + w.pos + draft.tail.length);
  out.set(draft.head, 0);
  out.set(w.buf.subarray(0, w.pos), draft.head.length);
  out.set(draft.tail, draft.head.length + w.pos);
  return out;
}

/**
 * Each stored event's encoding, made or read once however many subscribers, queries and forwarders
 * send it, kept on the event itself under a symbol, not enumerable: copies made by spreading
 * (redacted, re-cursored) do not take it, so an event's bytes are always its own. (A WeakMap did the
 * same at about twice the cost per event, most of it in the garbage collector's ephemeron work.)
 */
const ENCODING = Symbol('audit.v1.AuditEvent bytes');

type WithEncoding = StoredAuditEvent & { [ENCODING]?: Uint8Array };

/** The event's bytes: the ones it was stored or read with, else encoded now (and kept). */
export function encodedEvent(e: StoredAuditEvent): Uint8Array {
  return (e as WithEncoding)[ENCODING] ?? rememberEncoding(e, encodeStoredEvent(e));
}

/** Records bytes known to be encodeStoredEvent(e) (the log's stored copy), so they are not made again. */
export function rememberEncoding(e: StoredAuditEvent, bytes: Uint8Array): Uint8Array {
  Object.defineProperty(e, ENCODING, { value: bytes, writable: true });
  return bytes;
}

function writeHead(w: Writer, e: UnplacedEvent): void {
  w.string(1, e.id);
  w.enumValue(2, eventTypeToProto(e.type));
  w.enumValue(3, e.severity);
  const timestamp = toTimestamp(e.timestamp, e.timestampSubMsNanos);
  w.timestamp(4, timestamp.seconds, timestamp.nanos);
  w.string(5, e.userId);
  w.string(6, e.entityType);
  w.string(7, e.entityId);
  w.string(8, e.action);
  w.enumValue(9, resultToProto(e.result));
  w.struct(10, e.metadata);
  w.string(11, e.correlationId);
  w.string(12, e.source);
  w.string(13, e.traceparent);
}

function writePlace(w: Writer, sequence: number, receivedAt: Date, previousHash: Uint8Array, hash: Uint8Array, cursor: string): void {
  if (sequence !== 0) w.tag(14, 0).varint(sequence);
  const received = toTimestamp(receivedAt);
  w.timestamp(15, received.seconds, received.nanos);
  w.bytes(16, previousHash);
  w.bytes(17, hash);
  w.string(18, cursor);
}

function writeTail(w: Writer, commitments: KeyedBytes, salts: KeyedBytes): void {
  w.bytesMap(19, commitments);
  w.bytesMap(20, salts);
}

const LENGTH_DELIMITED = 2;

/** One growing buffer, reused by every encode (the result is copied out). */
class Writer {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  /** A non-negative integer up to 2^53. */
  varint(n: number): this {
    this.room(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
    return this;
  }

  /** int32/int64 as protobuf writes them: a negative number is its 64-bit two's complement, ten bytes. */
  signed(n: number): this {
    if (n >= 0) return this.varint(n);
    let big = BigInt.asUintN(64, BigInt(n));
    this.room(10);
    while (big >= 0x80n) {
      this.buf[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.buf[this.pos++] = Number(big);
    return this;
  }

  enumValue(field: number, value: number): void {
    if (value !== 0) this.tag(field, 0).signed(value);
  }

  string(field: number, value: string): void {
    if (value !== '') this.tag(field, LENGTH_DELIMITED).text(value);
  }

  private text(value: string): void {
    const length = Buffer.byteLength(value);
    this.varint(length).room(length);
    this.pos += this.buf.write(value, this.pos);
  }

  bytes(field: number, value: Uint8Array): void {
    if (value.length === 0) return;
    this.tag(field, LENGTH_DELIMITED).varint(value.length).room(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  timestamp(field: number, seconds: number, nanos: number): void {
    const start = this.open(field);
    if (seconds !== 0) this.tag(1, 0).signed(seconds);
    if (nanos !== 0) this.tag(2, 0).signed(nanos);
    this.close(start);
  }

  /** map<string, bytes>: one entry message per key, in the object's key order. */
  bytesMap(field: number, map: KeyedBytes): void {
    for (const key of Object.keys(map)) {
      const start = this.open(field);
      this.string(1, key);
      this.bytes(2, map[key]!);
      this.close(start);
    }
  }

  /** google.protobuf.Struct: one FieldsEntry per key whose value is not undefined. */
  struct(field: number, object: object): void {
    const start = this.open(field);
    this.fields(object);
    this.close(start);
  }

  private fields(object: object): void {
    const record = object as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const value = record[key];
      // ts-proto copies the fields into a plain object, where `__proto__` is the prototype, not a key.
      if (value === undefined || key === '__proto__') continue;
      const entry = this.open(1);
      this.string(1, key);
      this.value(2, value);
      this.close(entry);
    }
  }

  /** google.protobuf.Value, as ts-proto's Value.wrap classifies a JavaScript value. */
  private value(field: number, value: unknown): void {
    const start = this.open(field);
    if (value === null) this.tag(1, 0).varint(0);
    else if (typeof value === 'number') {
      this.tag(2, 1).room(8);
      this.pos = this.buf.writeDoubleLE(value, this.pos);
    } else if (typeof value === 'string') this.tag(3, LENGTH_DELIMITED).text(value);
    else if (typeof value === 'boolean') this.tag(4, 0).varint(value ? 1 : 0);
    else if (Array.isArray(value)) {
      const list = this.open(6);
      for (const item of value as unknown[]) {
        if (item === undefined) this.tag(1, LENGTH_DELIMITED).varint(0); // a Value with no kind
        else this.value(1, item);
      }
      this.close(list);
    } else if (typeof value === 'object') this.struct(5, value);
    else if (value !== undefined) throw new Error(`Unsupported any value type: ${typeof value}`);
    this.close(start);
  }

  /** Starts a length-delimited field, leaving one byte for its length (most are shorter than 128). */
  private open(field: number): number {
    this.tag(field, LENGTH_DELIMITED).room(1);
    return this.pos++;
  }

  /** Writes the length at `start`, moving the content along when the length needs more than one byte. */
  private close(start: number): void {
    const length = this.pos - start - 1;
    if (length < 0x80) {
      this.buf[start] = length;
      return;
    }
    let extra = 0;
    for (let n = length; n >= 0x80; n = Math.floor(n / 0x80)) extra++;
    this.room(extra);
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos);
    this.pos += extra;
    let at = start;
    let n = length;
    for (; n >= 0x80; n = Math.floor(n / 0x80)) this.buf[at++] = (n % 0x80) | 0x80;
    this.buf[at] = n;
  }
}

const writer = new Writer();
