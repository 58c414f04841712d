import { type ErasureOutcome, type ErasureSelector, keysToErase, type PersonalData, selects, withoutValues } from '../domain/erasure.js';
import type { NewAuditEvent } from '../domain/event.js';
import type { AppendResult, Clock, EventLog } from '../domain/ports.js';
import type { ChainVerification } from '../domain/history.js';
import { sealEvent, verifiesItself } from './hash-chain.js';
import { MemoryEvents } from './memory-events.js';

const EMPTY = new Uint8Array(0);

/**
 * A bounded in-memory log (`storage.type: memory`): keeps at least the newest `capacity` events, so a
 * cursor older than that gets a gap notice. Nothing survives a restart. Its history scans are linear:
 * it is for development and tests, not for large histories.
 */
export class MemoryEventLog extends MemoryEvents implements EventLog {
  private previousHash: Uint8Array = EMPTY;

  constructor(
    capacity: number,
    private readonly clock: Clock,
  ) {
    super(capacity);
  }

  append(batch: readonly NewAuditEvent[]): Promise<AppendResult[]> {
    const receivedAt = this.clock.now();
    // Stored now, in the caller's turn (as the SQLite log's own thread would), answered as a promise.
    try {
      return Promise.resolve(batch.map((event) => {
        const original = this.byId(event.id);
        if (original) return { event: original, duplicate: true };
        const stored = sealEvent(event, this.lastSequence() + 1, receivedAt, this.previousHash);
        this.previousHash = stored.hash;
        this.push(stored);
        return { event: stored, duplicate: false };
      }));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  verifyChain(fromSequence = this.firstSequence(), toSequence = this.lastSequence()): ChainVerification {
    const first = this.firstSequence();
    const from = Math.max(fromSequence, first);
    const to = Math.min(toSequence, this.lastSequence());
    let checked = 0;
    for (let seq = from; seq <= to; seq++) {
      const e = this.get(seq)!;
      const previous = seq > first ? this.get(seq - 1)!.hash : e.previousHash;
      const kind = !verifiesItself(e) ? 'hash_mismatch'
        : !Buffer.from(previous).equals(e.previousHash) ? 'previous_hash_mismatch' : undefined;
      if (kind) return { ok: false, checked, firstSequence: from, lastSequence: to, firstBreak: { sequence: seq, kind } };
      checked++;
    }
    return { ok: true, checked, firstSequence: from, lastSequence: to };
  }

  erase(selector: ErasureSelector, personal: PersonalData): ErasureOutcome {
    let eventsChanged = 0;
    let valuesErased = 0;
    for (const e of this.held().filter((held) => selects(selector, held))) {
      const keys = keysToErase(selector, e.metadata, personal);
      if (keys.length === 0) continue;
      this.replace(withoutValues(e, keys));
      eventsChanged += 1;
      valuesErased += keys.length;
    }
    return { eventsChanged, valuesErased };
  }

  checkWritable(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}
