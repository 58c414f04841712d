import type Database from 'better-sqlite3';
import stringify from 'safe-stable-stringify';
import type { NewAuditEvent, StoredAuditEvent } from '../domain/event.js';
import type { AppendResult } from '../domain/ports.js';
import { sealEvent } from './hash-chain.js';
import { eventToRow, normalizeEvent, rowToEvent, toBuffer } from './sqlite-schema.js';
import type { ChainPoint, Statements } from './sqlite-statements.js';

export interface Committed {
  readonly results: AppendResult[];
  readonly last: ChainPoint;
}

/**
 * The group commit: one transaction stores a batch after `last`, sealing each new event into the
 * chain; an id already stored (or earlier in the batch) answers with the original. The one place
 * events are written, whichever thread runs it.
 */
export function appendTransaction(db: Database.Database, s: Statements) {
  return db.transaction((batch: readonly NewAuditEvent[], receivedAt: Date, last: ChainPoint): Committed => {
    let sequence = last.sequence;
    let hash = last.hash;
    const inBatch = new Map<string, StoredAuditEvent>();
    const results: AppendResult[] = [];
    for (const event of batch) {
      const earlier = inBatch.get(event.id);
      if (earlier) {
        results.push({ event: earlier, duplicate: true });
        continue;
      }
      const original = s.byId.get(event.id);
      if (original) {
        results.push({ event: rowToEvent(original), duplicate: true });
        continue;
      }
      sequence += 1;
      const metadataJson = stringify(event.metadata) ?? '{}';
      const stored = sealEvent(normalizeEvent(event, metadataJson), sequence, receivedAt, hash);
      s.insert.run(...eventToRow(stored, metadataJson));
      hash = toBuffer(stored.hash);
      inBatch.set(stored.id, stored);
      results.push({ event: stored, duplicate: false });
    }
    if (sequence !== last.sequence) s.setMeta.run(sequence, hash, 'last');
    return { results, last: { sequence, hash } };
  });
}
