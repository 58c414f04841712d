import { AppError } from '../domain/errors.js';

/**
 * Token buckets per key (subject or IP): `rate` tokens per second, up to `burst`. Buckets refill lazily
 * on use, and full ones are forgotten so the map stays as small as the set of active callers.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly what: string,
  ) {}

  /** Takes `n` tokens or throws RESOURCE_EXHAUSTED with the delay after which they would be there. */
  take(key: string, n = 1, now = Date.now()): void {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    if (bucket.tokens < n) {
      this.buckets.set(key, bucket);
      const retryAfterMs = Math.ceil(((n - bucket.tokens) / this.rate) * 1000);
      throw new AppError('RESOURCE_EXHAUSTED', `${this.what} rate limit exceeded; retry in ${retryAfterMs} ms`, undefined, retryAfterMs);
    }
    bucket.tokens -= n;
    if (this.buckets.size > 100_000) this.forgetFull(now);
    this.buckets.set(key, bucket);
  }

  private forgetFull(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(key);
    }
  }
}

/** Counts open things per key (subscriptions per subject, connections per IP) against a cap. */
export class ConcurrencyLimiter {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly what: string,
  ) {}

  /** Reserves one slot or throws RESOURCE_EXHAUSTED; the returned function releases it (once). */
  acquire(key: string): () => void {
    const count = this.counts.get(key) ?? 0;
    if (count >= this.max) throw new AppError('RESOURCE_EXHAUSTED', `at most ${this.max} ${this.what}`);
    this.counts.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left === 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }
}
