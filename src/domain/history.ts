import { typeInfo } from './catalog.js';
import type { StoredAuditEvent } from './event.js';

/**
 * A history search. Fields combine with AND, values within a field with OR; an absent or empty field
 * means any.
 */
export interface HistoryQuery {
  readonly eventTypes?: readonly string[] | undefined;
  /**
   * Catalog categories ("security"): each stands for its event types, intersected with eventTypes when
   * both are given (domain/filter's allowedTypes).
   */
  readonly categories?: readonly string[] | undefined;
  /** Exact severity membership. */
  readonly severities?: readonly number[] | undefined;
  /** Lower bound on severity. */
  readonly minSeverity?: number | undefined;
  readonly entityTypes?: readonly string[] | undefined;
  readonly entityIds?: readonly string[] | undefined;
  readonly userIds?: readonly string[] | undefined;
  /** Inclusive bounds on the event's timestamp. */
  readonly start?: Date | undefined;
  readonly end?: Date | undefined;
  /** By sequence. */
  readonly order: 'asc' | 'desc';
  /** At most this many events per page; <= 0 gives an empty page. */
  readonly limit: number;
  /** Page token: continue after this sequence in the given order (`>` for asc, `<` for desc). */
  readonly afterSequence?: number | undefined;
  /** Extra filter applied in JS (e.g. a CEL expression) after the SQL filters. */
  readonly predicate?: ((e: StoredAuditEvent) => boolean) | undefined;
}

export interface HistoryPage {
  readonly events: StoredAuditEvent[];
  /** The afterSequence of the next page; absent when there are no more matching events. */
  readonly nextPageToken?: number | undefined;
}

export type ChainBreakKind = 'hash_mismatch' | 'previous_hash_mismatch' | 'missing_sequence';

export interface ChainVerification {
  readonly ok: boolean;
  /** Events that passed every check (verification stops at the first break). */
  readonly checked: number;
  /** The range verified, after clamping to what is stored. */
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly firstBreak?: { readonly sequence: number; readonly kind: ChainBreakKind };
}


/** Whether an event satisfies a query's field and time conditions (not its predicate or paging). */
export function matchesHistoryQuery(e: StoredAuditEvent, q: HistoryQuery): boolean {
  const anyOf = <T>(values: readonly T[] | undefined, value: T): boolean => !values?.length || values.includes(value);
  const t = e.timestamp.getTime();
  return anyOf(q.eventTypes, e.type) && anyOf(q.categories, typeInfo(e.type).category) && anyOf(q.severities, e.severity) && e.severity >= (q.minSeverity ?? 0)
    && anyOf(q.entityTypes, e.entityType) && anyOf(q.entityIds, e.entityId) && anyOf(q.userIds, e.userId)
    && (!q.start || t >= q.start.getTime()) && (!q.end || t <= q.end.getTime());
}
