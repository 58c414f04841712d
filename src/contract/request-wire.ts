import { type FieldSpec, type MessageSpec, type Scalar, WIRE_NAMES, wireTypeOf } from './request-schema.js';
import { type ItemProblem, keySegment, WireProblem } from './wire-problem.js';
import { TWO_POW_32, WireReader } from './wire-reader.js';

/**
 * A check of a request's raw protobuf bytes against its schema, run before ts-proto decodes them.
 *
 * ts-proto's decoders are lenient where "acknowledged means stored exactly as sent, or refused" needs
 * them strict: they replace invalid UTF-8 with U+FFFD, skip a known field sent with the wrong wire
 * type, truncate an int32/enum to 32 bits, keep only the last occurrence of a singular field, drop a
 * metadata key whose google.protobuf.Value has no kind, lose a `__proto__` key (assigning it to a
 * plain object sets the prototype instead), pass a Timestamp's out-of-range nanos through unchecked,
 * and throw (which grpc-js answers with INTERNAL) on truncated bytes, deep nesting and 64-bit numbers
 * beyond 2^53. One pass over the bytes finds all of that and names the field; valid bytes are then
 * decoded by ts-proto as before. The cost is one walk of the message: no allocation per field on the
 * happy path (paths are built only while an error unwinds), and ASCII strings are checked inline.
 */

/** The most nested protobuf messages a request may have; ts-proto's decoders refuse deeper ones too. */
export const MAX_MESSAGE_DEPTH = 100;

/** google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;
const MAX_NANOS = 999_999_999;

const STRUCT: MessageSpec = { fullName: 'google.protobuf.Struct', fields: new Map(), special: 'struct' };
const VALUE: MessageSpec = { fullName: 'google.protobuf.Value', fields: new Map(), special: 'value' };
const LIST: MessageSpec = { fullName: 'google.protobuf.ListValue', fields: new Map(), special: 'list' };
const TRUNCATED_FIELD = 'truncated: a field runs past the end of its message';

/** Set on a problem inside a packed repeated field: the element's index within that run. */
const packedIndex = new WeakMap<WireProblem, number>();

class Walker extends WireReader {
  readonly items: ItemProblem[] = [];

  /** Checks the whole buffer as `spec`; throws a WireProblem for the request as a whole. */
  checkRoot(spec: MessageSpec): void {
    this.message(spec, this.buf.length, 1);
  }
  private message(spec: MessageSpec, end: number, depth: number): void {
    if (depth > MAX_MESSAGE_DEPTH) throw new WireProblem(`nests deeper than ${MAX_MESSAGE_DEPTH} protobuf messages`, false, true);
    switch (spec.special) {
      case 'struct': return this.struct(end, depth);
      case 'value': return this.value(end, depth);
      case 'list': return this.list(end, depth);
      case 'timestamp': return this.timestamp(end);
    }
    // Occurrences per field (repeated ones: elements so far, for the index in a path).
    const counts: number[] = [];
    while (this.pos < end) {
      const number = this.tag();
      const field = spec.fields.get(number);
      if (!field) {
        this.skip(end); // an unknown field (e.g. from a newer client): ignored, as protobuf says
        continue;
      }
      const seen = counts[field.slot] ?? 0;
      try {
        if (!field.repeated && seen > 0) this.fail('appears more than once');
        counts[field.slot] = seen + this.field(field, end, depth, seen);
      } catch (err) {
        if (err instanceof WireProblem) {
          if (field.repeated) {
            err.prepend(`[${seen + (packedIndex.get(err) ?? 0)}]`);
            packedIndex.delete(err);
          }
          err.prepend(field.name);
        }
        throw err;
      }
    }
    if (this.pos !== end) this.fail(TRUNCATED_FIELD, true);
  }

  /** Checks one occurrence of a known field; returns how many elements it held (packed fields hold several). */
  private field(field: FieldSpec, end: number, depth: number, index: number): number {
    const expected = wireTypeOf(field.kind);
    if (this.wireType === 2 && expected !== 2 && field.repeated) return this.packed(field.kind as Scalar, end);
    if (this.wireType !== expected) {
      this.fail(`sent as wire type ${WIRE_NAMES[this.wireType]}, expected ${WIRE_NAMES[expected]} for a ${field.kind} field`, true);
    }
    if (field.kind !== 'message') {
      this.scalar(field.kind, end);
      return 1;
    }
    const lengthStart = this.pos;
    const fieldEnd = this.lengthDelimited(end);
    if (!field.item || depth !== 1) {
      this.message(field.message!, fieldEnd, depth + 1);
      return 1;
    }
    const start = this.pos;
    try {
      this.message(field.message!, fieldEnd, depth + 1);
    } catch (err) {
      if (!(err instanceof WireProblem)) throw err;
      this.items.push({ field, index, lengthStart, start, end: fieldEnd, problem: err });
      this.pos = fieldEnd;
    }
    return 1;
  }

