/**
 * Record batch v2 (magic 2) decoding, as sent by producers in Produce
 * requests. The batch bytes are kept verbatim (compressed or not) for Fetch;
 * only the base offset (outside the CRC) is rewritten when appended.
 *
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8
 *   crc uint32 (CRC-32C of everything after it) | attributes int16
 *   lastOffsetDelta int32 | firstTimestamp int64 | maxTimestamp int64
 *   producerId int64 | producerEpoch int16 | baseSequence int32 | records [Record]
 *
 *   Record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
 *           key varbytes | value varbytes | headers [key varstring, value varbytes]
 */
import { promisify } from 'node:util';
import { unzip } from 'node:zlib';
import { ProtocolError, Reader } from './codec.js';
import { crc32c } from './crc32c.js';
import { Compression, ErrorCode } from './protocol.js';

const unzipAsync = promisify(unzip);

/** Bytes before the first record (header fields + record count). */
export const BATCH_OVERHEAD = 61;
const CRC_START = 21;
const MAGIC_OFFSET = 16;

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface DecodedRecord {
  readonly offsetDelta: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface DecodedBatch {
  readonly partitionLeaderEpoch: number;
  readonly attributes: number;
  readonly compression: number;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly records: readonly DecodedRecord[];
  /** The whole batch exactly as received. */
  readonly bytes: Buffer;
}

/** A batch that must be rejected with the given Kafka error code. */
export class RecordBatchError extends Error {
  override readonly name = 'RecordBatchError';
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Decodes every batch of a Produce request's record set. */
export async function decodeRecordBatches(recordSet: Buffer): Promise<DecodedBatch[]> {
  const batches: DecodedBatch[] = [];
  let pos = 0;
  while (pos < recordSet.length) {
    if (recordSet.length - pos < BATCH_OVERHEAD) {
      throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'truncated record batch header');
    }
    const batchLength = recordSet.readInt32BE(pos + 8);
    const end = pos + 12 + batchLength;
    if (batchLength < BATCH_OVERHEAD - 12 || end > recordSet.length) {
      throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'truncated record batch');
    }
    batches.push(await decodeBatch(recordSet.subarray(pos, end)));
    pos = end;
  }
  return batches;
}

async function decodeBatch(bytes: Buffer): Promise<DecodedBatch> {
  const magic = bytes.readInt8(MAGIC_OFFSET);
  if (magic !== 2) {
    throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, `unsupported magic ${magic}`);
  }
  const r = new Reader(bytes);
  r.int64(); // base offset: assigned by the broker
  r.int32(); // batch length
  const partitionLeaderEpoch = r.int32();
  r.int8(); // magic
  const crc = r.uint32();
  if (crc32c(bytes.subarray(CRC_START)) !== crc) {
    throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'record batch CRC mismatch');
  }
  const attributes = r.int16();
  const compression = attributes & 0x07;
  const lastOffsetDelta = r.int32();
  const firstTimestamp = r.int64n();
  const maxTimestamp = r.int64n();
  const producerId = r.int64();
  const producerEpoch = r.int16();
  const baseSequence = r.int32();
  const count = r.int32();
  const body = r.raw(r.remaining());

  let recordBytes: Buffer;
  if (compression === Compression.None) {
    recordBytes = body;
  } else if (compression === Compression.GZIP) {
    try {
      recordBytes = await unzipAsync(body);
    } catch {
      throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'cannot gunzip record batch');
    }
  } else {
    throw new RecordBatchError(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `compression codec ${compression} is not supported by the test broker`,
    );
  }

  const records = decodeRecords(recordBytes, count, firstTimestamp);
  if (count !== lastOffsetDelta + 1) {
    throw new RecordBatchError(ErrorCode.INVALID_RECORD, `count ${count} != lastOffsetDelta + 1`);
  }
  return {
    partitionLeaderEpoch,
    attributes,
    compression,
    isTransactional: (attributes & 0x10) !== 0,
    isControl: (attributes & 0x20) !== 0,
    lastOffsetDelta,
    firstTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    baseSequence,
    records,
    bytes,
  };
}

function decodeRecords(buf: Buffer, count: number, firstTimestamp: number): DecodedRecord[] {
  const r = new Reader(buf);
  const records: DecodedRecord[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const length = r.varint();
      const start = r.offset;
      r.int8(); // record attributes (unused)
      const timestampDelta = r.varlong();
      const offsetDelta = r.varint();
      if (offsetDelta !== i) {
        throw new RecordBatchError(ErrorCode.INVALID_RECORD, `record ${i} has offset delta ${offsetDelta}`);
      }
      const key = r.varBytes();
      const value = r.varBytes();
      const headerCount = r.varint();
      const headers: RecordHeader[] = [];
      for (let h = 0; h < headerCount; h++) headers.push({ key: r.varString(), value: r.varBytes() });
      if (r.offset - start !== length) {
        throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, `record ${i} length mismatch`);
      }
      records.push({ offsetDelta, timestamp: firstTimestamp + Number(timestampDelta), key, value, headers });
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, err.message);
    throw err;
  }
  if (r.remaining() !== 0) {
    throw new RecordBatchError(ErrorCode.CORRUPT_MESSAGE, 'trailing bytes after the last record');
  }
  return records;
}

/**
 * The batch as stored in the log: a copy with the broker-assigned base offset
 * and partition leader epoch (both outside the CRC, so it stays valid).
 */
export function rebaseBatch(bytes: Buffer, baseOffset: number, leaderEpoch: number): Buffer {
  const out = Buffer.from(bytes);
  out.writeBigInt64BE(BigInt(baseOffset), 0);
  out.writeInt32BE(leaderEpoch, 12);
  return out;
}
