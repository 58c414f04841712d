import type { StoredAuditEvent } from './event.js';

/** Whose personal data an erasure removes: the events of one user, or those with one metadata value. */
export type ErasureSelector =
  | { readonly userId: string }
  | { readonly metadataKey: string; readonly metadataValue: string };

/** Whether a top-level metadata value is personal data (the redaction rules decide). */
export type PersonalData = (key: string, value: unknown) => boolean;

export interface ErasureOutcome {
  /** Events that lost at least one value. */
  readonly eventsChanged: number;
  readonly valuesErased: number;
}

export function selects(selector: ErasureSelector, e: Pick<StoredAuditEvent, 'userId' | 'metadata'>): boolean {
  return 'userId' in selector
    ? e.userId === selector.userId
    : Object.hasOwn(e.metadata, selector.metadataKey) && e.metadata[selector.metadataKey] === selector.metadataValue;
}

/** The keys an erasure removes from one selected event: its personal values and the matched key. */
export function keysToErase(selector: ErasureSelector, metadata: StoredAuditEvent['metadata'], personal: PersonalData): string[] {
  return Object.entries(metadata)
    .filter(([key, value]) => personal(key, value) || ('metadataKey' in selector && key === selector.metadataKey))
    .map(([key]) => key);
}

/**
 * The event without those values and their salts. The commitments stay, so the hash and the chain
 * are unchanged; a key with a commitment and no value reads as erased.
 */
export function withoutValues(e: StoredAuditEvent, keys: readonly string[]): StoredAuditEvent {
  const drop = new Set(keys);
  const keep = <T>(record: Readonly<Record<string, T>>): Record<string, T> => {
    const out = Object.create(null) as Record<string, T>;
    for (const [k, v] of Object.entries(record)) if (!drop.has(k)) out[k] = v;
    return out;
  };
  return { ...e, metadata: keep(e.metadata), metadataSalts: keep(e.metadataSalts) };
}
