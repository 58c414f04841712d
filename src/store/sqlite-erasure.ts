import type Database from 'better-sqlite3';
import stringify from 'safe-stable-stringify';
import { type ErasureOutcome, type ErasureSelector, keysToErase, type PersonalData, withoutValues } from '../domain/erasure.js';
import { EVENT_COLUMNS, type EventRow, keyedBytesJson, rowToEvent } from './sqlite-schema.js';

/**
 * Erases personal values in place, in one transaction: metadata and salts lose the erased keys, the
 * commitments and hashes stay. By user id it walks the user_id index; by a metadata value it scans
 * every row (json_each over the top-level keys), which on a large log takes a while and holds the
 * write lock meanwhile: erasures are rare.
 */
export function eraseRows(db: Database.Database, selector: ErasureSelector, personal: PersonalData): ErasureOutcome {
  const selected = (): EventRow[] => ('userId' in selector
    ? db.prepare<[string], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = ?`).raw(true).all(selector.userId)
    : db.prepare<[string, string], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE EXISTS (SELECT 1 FROM json_each(events.metadata) j WHERE j.key = ? AND j.type = 'text' AND j.value = ?)`,
    ).raw(true).all(selector.metadataKey, selector.metadataValue));
  const update = db.prepare<[string, string, number]>('UPDATE events SET metadata = ?, salts = ? WHERE sequence = ?');
  return db.transaction((): ErasureOutcome => {
    let eventsChanged = 0;
    let valuesErased = 0;
    for (const row of selected()) {
      const event = rowToEvent(row);
      const keys = keysToErase(selector, event.metadata, personal);
      if (keys.length === 0) continue;
      const erased = withoutValues(event, keys);
      update.run(stringify(erased.metadata) ?? '{}', keyedBytesJson(erased.metadataSalts), event.sequence);
      eventsChanged += 1;
      valuesErased += keys.length;
    }
    return { eventsChanged, valuesErased };
  }).immediate();
}
