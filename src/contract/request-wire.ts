import { isUtf8 } from 'node:buffer';

/**
 * A check of a request's raw protobuf bytes against its schema, run before ts-proto decodes them.
 *
 * ts-proto's decoders are lenient where "acknowledged means stored exactly as sent, or refused" needs
 * them strict: they replace invalid UTF-8 with U+FFFD, skip a known field sent with the wrong wire
 * type, truncate an int32/enum to 32 bits, keep only the last occurrence of a singular field, drop a
 * metadata key whose google.protobuf.Value has no kind, lose a `__proto__` key (assigning it to a
 * plain object sets the prototype instead), normalise a Timestamp's out-of-range nanos through Date,
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

/** A field descriptor as @grpc/proto-loader gives it (keepCase: true): only what the check needs. */
export interface FieldDescriptorLike {
  readonly name: string;
  readonly number: number;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

export interface MessageDescriptorLike {
  readonly name: string;
  readonly field: readonly FieldDescriptorLike[];
  readonly nestedType?: readonly MessageDescriptorLike[];
}

type Scalar =
  | 'string' | 'bytes' | 'bool' | 'enum' | 'int32' | 'uint32' | 'sint32' | 'int64' | 'uint64' | 'sint64'
  | 'fixed32' | 'sfixed32' | 'float' | 'fixed64' | 'sfixed64' | 'double';

interface FieldSpec {
  readonly name: string;
  /** ts-proto's property name (lowerCamelCase). */
  readonly property: string;
  readonly repeated: boolean;
  readonly kind: Scalar | 'message';
  /** Index among this message's fields, for per-field occurrence counts. */
  readonly slot: number;
  /** A message field of an item type (see compileSchema). */
  item: boolean;
  message?: MessageSpec;
}

type Special = 'struct' | 'value' | 'list' | 'timestamp';

export interface MessageSpec {
  readonly fullName: string;
  readonly fields: Map<number, FieldSpec>;
  readonly special?: Special;
}

const SPECIAL: Record<string, Special> = {
  'google.protobuf.Struct': 'struct',
  'google.protobuf.Value': 'value',
  'google.protobuf.ListValue': 'list',
  'google.protobuf.Timestamp': 'timestamp',
};

const SCALARS: Record<string, Scalar> = {
  TYPE_STRING: 'string', TYPE_BYTES: 'bytes', TYPE_BOOL: 'bool', TYPE_ENUM: 'enum', TYPE_INT32: 'int32',
  TYPE_UINT32: 'uint32', TYPE_SINT32: 'sint32', TYPE_INT64: 'int64', TYPE_UINT64: 'uint64', TYPE_SINT64: 'sint64',
  TYPE_FIXED32: 'fixed32', TYPE_SFIXED32: 'sfixed32', TYPE_FLOAT: 'float', TYPE_FIXED64: 'fixed64',
  TYPE_SFIXED64: 'sfixed64', TYPE_DOUBLE: 'double',
};

/** The wire type each kind is sent with (repeated numeric fields may also come packed, as 2). */
function wireTypeOf(kind: Scalar | 'message'): number {
  switch (kind) {
    case 'string': case 'bytes': case 'message': return 2;
    case 'fixed32': case 'sfixed32': case 'float': return 5;
    case 'fixed64': case 'sfixed64': case 'double': return 1;
    default: return 0;
  }
}

const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'start-group', 'end-group', '32-bit', '6', '7'];

function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Compiles message descriptors (full name to descriptor, nested types included) into the check's
 * schema. Fields of the checked message itself whose type is one of `itemTypes` are items (AuditEvent
 * in PublishRequest and PublishBatchRequest): a problem inside one does not fail the request but is
 * attached to that item, so a batch rejects only the bad event, after authorization, counted like any
 * invalid event.
 */
