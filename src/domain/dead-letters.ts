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
