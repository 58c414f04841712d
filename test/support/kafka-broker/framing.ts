/**
 * TCP framing: every Kafka request and response is an int32 size followed by
 * that many bytes. Requests carry header v1 (api key, api version,
 * correlation id, client id); responses carry header v0 (correlation id).
 * (kafkajs 2.x uses no flexible versions, so no tagged-field headers.)
 */
import { ProtocolError, Reader } from './codec.js';

/** Largest request accepted (Kafka's socket.request.max.bytes default). */
export const MAX_REQUEST_BYTES = 100 * 1024 * 1024;

/** Splits a byte stream into size-prefixed frames. */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  /** Adds received bytes and returns every frame completed by them. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (size < 0 || size > MAX_REQUEST_BYTES) throw new ProtocolError(`invalid frame size ${size}`);
      if (this.pending.length < 4 + size) break;
      frames.push(this.pending.subarray(4, 4 + size));
      this.pending = this.pending.subarray(4 + size);
    }
    return frames;
  }
}

export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

/** Reads the request header; the returned reader is positioned at the request body. */
export function readRequest(frame: Buffer): { header: RequestHeader; body: Reader } {
  const body = new Reader(frame);
  const header: RequestHeader = {
    apiKey: body.int16(),
    apiVersion: body.int16(),
    correlationId: body.int32(),
    clientId: body.nullableString(),
  };
  return { header, body };
}

/** Size prefix + response header v0 + body. */
export function frameResponse(correlationId: number, body: Buffer): Buffer {
  const head = Buffer.allocUnsafe(8);
  head.writeInt32BE(body.length + 4, 0);
  head.writeInt32BE(correlationId, 4);
  return Buffer.concat([head, body]);
}
