import type { DeadLetter, DeadLetterFailure, DeadLetterStore } from '../domain/dead-letters.js';

/** Dead letters for storage.type memory: lost on restart, like the events they point to. */
export class MemoryDeadLetters implements DeadLetterStore {
  private readonly letters = new Map<number, DeadLetter>();

  record(f: DeadLetterFailure): void {
    const earlier = this.letters.get(f.sequence);
    this.letters.set(f.sequence, {
      sequence: f.sequence,
      eventId: f.eventId,
      destination: f.destination,
      reason: f.reason,
      message: f.message.slice(0, 1_000),
      attempts: (earlier?.attempts ?? 0) + f.attempts,
      firstFailedAt: earlier?.firstFailedAt ?? f.failedAt,
      lastFailedAt: f.failedAt,
    });
  }

  list(afterSequence: number, limit: number): DeadLetter[] {
    return this.sorted().filter((l) => l.sequence > afterSequence).slice(0, Math.max(0, limit));
  }

  get(sequences: readonly number[]): DeadLetter[] {
    const wanted = new Set(sequences);
    return this.sorted().filter((l) => wanted.has(l.sequence));
  }

  remove(sequence: number): void {
    this.letters.delete(sequence);
  }

  count(): number {
    return this.letters.size;
  }

  /** Dead letters are few (each one is an operator's to-do), so sorting on read is fine. */
  private sorted(): DeadLetter[] {
    return [...this.letters.values()].sort((a, b) => a.sequence - b.sequence);
  }
}
