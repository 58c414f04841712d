import type { Severity } from '../domain/catalog.js';
import type { KeyedBytes, Metadata, StoredAuditEvent } from '../domain/event.js';
import { asBuffer } from '../lib/bytes.js';
import { eventTypeFromProto, resultFromProto } from './enums.js';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const MS_PER_SECOND = 1000;
const NANOS_PER_MS = 1_000_000;

/**
 * The stored event back from its audit.v1.AuditEvent bytes (the inverse of encodeStoredEvent, for the
 * bytes the log stores): the log keeps each event as these bytes and reads every event from them.
 * Strict: an unknown field, a wire type a field does not have, an unknown enum number, a cursor that
 * is not the sequence or bytes that end early throw, so stored bytes that were tampered with into
 * something encodeStoredEvent does not make fail verification instead of decoding to a guess.
 */
export function decodeStoredEvent(bytes: Uint8Array): StoredAuditEvent {
  const r = new Reader(asBuffer(bytes));
  let id = '', type = 0, severity = 0, userId = '', entityType = '', entityId = '', action = '', result = 0;
  let correlationId = '', source = '', traceparent = '', sequence = 0, cursor = '';
  let timestamp: readonly [number, number] = [0, 0];
  let receivedAt: readonly [number, number] = [0, 0];
  let metadata: Metadata = {};
  let previousHash: Buffer = EMPTY;
  let hash: Buffer = EMPTY;
  const metadataCommitments = nullRecord<Uint8Array>();
  const metadataSalts = nullRecord<Uint8Array>();
  while (r.more()) {
    const field = r.tag();
    switch (field) {
      case 1: id = r.string(); break;
      case 2: type = r.int(); break;
      case 3: severity = r.int(); break;
      case 4: timestamp = r.within(() => r.timestamp()); break;
      case 5: userId = r.string(); break;
      case 6: entityType = r.string(); break;
      case 7: entityId = r.string(); break;
      case 8: action = r.string(); break;
      case 9: result = r.int(); break;
      case 10: metadata = r.within(() => r.struct()); break;
      case 11: correlationId = r.string(); break;
      case 12: source = r.string(); break;
      case 13: traceparent = r.string(); break;
      case 14: sequence = r.int(); break;
      case 15: receivedAt = r.within(() => r.timestamp()); break;
      case 16: previousHash = r.bytes(); break;
      case 17: hash = r.bytes(); break;
      case 18: cursor = r.string(); break;
      case 19: r.within(() => r.bytesEntry(metadataCommitments)); break;
      case 20: r.within(() => r.bytesEntry(metadataSalts)); break;
      default: throw new Error(`stored event: unknown field ${field}`);
    }
  }
  // Sent to subscribers as it is stored, and not in the hash: so it must be what the sequence says.
  if (cursor !== String(sequence)) throw new Error(`stored event: cursor ${JSON.stringify(cursor.slice(0, 40))} is not its sequence ${sequence}`);
  const [seconds, nanos] = timestamp;
  const subMsNanos = nanos % NANOS_PER_MS;
  return {
    id,
    type: known(eventTypeFromProto(type), 'event type', type),
    severity: severity as Severity,
    timestamp: new Date(seconds * MS_PER_SECOND + (nanos - subMsNanos) / NANOS_PER_MS),
    timestampSubMsNanos: subMsNanos,
    userId, entityType, entityId, action,
    result: known(resultFromProto(result), 'result', result),
    metadata, correlationId, source, traceparent, sequence,
    receivedAt: new Date(receivedAt[0] * MS_PER_SECOND + receivedAt[1] / NANOS_PER_MS),
    previousHash, hash, metadataSalts, metadataCommitments,
  };
}

const EMPTY: Buffer = Buffer.alloc(0);

function known<T>(value: T | undefined, what: string, n: number): T {
  if (value === undefined) throw new Error(`stored event: unknown ${what} ${n}`);
  return value;
}

function nullRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Protobuf's wire format, only as far as AuditEvent needs it. */
class Reader {
  private pos = 0;
  private end: number;
  private wireType = 0;

