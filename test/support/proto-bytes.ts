/**
 * Hand-built protobuf bytes, for requests no well-behaved encoder would produce (truncated, invalid
 * UTF-8, out-of-range numbers, a Value with no kind, `__proto__` keys...).
 */

/** A varint; bigints for values beyond 2^53 and for negative numbers (sign-extended to 64 bits). */
export function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

export function tag(field: number, wireType: number): Buffer {
  return varint(field * 8 + wireType);
}

/** A varint field. */
export function num(field: number, value: number | bigint): Buffer {
  return Buffer.concat([tag(field, 0), varint(value)]);
}

/** A length-delimited field: a string (UTF-8), raw bytes, or nested message parts. */
export function len(field: number, value: string | Uint8Array | Uint8Array[]): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : Array.isArray(value) ? Buffer.concat(value) : Buffer.from(value);
  return Buffer.concat([tag(field, 2), varint(bytes.length), bytes]);
}

/** A 64-bit double field. */
export function double(field: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return Buffer.concat([tag(field, 1), b]);
}

/** google.protobuf.Value kinds. */
export const value = {
  string: (s: string | Uint8Array) => len(3, s),
  number: (n: number) => double(2, n),
  bool: (b: boolean) => num(4, b ? 1 : 0),
  null: () => num(1, 0),
  struct: (entries: Buffer[]) => len(5, entries),
  list: (values: Buffer[][]) => len(6, values.map((v) => len(1, v))),
};

/** One google.protobuf.Struct entry (field 1 of Struct); `parts` are the Value's fields (none: no kind). */
export function entry(key: string | Uint8Array, parts?: Buffer[]): Buffer {
  return len(1, parts === undefined ? [len(1, key)] : [len(1, key), len(2, parts)]);
}

/** AuditEvent field numbers. */
export const EVENT = { id: 1, type: 2, severity: 3, timestamp: 4, userId: 5, entityType: 6, entityId: 7, action: 8, metadata: 10 } as const;

/** A valid AuditEvent's fields (CALL_CREATED, action "create"), plus `extra`. */
export function eventBytes(entityId: string, ...extra: Buffer[]): Buffer {
  return Buffer.concat([num(EVENT.type, 1), len(EVENT.entityType, 'call'), len(EVENT.entityId, entityId), len(EVENT.action, 'create'), ...extra]);
}

/** A Struct nested `depth` levels deep: {"a":{"a":...{"a":1}}}. */
export function deepStruct(depth: number): Buffer[] {
  let inner: Buffer[] = [entry('a', [value.number(1)])];
  for (let i = 1; i < depth; i++) inner = [entry('a', [value.struct(inner)])];
  return inner;
}