  private packed(kind: Scalar, end: number): number {
    const packedEnd = this.lengthDelimited(end);
    let n = 0;
    try {
      while (this.pos < packedEnd) {
        this.scalar(kind, packedEnd);
        n++;
      }
    } catch (err) {
      if (err instanceof WireProblem) packedIndex.set(err, n);
      throw err;
    }
    return n;
  }

  private scalar(kind: Scalar, end: number): void {
    switch (kind) {
      case 'string': this.string(this.lengthDelimited(end)); return;
      case 'bytes': this.pos = this.lengthDelimited(end); return;
      case 'bool': this.varint(); return;
      case 'enum': case 'int32': this.int32(this.varint()); return;
      case 'uint32': case 'sint32': {
        const v = this.varint();
        if (typeof v !== 'number' || v >= TWO_POW_32) this.fail(`${String(v)} is out of range for a 32-bit field`);
        return;
      }
      case 'int64': this.safe(BigInt.asIntN(64, BigInt(this.varint()))); return;
      case 'uint64': {
        const v = this.varint();
        if (typeof v !== 'number') this.safe(v);
        return;
      }
      case 'sint64': {
        const u = BigInt(this.varint());
        this.safe((u >> 1n) ^ -(u & 1n));
        return;
      }
      case 'fixed64': this.safe(this.buf.readBigUInt64LE(this.fixed(8, end))); return;
      case 'sfixed64': this.safe(this.buf.readBigInt64LE(this.fixed(8, end))); return;
      case 'double': this.fixed(8, end); return;
      case 'fixed32': case 'sfixed32': case 'float': this.fixed(4, end); return;
    }
  }

  /** int32 and enums are sent sign-extended to 64 bits; ts-proto would silently keep the low 32. */
  private int32(v: number | bigint): void {
    const s = typeof v === 'number' ? v : BigInt.asIntN(64, v);
    if (s > 0x7fffffff || s < -0x80000000) this.fail(`${String(s)} is out of range for a 32-bit field`);
  }

