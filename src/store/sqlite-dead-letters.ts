import type Database from 'better-sqlite3';
import type { DeadLetter, DeadLetterFailure, DeadLetterStore } from '../domain/dead-letters.js';

/**
 * Dead letters in the event log's own database (one file to back up, and the letter's event is one
 * join away). The table is created here, not by the log's migration, because only a log that forwards
 * to a downstream needs it; CREATE IF NOT EXISTS makes opening it idempotent.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS dead_letters (
  sequence        INTEGER PRIMARY KEY,
  event_id        TEXT    NOT NULL,
  destination     TEXT    NOT NULL,
  reason          TEXT    NOT NULL,
  message         TEXT    NOT NULL,
  attempts        INTEGER NOT NULL,
  first_failed_at INTEGER NOT NULL,
  last_failed_at  INTEGER NOT NULL
);
`;

interface Row {
  sequence: number;
  event_id: string;
  destination: string;
  reason: string;
  message: string;
  attempts: number;
  first_failed_at: number;
  last_failed_at: number;
}

const COLUMNS = 'sequence, event_id, destination, reason, message, attempts, first_failed_at, last_failed_at';

/** Messages are the downstream's, so bounded: a dead letter must stay small whatever the error says. */
const MAX_MESSAGE = 1_000;

export class SqliteDeadLetters implements DeadLetterStore {
  private readonly s;

  constructor(db: Database.Database) {
    db.exec(DDL);
    this.s = {
      // A repeated failure keeps the first time and adds up the attempts.
      upsert: db.prepare<[number, string, string, string, string, number, number, number]>(
        `INSERT INTO dead_letters (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sequence) DO UPDATE SET destination = excluded.destination, reason = excluded.reason,
           message = excluded.message, attempts = attempts + excluded.attempts, last_failed_at = excluded.last_failed_at`,
      ),
      list: db.prepare<[number, number], Row>(`SELECT ${COLUMNS} FROM dead_letters WHERE sequence > ? ORDER BY sequence LIMIT ?`),
      get: db.prepare<[number], Row>(`SELECT ${COLUMNS} FROM dead_letters WHERE sequence = ?`),
      remove: db.prepare<[number]>('DELETE FROM dead_letters WHERE sequence = ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM dead_letters'),
    };
  }

  record(f: DeadLetterFailure): void {
    const at = f.failedAt.getTime();
    this.s.upsert.run(f.sequence, f.eventId, f.destination, f.reason, f.message.slice(0, MAX_MESSAGE), f.attempts, at, at);
  }

  list(afterSequence: number, limit: number): DeadLetter[] {
    if (!(limit > 0)) return [];
    return this.s.list.all(afterSequence, Math.floor(limit)).map(toLetter);
  }

  get(sequences: readonly number[]): DeadLetter[] {
    return [...new Set(sequences)]
      .sort((a, b) => a - b)
      .map((seq) => this.s.get.get(seq))
      .filter((row): row is Row => row !== undefined)
      .map(toLetter);
  }

  remove(sequence: number): void {
    this.s.remove.run(sequence);
  }

  count(): number {
    return this.s.count.get()!.n;
  }
}

function toLetter(r: Row): DeadLetter {
  return {
    sequence: r.sequence,
    eventId: r.event_id,
    destination: r.destination,
    reason: r.reason,
    message: r.message,
    attempts: r.attempts,
    firstFailedAt: new Date(r.first_failed_at),
    lastFailedAt: new Date(r.last_failed_at),
  };
}
