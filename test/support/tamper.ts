import type Database from 'better-sqlite3';
import { decodeStoredEvent } from '../../src/contract/event-decoding.js';
import { encodeStoredEvent } from '../../src/contract/event-encoding.js';
import type { StoredAuditEvent } from '../../src/domain/event.js';

/**
 * Edits a stored event in the database file as someone with the file would: its stored bytes (base64)
 * are decoded, changed and written back (the hash column too when the change gives a new hash). Returns
 * the event as it now stands.
 */
export function editStored(raw: Database.Database, sequence: number, change: (e: StoredAuditEvent) => StoredAuditEvent): StoredAuditEvent {
  const row = raw.prepare('SELECT encoded FROM events WHERE sequence = ?').get(sequence) as { encoded: string } | undefined;
  if (!row) throw new Error(`no stored event ${sequence}`);
  const changed = change(decodeStoredEvent(Buffer.from(row.encoded, 'base64')));
  raw.prepare('UPDATE events SET encoded = ?, hash = ? WHERE sequence = ?').run(encodeStoredEvent(changed).toString('base64'), Buffer.from(changed.hash), sequence);
  return changed;
}