export function compileSchema(messages: ReadonlyMap<string, MessageDescriptorLike>, itemTypes: readonly string[] = []): Map<string, MessageSpec> {
  const all = new Map<string, MessageDescriptorLike>();
  const collect = (fullName: string, d: MessageDescriptorLike): void => {
    all.set(fullName, d);
    for (const nested of d.nestedType ?? []) collect(`${fullName}.${nested.name}`, nested);
  };
  for (const [name, d] of messages) collect(name, d);
  /** Protobuf scoping: a relative name is looked up from the innermost enclosing scope outwards. */
  const resolve = (scope: string, typeName: string): string | undefined => {
    if (typeName.startsWith('.')) return all.has(typeName.slice(1)) ? typeName.slice(1) : undefined;
    const parts = scope.split('.');
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), typeName].join('.');
      if (all.has(candidate)) return candidate;
    }
    return undefined;
  };
  const specs = new Map<string, MessageSpec>();
  const links: Array<[FieldSpec, string]> = [];
  for (const [fullName, d] of all) {
    const fields = new Map<number, FieldSpec>();
    d.field.forEach((f, slot) => {
      const kind = f.type === 'TYPE_MESSAGE' ? 'message' : SCALARS[f.type];
      if (!kind) throw new Error(`${fullName}.${f.name}: field type ${f.type} is not supported by the request check`);
      const spec: FieldSpec = { name: f.name, property: camelCase(f.name), repeated: f.label === 'LABEL_REPEATED', kind, slot, item: false };
      if (kind === 'message') {
        const target = resolve(fullName, f.typeName);
        if (!target) throw new Error(`${fullName}.${f.name}: unknown message type ${f.typeName}`);
        spec.item = itemTypes.includes(target);
        links.push([spec, target]);
      }
      fields.set(f.number, spec);
    });
    specs.set(fullName, { fullName, fields, special: SPECIAL[fullName] });
  }
  for (const [field, target] of links) field.message = specs.get(target);
  return specs;
}

/** What is wrong with a request, and where: `path` is relative to the checked message. */
export class WireProblem extends Error {
  private readonly segments: string[] = [];

  constructor(
    message: string,
    /** Malformed protobuf (truncated, bad varint, wrong wire type), as opposed to a refused value. */
    readonly framing = false,
    /** Deep nesting: reported at the field holding the Struct, not the innermost one. */
    readonly depth = false,
  ) {
    super(message);
    this.name = 'WireProblem';
  }

  /** Called while unwinding, innermost segment first. */
  prepend(segment: string): this {
    this.segments.push(segment);
    return this;
  }

  get path(): string {
    let path = '';
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i];
      path += s.startsWith('[') || path === '' ? s : `.${s}`;
    }
    return path;
  }
}

