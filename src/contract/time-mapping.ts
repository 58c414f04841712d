import type { Timestamp } from '../../generated/google/protobuf/timestamp.js';
import { AppError } from '../domain/errors.js';
import { rfc3339 } from '../domain/time.js';

// google.protobuf.Timestamp <-> the domain's times. The domain keeps a Date (milliseconds, what
// filters, time ranges and storage index on) and, for an event's own timestamp, the nanoseconds below
// the millisecond beside it (NewAuditEvent.timestampSubMsNanos), so a publisher's nanoseconds come
// back exactly on every transport. Other times (received_at, checkpoints, stats) are the server's
// own, in milliseconds.

const NANOS_PER_MS = 1_000_000;

/** A Date (and nanoseconds below its millisecond) as a Timestamp; nanos are never negative. */
export function toTimestamp(date: Date, subMsNanos = 0): Timestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * NANOS_PER_MS + subMsNanos };
}

export function toOptionalTimestamp(date: Date | undefined): Timestamp | undefined {
  return date && toTimestamp(date);
}

/** A Timestamp as a Date (its millisecond) and the nanoseconds below that millisecond (0..999,999). */
export function fromTimestamp(t: Timestamp): { date: Date; subMsNanos: number } {
  const ms = Math.floor(t.nanos / NANOS_PER_MS);
  return { date: new Date(t.seconds * 1000 + ms), subMsNanos: t.nanos - ms * NANOS_PER_MS };
}

/**
 * A Timestamp from a caller as a Date at millisecond precision (time-range bounds), checked: the
 * gRPC request check refuses bad ones on the wire; this catches the other paths (JSON, the CLI).
 */
export function timestampToDate(t: Timestamp | undefined, field: string): Date | undefined {
  if (!t) return undefined;
  return checkedTimestamp(t, field).date;
}

/** google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/** fromTimestamp, refusing what is not a valid Timestamp with INVALID_ARGUMENT naming `field`. */
export function checkedTimestamp(t: Timestamp, field: string): { date: Date; subMsNanos: number } {
  if (!Number.isInteger(t.seconds) || t.seconds < MIN_SECONDS || t.seconds > MAX_SECONDS) {
    throw AppError.invalid(field, `seconds ${t.seconds} is outside the range of a timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)`);
  }
  if (!Number.isInteger(t.nanos) || t.nanos < 0 || t.nanos > 999_999_999) throw AppError.invalid(field, `nanos ${t.nanos} is outside 0..999,999,999`);
  return fromTimestamp(t);
}

/** A Timestamp as RFC 3339 with its nanoseconds (see domain/time.ts); undefined stays undefined. */
export function timestampText(t: Timestamp | undefined): string | undefined {
  if (!t) return undefined;
  const { date, subMsNanos } = fromTimestamp(t);
  return rfc3339(date, subMsNanos);
}
