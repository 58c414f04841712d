import type Database from 'better-sqlite3';
import type { Statements } from './sqlite-statements.js';

export interface RetentionOptions {
  /** Remove events received more than this long ago. */
  readonly maxAgeMs?: number | undefined;
  /** Keep at most this many events (the newest). */
  readonly maxEvents?: number | undefined;
}

/** Refuses negative or non-numeric limits; counts are whole. */
export function validateRetention(r: RetentionOptions): RetentionOptions {
  for (const [key, value] of Object.entries(r)) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new Error(`retention.${key} must be a non-negative number, got ${String(value)}`);
    }
  }
  return { maxAgeMs: r.maxAgeMs, maxEvents: r.maxEvents === undefined ? undefined : Math.floor(r.maxEvents) };
}

/**
 * One transaction that removes the oldest events beyond `maxEvents` and those received more than
 * `maxAgeMs` before the given time, and moves the anchor to the newest removed event; returns how many
 * were removed. `head` is the newest sequence ever stored.
 */
export function retentionTransaction(db: Database.Database, s: Statements, retention: RetentionOptions, head: () => number) {
  return db.transaction((nowMs: number): number => {
    const { maxAgeMs, maxEvents } = retention;
    let cut = 0;
    if (maxEvents !== undefined) cut = Math.max(cut, head() - maxEvents);
    if (maxAgeMs !== undefined) {
      // Remove a prefix only (the chain must stay verifiable): everything before the first event
      // young enough to keep, even if a later one is older (the clock went backwards).
      const keep = s.firstReceivedSince.get(nowMs - maxAgeMs);
      cut = Math.max(cut, keep ? keep.sequence - 1 : head());
    }
    const anchor = s.getMeta.get('anchor')!;
    if (cut <= anchor.sequence) return 0;
    const newAnchor = s.newestAtOrBefore.get(cut);
    if (!newAnchor || newAnchor.sequence <= anchor.sequence) return 0;
    const removed = s.deleteThrough.run(newAnchor.sequence).changes;
    s.setMeta.run(newAnchor.sequence, newAnchor.hash, 'anchor');
    return removed;
  });
}
