import type Database from 'better-sqlite3';
import { EVENT_COLUMNS, type EventRow, READ_COLUMNS, type ReadRow } from './sqlite-schema.js';

/** A position in the hash chain. */
export interface ChainPoint {
  readonly sequence: number;
  readonly hash: Buffer;
}

export type Statements = ReturnType<typeof prepareStatements>;

/** The newest sequence ever stored and its hash: meta 'last', unless rows beyond it exist (written by something else). */
export function headOf(s: Statements): ChainPoint {
  const meta = s.getMeta.get('last')!;
  const newest = s.newest.get();
  return newest && newest.sequence > meta.sequence ? newest : meta;
}

/** Every fixed statement of the log, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  const cols = EVENT_COLUMNS;
  const placeholders = EVENT_COLUMNS.split(', ').map(() => '?').join(', ');
  // Statements returning event rows are raw: arrays in column order (see EventRow, ReadRow).
  return {
    insert: db.prepare<EventRow>(`INSERT INTO events (${cols}) VALUES (${placeholders})`),
    byId: db.prepare<[string], ReadRow>(`SELECT ${READ_COLUMNS} FROM events WHERE id = ?`).raw(true),
    readAfter: db
      .prepare<[number, number], ReadRow>(`SELECT ${READ_COLUMNS} FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?`)
      .raw(true),
    range: db
      .prepare<[number, number], EventRow>(
        `SELECT ${cols} FROM events WHERE sequence >= ? AND sequence <= ? ORDER BY sequence`,
      )
      .raw(true),
    oldest: db.prepare<[], { sequence: number }>('SELECT sequence FROM events ORDER BY sequence LIMIT 1'),
    newest: db.prepare<[], ChainPoint>('SELECT sequence, hash FROM events ORDER BY sequence DESC LIMIT 1'),
    newestAtOrBefore: db.prepare<[number], ChainPoint>(
      'SELECT sequence, hash FROM events WHERE sequence <= ? ORDER BY sequence DESC LIMIT 1',
    ),
    hashAt: db.prepare<[number], { hash: Buffer }>('SELECT hash FROM events WHERE sequence = ?'),
    // Time -> sequence (see minSequenceSince). The timestamp index carries the rowid, so the index
    // forms read no table rows; the scan forms (unary + disables the index) walk rows in sequence order.
    earliestSince: db.prepare<[number], { sequence: number }>(
      'SELECT sequence FROM events INDEXED BY events_timestamp WHERE timestamp >= ? ORDER BY timestamp LIMIT 1',
    ),
    latestUntil: db.prepare<[number], { sequence: number }>(
      'SELECT sequence FROM events INDEXED BY events_timestamp WHERE timestamp <= ? ORDER BY timestamp DESC LIMIT 1',
    ),
    minSinceByIndex: db.prepare<[number], { sequence: number | null }>(
      'SELECT min(sequence) AS sequence FROM events INDEXED BY events_timestamp WHERE timestamp >= ?',
    ),
    minSinceByScan: db.prepare<[number], { sequence: number }>(
      'SELECT sequence FROM events WHERE +timestamp >= ? ORDER BY sequence LIMIT 1',
    ),
    maxUntilByIndex: db.prepare<[number], { sequence: number | null }>(
      'SELECT max(sequence) AS sequence FROM events INDEXED BY events_timestamp WHERE timestamp <= ?',
    ),
    maxUntilByScan: db.prepare<[number], { sequence: number }>(
      'SELECT sequence FROM events WHERE +timestamp <= ? ORDER BY sequence DESC LIMIT 1',
    ),
    // Walks in sequence order and stops at the first young event: cost ~ the rows about to be removed.
    firstReceivedSince: db.prepare<[number], { sequence: number }>(
      'SELECT sequence FROM events WHERE received_at >= ? ORDER BY sequence LIMIT 1',
    ),
    deleteThrough: db.prepare<[number]>('DELETE FROM events WHERE sequence <= ?'),
    probe: db.prepare<[number, number]>('INSERT OR REPLACE INTO health_probe (id, at, pad) VALUES (1, ?, zeroblob(?))'),
    getMeta: db.prepare<[string], ChainPoint>('SELECT sequence, hash FROM meta WHERE key = ?'),
    setMeta: db.prepare<[number, Buffer, string]>('UPDATE meta SET sequence = ?, hash = ? WHERE key = ?'),
    getCursor: db.prepare<[string], { sequence: number }>('SELECT sequence FROM cursors WHERE name = ?'),
    setCursor: db.prepare<[string, number]>(
      'INSERT INTO cursors (name, sequence) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET sequence = excluded.sequence',
    ),
  };
}
