import { isUtf8 } from 'node:buffer';
import { asBuffer } from '../lib/bytes.js';
import { WIRE_NAMES } from './request-schema.js';
import { WireProblem } from './wire-problem.js';

export const TWO_POW_32 = 2 ** 32;

/**
 * Reads protobuf's wire format (varints, tags, lengths, fixed-size numbers, UTF-8) from a buffer,
 * failing with a WireProblem on malformed bytes; the request check (request-wire.ts) walks messages
 * with it. Nothing is decoded into values that the check does not need.
 */
export class WireReader {
  protected readonly buf: Buffer;
  protected pos = 0;
  /** The wire type of the tag just read. */
  protected wireType = 0;

  constructor(bytes: Uint8Array) {
    this.buf = asBuffer(bytes);
  }

  protected fail(message: string, framing = false): never {
    throw new WireProblem(message, framing);
  }

  /** A varint: a number when it fits in 49 bits, else a bigint (unsigned 64-bit). */
  protected varint(): number | bigint {
    const buf = this.buf;
    let p = this.pos;
    const first = buf[p];
    if (first !== undefined && first < 0x80) { // the common case: one byte
      this.pos = p + 1;
      return first;
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++, scale *= 128) {
      const byte = buf[p++];
      if (byte === undefined) this.fail('truncated: the message ends inside a number', true);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.pos = p;
        return value;
      }
    }
    let big = BigInt(value);
    for (let i = 7; i < 10; i++) {
      const byte = buf[p++];
      if (byte === undefined) this.fail('truncated: the message ends inside a number', true);
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
  protected lengthDelimited(limit: number): number {
    const length = this.varint();
    if (typeof length !== 'number' || this.pos + length > limit) {
      this.fail('truncated: a length runs past the end of the message', true);
    }
    return this.pos + length;
  }

  protected skip(limit: number): void {
    switch (this.wireType) {
      case 0: this.varint(); return;
      case 1: this.fixed(8, limit); return;
      case 2: this.pos = this.lengthDelimited(limit); return;
      case 5: this.fixed(4, limit); return;
      default: this.fail(`wire type ${WIRE_NAMES[this.wireType]} is not valid here (groups are not supported)`, true);
    }
  }

  /** Skips `size` bytes; returns where they start. */
  protected fixed(size: number, limit: number): number {
    if (this.pos + size > limit) this.fail('truncated: the message ends inside a number', true);
    const at = this.pos;
    this.pos += size;
    return at;
  }

  /** Reads a tag: returns the field number and sets wireType. */
  protected tag(): number {
    const tag = this.varint();
    if (typeof tag !== 'number' || tag >= TWO_POW_32) this.fail('malformed field tag', true);
    const field = Math.floor(tag / 8);
    if (field === 0) this.fail('field number 0 is not valid', true);
    this.wireType = tag % 8;
    return field;
  }

  /** A string's bytes up to `end`. */
  protected string(end: number): void {
    if (!this.utf8(this.pos, end)) this.fail('is not valid UTF-8');
    this.pos = end;
  }

  /** Short ASCII (most ids and names) is checked inline; anything else by Buffer.isUtf8 (SIMD). */
  protected utf8(start: number, end: number): boolean {
    const buf = this.buf;
    if (end - start <= 32) {
      let p = start;
      while (p < end && buf[p]! < 0x80) p++; // p < end <= buf.length
      if (p === end) return true;
    }
    return isUtf8(buf.subarray(start, end));
  }

}
