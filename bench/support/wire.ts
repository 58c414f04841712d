/**
 * A minimal reader of `SubscribeResponse` bytes for the subscriber workers. It counts the events of a
 * batch and reads the two fields the bench needs (correlation_id, which carries the publisher's send
 * stamp, and sequence) without building objects for the rest, so that the subscriber processes spend
 * as little CPU as possible and the server stays the thing measured. The same reader serves the
 * auditstream server and the bare baseline, so both are measured with identical clients.
 */

export type ResponseKind = 'started' | 'events' | 'heartbeat' | 'gap' | 'other';

export interface EventVisitor {
  /** Called once per event of an `events` batch with the correlation id ('' when absent) and sequence (0 when absent). */
  (correlationId: string, sequence: number): void;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let shift = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * shift;
      if (byte < 0x80) return result;
      shift *= 128;
    }
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT: this.varint(); break;
      case WIRE_FIXED64: this.pos += 8; break;
      case WIRE_LEN: {
        const len = this.varint(); // read before adding: `pos += varint()` would use the old pos
        this.pos += len;
        break;
      }
      case WIRE_FIXED32: this.pos += 4; break;
      default: throw new Error(`unsupported wire type ${wireType}`);
    }
  }
}

const decoder = new TextDecoder();

function readEvent(buf: Uint8Array, start: number, end: number, visit: EventVisitor | undefined): void {
  if (!visit) return;
  const r = new Reader(buf, start, end);
  let correlation = '';
  let sequence = 0;
  while (r.pos < end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 11 && wire === WIRE_LEN) {
      const len = r.varint();
      correlation = decoder.decode(buf.subarray(r.pos, r.pos + len));
      r.pos += len;
    } else if (field === 14 && wire === WIRE_VARINT) {
      sequence = r.varint();
    } else r.skip(wire);
  }
  visit(correlation, sequence);
}

/**
 * Reads one SubscribeResponse: its kind and, for `events`, how many events it holds (each passed to
 * `visit` when given).
 */
export function scanSubscribeResponse(buf: Uint8Array, visit?: EventVisitor): { kind: ResponseKind; events: number } {
  const r = new Reader(buf, 0, buf.length);
  let kind: ResponseKind = 'other';
  let events = 0;
  while (r.pos < buf.length) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== WIRE_LEN || field < 1 || field > 4) {
      r.skip(wire);
      continue;
    }
    const len = r.varint();
    const end = r.pos + len;
    if (field === 1) kind = 'started';
    else if (field === 3) kind = 'heartbeat';
    else if (field === 4) kind = 'gap';
    else {
      kind = 'events';
      // EventBatch: repeated AuditEvent events = 1.
      const batch = new Reader(buf, r.pos, end);
      while (batch.pos < end) {
        const t = batch.varint();
        if (t === ((1 << 3) | WIRE_LEN)) {
          const n = batch.varint();
          readEvent(buf, batch.pos, batch.pos + n, visit);
          batch.pos += n;
          events++;
        } else batch.skip(t & 7);
      }
    }
    r.pos = end;
  }
  return { kind, events };
}

/** accepted_count (2) and rejected_count (3) of a PublishBatchResponse, skipping the per-event results. */
export function scanPublishBatchResponse(buf: Uint8Array): { accepted: number; rejected: number } {
  const r = new Reader(buf, 0, buf.length);
  let accepted = 0;
  let rejected = 0;
  while (r.pos < buf.length) {
    const tag = r.varint();
    if (tag === ((2 << 3) | WIRE_VARINT)) accepted = r.varint();
    else if (tag === ((3 << 3) | WIRE_VARINT)) rejected = r.varint();
    else r.skip(tag & 7);
  }
  return { accepted, rejected };
}
