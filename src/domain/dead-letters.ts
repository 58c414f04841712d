import type { StoredAuditEvent } from './event.js';

/** An event a downstream refused for good, parked until an operator redrives it. */
export interface DeadLetter {
  /** The event's sequence in the log (the event itself stays in the log). */
  readonly sequence: number;
  readonly eventId: string;
  /** Where it was to go (the Kafka topic). */
  readonly destination: string;
  /** Machine-readable, e.g. MESSAGE_TOO_LARGE. */
  readonly reason: string;
  /** The downstream's error message. */
  readonly message: string;
  /** Send attempts that included this event, over every try and redrive. */
  readonly attempts: number;
  readonly firstFailedAt: Date;
  readonly lastFailedAt: Date;
}

/** A failure to record: a new dead letter, or one more failure of a parked one (attempts made this time are added). */
export interface DeadLetterFailure extends Omit<DeadLetter, 'firstFailedAt' | 'lastFailedAt'> {
  readonly failedAt: Date;
}

/**
 * Where dead letters are kept: a table in the SQLite log's database, or memory for storage.type memory.
 * Synchronous, like the log's reads.
 */
export interface DeadLetterStore {
  /** Parks an event, or adds to the attempts of one already parked and updates its reason. */
  record(failure: DeadLetterFailure): void;
  /** Up to `limit` letters with sequence > afterSequence, oldest first. */
  list(afterSequence: number, limit: number): DeadLetter[];
  /** The letters with these sequences (those that exist), oldest first. */
  get(sequences: readonly number[]): DeadLetter[];
  /** Removes a letter once its event was delivered. */
  remove(sequence: number): void;
  count(): number;
}

/** A dead letter with its event as the operator may see it; undefined when retention removed it. */
export interface DeadLetterView {
  readonly letter: DeadLetter;
  readonly event: StoredAuditEvent | undefined;
}

export type RedriveOutcome = 'delivered' | 'failed' | 'skipped' | 'missing' | 'not_found';

export interface RedriveResult {
  readonly sequence: number;
  readonly eventId: string;
  readonly outcome: RedriveOutcome;
  readonly reason: string;
}

/** One page of letters after `afterSequence`, each with its event; `nextAfter` when another page exists. */
export function pageOfLetters(
  store: DeadLetterStore,
  afterSequence: number,
  limit: number,
  eventOf: (sequence: number) => StoredAuditEvent | undefined,
): { letters: DeadLetterView[]; nextAfter: number | undefined; total: number } {
  // One more than asked tells whether another page exists.
  const page = store.list(afterSequence, limit + 1);
  const letters = page.slice(0, limit).map((letter) => ({ letter, event: eventOf(letter.sequence) }));
  const nextAfter = page.length > limit ? letters.at(-1)?.letter.sequence : undefined;
  return { letters, nextAfter, total: store.count() };
}

/** What a redrive works on: the named letters (or the oldest `limit`), and a not_found result per named sequence that has none. */
export function lettersToRedrive(store: DeadLetterStore, sequences: readonly number[], limit: number): { letters: DeadLetter[]; notFound: RedriveResult[] } {
  const letters = sequences.length > 0 ? store.get(sequences) : store.list(0, limit);
  const found = new Set(letters.map((l) => l.sequence));
  const notFound = [...new Set(sequences)]
    .filter((s) => !found.has(s))
    .map((sequence): RedriveResult => ({ sequence, eventId: '', outcome: 'not_found', reason: '' }));
  return { letters, notFound };
}
