import type Database from 'better-sqlite3';
import { encodeStoredEvent } from '../contract/event-encoding.js';
import { type ErasureOutcome, type ErasureSelector, keysToErase, type PersonalData, selects, withoutValues } from '../domain/erasure.js';
import { READ_COLUMNS, type ReadRow, rowToEvent } from './sqlite-schema.js';

/** Rows read per statement while scanning for a metadata value (bounded memory on any log size). */
const CHUNK = 1000;

/**
 * Erases personal values in place, in one transaction: each changed event's stored bytes are written
 * again without the erased keys' values and salts; the commitments and hashes stay. By user id it
 * walks the user_id index; by a metadata value it decodes every row (metadata is inside the stored
 * bytes), which on a large log takes a while and holds the write lock meanwhile: erasures are rare.
 */
export function eraseRows(db: Database.Database, selector: ErasureSelector, personal: PersonalData): ErasureOutcome {
  const update = db.prepare<[string, number]>('UPDATE events SET encoded = ? WHERE sequence = ?');
  return db.transaction((): ErasureOutcome => {
    let eventsChanged = 0;
    let valuesErased = 0;
    for (const event of selected(db, selector)) {
      const keys = keysToErase(selector, event.metadata, personal);
      if (keys.length === 0) continue;
      update.run(encodeStoredEvent(withoutValues(event, keys)).toString('base64'), event.sequence);
      eventsChanged += 1;
      valuesErased += keys.length;
    }
    return { eventsChanged, valuesErased };
  }).immediate();
}

function selected(db: Database.Database, selector: ErasureSelector): ReturnType<typeof rowToEvent>[] {
  if ('userId' in selector) {
    return db.prepare<[string], ReadRow>(`SELECT ${READ_COLUMNS} FROM events WHERE user_id = ?`).raw(true).all(selector.userId).map(rowToEvent);
  }
  const page = db.prepare<[number, number], ReadRow>(`SELECT ${READ_COLUMNS} FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?`).raw(true);
  const out = [];
  for (let rows = page.all(0, CHUNK); rows.length > 0; rows = page.all(rows.at(-1)![0], CHUNK)) {
    for (const row of rows) {
      const event = rowToEvent(row);
      if (selects(selector, event)) out.push(event);
    }
  }
  return out;
}
