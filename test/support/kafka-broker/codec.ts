/**
 * Primitive Kafka wire types: big-endian fixed-width integers, int16-length
 * strings, int32-length bytes and arrays, and the zig-zag varints used inside
 * record batches.
 */

/** Thrown when a request cannot be decoded; the connection is then closed. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export class Reader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get offset(): number {
    return this.pos;
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new ProtocolError(`need ${n} bytes at ${this.pos}, have ${this.remaining()}`);
    }
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** An int64 that fits a JS number (offsets, timestamps). */
  int64n(): number {
    return Number(this.int64());
  }

  raw(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    return this.raw(len).toString('utf8');
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new ProtocolError('unexpected null string');
    return s;
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    return this.raw(len);
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }

  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0 || len > this.remaining()) throw new ProtocolError(`bad array length ${len}`);
    const out: T[] = [];
    for (let i = 0; i < len; i++) out.push(item(this));
    return out;
  }

  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }

  /** Unsigned LEB128 up to 64 bits. */
  private uvarlong(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.int8() & 0xff;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new ProtocolError('varint too long');
  }

  varlong(): bigint {
    const u = this.uvarlong();
    return (u >> 1n) ^ -(u & 1n);
  }

  varint(): number {
    const v = this.varlong();
    if (v > 0x7fffffffn || v < -0x80000000n) throw new ProtocolError('varint out of int32 range');
    return Number(v);
  }

  varBytes(): Buffer | null {
    const len = this.varint();
    if (len < 0) return null;
    return Buffer.from(this.raw(len));
  }

  varString(): string {
    const b = this.varBytes();
    if (b === null) throw new ProtocolError('unexpected null varint string');
    return b.toString('utf8');
  }
}

export class Writer {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  raw(buf: Buffer): this {
    this.chunks.push(buf);
    this.size += buf.length;
    return this;
  }

  private fixed(n: number, fill: (b: Buffer) => void): this {
    const b = Buffer.allocUnsafe(n);
    fill(b);
    return this.raw(b);
  }

  int8(v: number): this {
    return this.fixed(1, (b) => b.writeInt8(v));
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    return this.fixed(2, (b) => b.writeInt16BE(v));
  }

  int32(v: number): this {
    return this.fixed(4, (b) => b.writeInt32BE(v));
  }

  int64(v: number | bigint): this {
    return this.fixed(8, (b) => b.writeBigInt64BE(BigInt(v)));
  }

  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).raw(b);
  }

  string(s: string): this {
    return this.nullableString(s);
  }

  nullableBytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    return this.int32(b.length).raw(b);
  }

  bytes(b: Buffer): this {
    return this.nullableBytes(b);
  }

  array<T>(items: readonly T[], write: (w: Writer, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  int32Array(items: readonly number[]): this {
    return this.array(items, (w, v) => w.int32(v));
  }

  varlong(v: number | bigint): this {
    const n = BigInt.asUintN(64, (BigInt(v) << 1n) ^ (BigInt(v) >> 63n));
    const out: number[] = [];
    let u = n;
    while (u >= 0x80n) {
      out.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    out.push(Number(u));
    return this.raw(Buffer.from(out));
  }

  varint(v: number): this {
    return this.varlong(v);
  }

  varBytes(b: Buffer | null): this {
    if (b === null) return this.varint(-1);
    return this.varint(b.length).raw(b);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
