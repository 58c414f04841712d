/** The same bytes as a Buffer, without a copy (Buffers pass through; a thread or ts-proto hands out plain Uint8Arrays). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