/** A metadata key as a path segment: plain names as they are, others quoted (ASCII only, for trailers). */
export function keySegment(key: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) && key.length <= 64) return key;
  const quoted = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}...` : key);
  return `[${quoted.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}]`;
}

/** An item (see compileSchema) that failed the check: where its bytes are and what is wrong. */
export interface ItemProblem {
  readonly field: FieldSpec;
  /** The item's index among the occurrences of its field. */
  readonly index: number;
  /** Byte offsets: the length prefix starts at lengthStart, the item's bytes span [start, end). */
  readonly lengthStart: number;
  readonly start: number;
  readonly end: number;
  readonly problem: WireProblem;
}

const TWO_POW_32 = 2 ** 32;
const STRUCT: MessageSpec = { fullName: 'google.protobuf.Struct', fields: new Map(), special: 'struct' };
const VALUE: MessageSpec = { fullName: 'google.protobuf.Value', fields: new Map(), special: 'value' };
const LIST: MessageSpec = { fullName: 'google.protobuf.ListValue', fields: new Map(), special: 'list' };
const TRUNCATED_FIELD = 'truncated: a field runs past the end of its message';

/** Set on a problem inside a packed repeated field: the element's index within that run. */
const packedIndex = new WeakMap<WireProblem, number>();

class Walker {
  private readonly buf: Buffer;
  private pos = 0;
  /** The wire type of the tag just read. */
  private wireType = 0;
  readonly items: ItemProblem[] = [];

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Checks the whole buffer as `spec`; throws a WireProblem for the request as a whole. */
  checkRoot(spec: MessageSpec): void {
    this.message(spec, this.buf.length, 1);
  }

  private fail(message: string, framing = false): never {
    throw new WireProblem(message, framing);
  }

  /** A varint: a number when it fits in 49 bits, else a bigint (unsigned 64-bit). */
  private varint(): number | bigint {
    const buf = this.buf;
    let p = this.pos;
    if (p < buf.length && buf[p] < 0x80) { // the common case: one byte
      this.pos = p + 1;
      return buf[p];
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++, scale *= 128) {
      if (p >= buf.length) this.fail('truncated: the message ends inside a number', true);
      const byte = buf[p++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.pos = p;
        return value;
      }
    }
    let big = BigInt(value);
    for (let i = 7; i < 10; i++) {
      if (p >= buf.length) this.fail('truncated: the message ends inside a number', true);
      const byte = buf[p++];
      if (i === 9 && byte > 1) this.fail('malformed number: a varint longer than 64 bits', true);
      big |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) {
        this.pos = p;
        return big;
      }
    }
    return this.fail('malformed number: a varint longer than 10 bytes', true);
  }

  /** Reads a length prefix; returns the end offset of the bytes it announces (within `limit`). */
  private lengthDelimited(limit: number): number {
    const length = this.varint();
    if (typeof length !== 'number' || this.pos + length > limit) {
      this.fail('truncated: a length runs past the end of the message', true);
    }
    return this.pos + length;
  }

  private skip(limit: number): void {
    switch (this.wireType) {
      case 0: this.varint(); return;
      case 1: this.fixed(8, limit); return;
      case 2: this.pos = this.lengthDelimited(limit); return;
      case 5: this.fixed(4, limit); return;
      default: this.fail(`wire type ${WIRE_NAMES[this.wireType]} is not valid here (groups are not supported)`, true);
    }
  }

  /** Skips `size` bytes; returns where they start. */
  private fixed(size: number, limit: number): number {
    if (this.pos + size > limit) this.fail('truncated: the message ends inside a number', true);
    const at = this.pos;
    this.pos += size;
    return at;
  }

  /** Reads a tag: returns the field number and sets wireType. */
  private tag(): number {
    const tag = this.varint();
    if (typeof tag !== 'number' || tag >= TWO_POW_32) this.fail('malformed field tag', true);
    const field = Math.floor(tag / 8);
    if (field === 0) this.fail('field number 0 is not valid', true);
    this.wireType = tag % 8;
    return field;
  }

  /** A string's bytes up to `end`. */
  private string(end: number): void {
    if (!this.utf8(this.pos, end)) this.fail('is not valid UTF-8');
    this.pos = end;
  }

  /** Short ASCII (most ids and names) is checked inline; anything else by Buffer.isUtf8 (SIMD). */
  private utf8(start: number, end: number): boolean {
    const buf = this.buf;
    if (end - start <= 32) {
      let p = start;
      while (p < end && buf[p] < 0x80) p++;
      if (p === end) return true;
    }
    return isUtf8(buf.subarray(start, end));
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

  /** google.protobuf.Timestamp: seconds and nanos checked before ts-proto turns them into a Date. */
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

/** Problems of decoded items (AuditEvents), for the contract mapping to report. */
const itemProblems = new WeakMap<object, WireProblem>();

export function attachProblem(item: object, problem: WireProblem): void {
  itemProblems.set(item, problem);
}

/** The problem the request check found in this decoded item, if any. */
export function wireProblemOf(item: object): WireProblem | undefined {
  return itemProblems.get(item);
}
