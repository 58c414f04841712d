/**
 * A time as RFC 3339 in UTC, the way the proto3 JSON mapping writes a Timestamp: 3 fractional digits,
 * or 6 or 9 when there are nanoseconds below the millisecond. The hash chain's canonical encoding uses
 * it too, so a timestamp without sub-millisecond nanoseconds encodes exactly as it always did.
 */
export function rfc3339(date: Date, subMsNanos = 0): string {
  const iso = date.toISOString();
  if (subMsNanos === 0) return iso;
  const below = String(subMsNanos).padStart(6, '0');
  return `${iso.slice(0, -1)}${below.endsWith('000') ? below.slice(0, 3) : below}Z`;
}