  constructor(private readonly buf: Buffer) {
    this.end = buf.length;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  /** The next field's number (its wire type is kept for the reader of its value). */
  tag(): number {
    const tag = this.varint();
    this.wireType = tag % 8;
    return Math.floor(tag / 8);
  }

  private expect(wireType: number): void {
    if (this.wireType !== wireType) throw new Error(`stored event: wire type ${this.wireType} where ${wireType} belongs`);
  }

  private varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++, scale *= 128) {
      if (this.pos >= this.end) throw new Error('stored event: truncated');
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
    throw new Error('stored event: a number longer than ten bytes');
  }

  /** int32/int64 as a number: a negative one is ten bytes of two's complement, read exactly as a bigint. */
  int(): number {
    this.expect(VARINT);
    const start = this.pos;
    const value = this.varint();
    if (this.pos - start <= 7) return value; // below 2^49: exact as it was read
    let big = 0n;
    for (let p = this.pos - 1; p >= start; p--) big = (big << 7n) | BigInt(this.buf[p]! & 0x7f);
    return Number(BigInt.asIntN(64, big));
  }

  private length(): number {
    this.expect(LENGTH_DELIMITED);
    const n = this.varint();
    if (this.pos + n > this.end) throw new Error('stored event: truncated');
    return n;
  }

  string(): string {
    const n = this.length();
    this.pos += n;
    return this.buf.toString('utf8', this.pos - n, this.pos);
  }

  bytes(): Buffer {
    const n = this.length();
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }

  /** Reads a nested message with `read`, which must take exactly its bytes. */
  within<T>(read: () => T): T {
    const n = this.length();
    const outer = this.end;
    this.end = this.pos + n;
    const value = read();
    if (this.pos !== this.end) throw new Error('stored event: a nested message was not read whole');
    this.end = outer;
    return value;
  }

  /** google.protobuf.Timestamp as [seconds, nanos]. */
  timestamp(): [number, number] {
    let seconds = 0;
    let nanos = 0;
    while (this.more()) {
      const field = this.tag();
      if (field === 1) seconds = this.int();
      else if (field === 2) nanos = this.int();
      else throw new Error(`stored event: unknown timestamp field ${field}`);
    }
    return [seconds, nanos];
  }

  /** One map<string, bytes> entry, into `into`. */
  bytesEntry(into: KeyedBytes): void {
    let key = '';
    let value: Uint8Array = EMPTY;
    while (this.more()) {
      const field = this.tag();
      if (field === 1) key = this.string();
      else if (field === 2) value = this.bytes();
      else throw new Error(`stored event: unknown map entry field ${field}`);
    }
    (into as Record<string, Uint8Array>)[key] = value;
  }

  /** google.protobuf.Struct as a plain object, as JSON.parse makes one. */
  struct(): Metadata {
    const out: Record<string, unknown> = {};
    while (this.more()) {
      if (this.tag() !== 1) throw new Error('stored event: unknown struct field');
      const [key, value] = this.within(() => this.structEntry());
      // Never stored (ingest refuses it); on a plain object it would set the prototype.
      if (key === '__proto__') throw new Error('stored event: a __proto__ key');
      out[key] = value;
    }
    return out;
  }

  private structEntry(): [string, unknown] {
    let key = '';
    let value: unknown = null;
    while (this.more()) {
      const field = this.tag();
      if (field === 1) key = this.string();
      else if (field === 2) value = this.within(() => this.value());
      else throw new Error(`stored event: unknown struct entry field ${field}`);
    }
    return [key, value];
  }

  /** google.protobuf.Value; one with no kind (never stored: metadata is JSON) reads as null. */
  private value(): unknown {
    let value: unknown = null;
    while (this.more()) {
      const field = this.tag();
      if (field === 1) value = (this.int(), null);
      else if (field === 2) {
        this.expect(FIXED64);
        if (this.pos + 8 > this.end) throw new Error('stored event: truncated');
        value = this.buf.readDoubleLE(this.pos);
        this.pos += 8;
      } else if (field === 3) value = this.string();
      else if (field === 4) value = this.int() !== 0;
      else if (field === 5) value = this.within(() => this.struct());
      else if (field === 6) value = this.within(() => this.list());
      else throw new Error(`stored event: unknown value field ${field}`);
    }
    return value;
  }

  private list(): unknown[] {
    const out: unknown[] = [];
    while (this.more()) {
      if (this.tag() !== 1) throw new Error('stored event: unknown list field');
      out.push(this.within(() => this.value()));
    }
    return out;
  }
}