  /** 64-bit numbers become JavaScript numbers: beyond 2^53 they would lose digits (ts-proto throws). */
  private safe(v: bigint): void {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.fail(`${v} is beyond ${Number.MAX_SAFE_INTEGER}, the largest supported magnitude`);
    }
  }

  /** google.protobuf.Timestamp: seconds and nanos checked against the range a Timestamp may hold. */
  private timestamp(end: number): void {
    let seconds: number | bigint | undefined;
    let nanos: number | bigint | undefined;
    while (this.pos < end) {
      const number = this.tag();
      if (number !== 1 && number !== 2) {
        this.skip(end);
        continue;
      }
      const name = number === 1 ? 'seconds' : 'nanos';
      if (this.wireType !== 0) this.fail(`${name} sent as wire type ${WIRE_NAMES[this.wireType]}, expected varint`, true);
      if ((number === 1 ? seconds : nanos) !== undefined) this.fail(`${name} appears more than once`);
      const raw = this.varint();
      const v = typeof raw === 'number' ? raw : BigInt.asIntN(64, raw);
      if (number === 1) seconds = v;
      else nanos = v;
    }
    if (this.pos !== end) this.fail(TRUNCATED_FIELD, true);
    if (seconds !== undefined && (seconds < MIN_SECONDS || seconds > MAX_SECONDS)) {
      this.fail(`seconds ${seconds} is outside the range of a timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)`);
    }
    if (nanos !== undefined && (nanos < 0 || nanos > MAX_NANOS)) this.fail(`nanos ${nanos} is outside 0..999,999,999`);
  }

  /**
   * google.protobuf.Struct: map<string, Value>. Refused: a key that is not valid UTF-8, a key sent
   * twice (a map keeps only the last: the first would be dropped silently), and `__proto__`. Refusing
   * `__proto__` is the simple and safe choice: ts-proto's decoders assign keys to plain objects, where
   * `__proto__` sets the prototype instead of adding a key, and every later JavaScript consumer
   * (redaction, CEL, JSON) would have to handle it specially. Other Object.prototype names
   * (`constructor`, `toString`, `hasOwnProperty`...) are ordinary own keys and round-trip.
   */
  private struct(end: number, depth: number): void {
    let keys: Set<string> | undefined;
    while (this.pos < end) {
      const number = this.tag();
      if (number !== 1) {
        this.skip(end);
        continue;
      }
      if (this.wireType !== 2) this.fail(`fields sent as wire type ${WIRE_NAMES[this.wireType]}, expected length-delimited`, true);
      const entryEnd = this.lengthDelimited(end);
      const key = this.entry(entryEnd, depth + 1);
      keys ??= new Set();
      if (keys.has(key)) throw new WireProblem('the key appears more than once').prepend(keySegment(key));
      keys.add(key);
    }
    if (this.pos !== end) this.fail(TRUNCATED_FIELD, true);
  }

  /** One Struct entry (a message of its own for ts-proto, so one level deeper): returns its key. */
  private entry(end: number, depth: number): string {
    if (depth > MAX_MESSAGE_DEPTH) throw new WireProblem(`nests deeper than ${MAX_MESSAGE_DEPTH} protobuf messages`, false, true);
    let key: string | undefined;
    let valueStart = -1;
    let valueEnd = -1;
    while (this.pos < end) {
      const number = this.tag();
      if (number !== 1 && number !== 2) {
        this.skip(end);
        continue;
      }
      if (this.wireType !== 2) this.fail(`a key or value sent as wire type ${WIRE_NAMES[this.wireType]}, expected length-delimited`, true);
      const fieldEnd = this.lengthDelimited(end);
      if (number === 1) {
        if (key !== undefined) this.fail('an entry has its key more than once');
        if (!this.utf8(this.pos, fieldEnd)) this.fail('a key is not valid UTF-8');
        key = this.buf.toString('utf8', this.pos, fieldEnd);
      } else {
        if (valueStart >= 0) this.fail('an entry has its value more than once');
        valueStart = this.pos;
        valueEnd = fieldEnd;
      }
      this.pos = fieldEnd;
    }
    if (this.pos !== end) this.fail(TRUNCATED_FIELD, true);
    key ??= '';
    // See struct(): refused rather than lost.
    if (key === '__proto__') throw new WireProblem('this key is not accepted').prepend(keySegment(key));
    if (valueStart < 0) throw new WireProblem('value has no kind (the entry has no value)').prepend(keySegment(key));
    this.pos = valueStart;
    try {
      this.message(VALUE, valueEnd, depth + 1);
    } catch (err) {
      if (err instanceof WireProblem && !err.depth) err.prepend(keySegment(key));
      throw err;
    }
    this.pos = end;
    return key;
  }

  /** google.protobuf.Value: exactly one kind, and numbers JSON can hold (no NaN or Infinity). */
  private value(end: number, depth: number): void {
    let kinds = 0;
    while (this.pos < end) {
      const number = this.tag();
      if (number > 6) {
        this.skip(end);
        continue;
      }
      kinds++;
      const expected = number === 2 ? 1 : number === 1 || number === 4 ? 0 : 2;
      if (this.wireType !== expected) this.fail(`sent as wire type ${WIRE_NAMES[this.wireType]}, expected ${WIRE_NAMES[expected]}`, true);
      switch (number) {
        case 1: this.int32(this.varint()); break; // null_value: any number reads as null
        case 2: {
          const n = this.buf.readDoubleLE(this.fixed(8, end));
          if (!Number.isFinite(n)) this.fail(`${n} is not a number JSON can hold`);
          break;
        }
        case 3: this.string(this.lengthDelimited(end)); break;
        case 4: this.varint(); break;
        default: this.message(number === 5 ? STRUCT : LIST, this.lengthDelimited(end), depth + 1);
      }
    }
    if (this.pos !== end) this.fail(TRUNCATED_FIELD, true);
    if (kinds === 0) this.fail('value has no kind');
    if (kinds > 1) this.fail('value has more than one kind');
  }

  private list(end: number, depth: number): void {
    let index = 0;
    while (this.pos < end) {
      const number = this.tag();
      if (number !== 1) {
        this.skip(end);
        continue;
      }
      try {
        if (this.wireType !== 2) this.fail(`sent as wire type ${WIRE_NAMES[this.wireType]}, expected length-delimited`, true);
        this.message(VALUE, this.lengthDelimited(end), depth + 1);
      } catch (err) {
        if (err instanceof WireProblem && !err.depth) err.prepend(`[${index}]`);
        throw err;
      }
      index++;
    }
    if (this.pos !== end) this.fail(TRUNCATED_FIELD, true);
  }
}

/**
 * Checks `bytes` as a message of `spec`. Throws a WireProblem about the request as a whole; returns
 * the problems of items (see compileSchema), which the caller attaches to the decoded items.
 */
export function checkRequestBytes(bytes: Uint8Array, spec: MessageSpec): ItemProblem[] {
  const walker = new Walker(bytes);
  walker.checkRoot(spec);
  return walker.items;
}

/**
 * The bytes with each bad item replaced by an empty one (same field, length 0), so ts-proto decodes
 * the rest as sent and the bad items as empty placeholders at the same positions.
 */
export function withEmptyItems(bytes: Uint8Array, items: readonly ItemProblem[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const item of items) {
    parts.push(bytes.subarray(at, item.lengthStart), Uint8Array.of(0));
    at = item.end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts);
}
