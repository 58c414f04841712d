import type { StoredAuditEvent } from '../domain/event.js';
import { allowedTypes } from '../domain/filter.js';
import type { HistoryPage, HistoryQuery } from '../domain/history.js';
import { READ_COLUMNS, type ReadRow, rowToEvent } from './sqlite-schema.js';
import type { Statements } from './sqlite-statements.js';

export type SqlParam = string | number;

/**
 * How a time range is applied when no other indexed field narrows the search (decided by the log from
 * its timestamp index). Without a plan the SQLite planner chooses, which for a time window means the
 * timestamp index and then a sort by sequence: fast for a narrow window, slow for a wide one.
 */
export interface TimePlan {
  /** Check timestamps while walking in sequence order, not through the timestamp index. */
  readonly scan: boolean;
  /** Exact sequence bounds of the events in the time range (added as filters). */
  readonly minSequence?: number | undefined;
  readonly maxSequence?: number | undefined;
}

/** Runs one parameterised SELECT of event rows (raw mode: arrays in column order). */
export type RowFetcher = (sql: string, params: readonly SqlParam[]) => ReadRow[];

/** Rows fetched per round while a predicate filters in JS. */
const MIN_CHUNK = 500;
const MAX_CHUNK = 10_000;

/**
 * The SELECT for the indexed fields: values are always bound parameters, never spliced into the SQL.
 * The SQL text depends only on which fields are present and how many values each has, so it can be
 * cached as a prepared statement.
 */
export function buildSelect(
  q: HistoryQuery,
  afterSequence: number | undefined,
  limit: number,
  plan?: TimePlan,
): { sql: string; params: SqlParam[] } {
  const where: string[] = [];
  const params: SqlParam[] = [];
  const anyOf = (column: string, values: readonly SqlParam[] | undefined): void => {
    if (!values || values.length === 0) return;
    if (values.length === 1) {
      where.push(`${column} = ?`);
    } else {
      where.push(`${column} IN (${values.map(() => '?').join(', ')})`);
    }
    params.push(...values);
  };
  // Categories become the types they hold (intersected with event_types): the type index serves both.
  // No type passes both (an empty list) reads as false: the caller returns an empty page before this.
  const types = allowedTypes(q.eventTypes, q.categories);
  if (types?.length === 0) where.push('0');
  anyOf('type', types);
  anyOf('severity', q.severities);
  if (q.minSeverity !== undefined) {
    where.push('severity >= ?');
    params.push(q.minSeverity);
  }
  anyOf('entity_type', q.entityTypes);
  anyOf('entity_id', q.entityIds);
  anyOf('user_id', q.userIds);
  // A unary + keeps SQLite from using the timestamp index for the term.
  const timestamp = plan?.scan ? '+timestamp' : 'timestamp';
  if (q.start !== undefined) {
    where.push(`${timestamp} >= ?`);
    params.push(q.start.getTime());
  }
  if (q.end !== undefined) {
    where.push(`${timestamp} <= ?`);
    params.push(q.end.getTime());
  }
  if (plan?.minSequence !== undefined) {
    where.push('sequence >= ?');
    params.push(plan.minSequence);
  }
  if (plan?.maxSequence !== undefined) {
    where.push('sequence <= ?');
    params.push(plan.maxSequence);
  }
  if (afterSequence !== undefined) {
    where.push(q.order === 'desc' ? 'sequence < ?' : 'sequence > ?');
    params.push(afterSequence);
  }
  const sql =
    `SELECT ${READ_COLUMNS} FROM events` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY sequence ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
  params.push(limit);
  return { sql, params };
}

/**
 * One page of a history search. Looks for one match beyond `limit` so that `nextPageToken` is given
 * exactly when another page has events. With a predicate, rows are fetched in chunks until enough
 * match or the rows run out.
 */
export function runHistoryQuery(q: HistoryQuery, fetch: RowFetcher, plan?: TimePlan): HistoryPage {
  const limit = Math.floor(q.limit);
  if (!(limit > 0)) return { events: [] };
  if (allowedTypes(q.eventTypes, q.categories)?.length === 0) return { events: [] }; // categories and types exclude each other
  const wanted = limit + 1;
  const matches: StoredAuditEvent[] = [];
  const predicate = q.predicate;

  if (!predicate) {
    const { sql, params } = buildSelect(q, q.afterSequence, wanted, plan);
    for (const row of fetch(sql, params)) matches.push(rowToEvent(row));
  } else {
    const chunk = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, 2 * wanted));
    let after = q.afterSequence;
    for (;;) {
      const { sql, params } = buildSelect(q, after, chunk, plan);
      const rows = fetch(sql, params);
      for (const row of rows) {
        const event = rowToEvent(row);
        if (predicate(event)) {
          matches.push(event);
          if (matches.length === wanted) break;
        }
      }
      if (matches.length === wanted || rows.length < chunk) break;
      after = rows.at(-1)?.[0];
    }
  }

  if (matches.length <= limit) return { events: matches };
  const events = matches.slice(0, limit);
  return { events, nextPageToken: events.at(-1)?.sequence };
}

/** Maps times to sequences through the timestamp index, and plans time-range queries with it. */
export class TimeRanges {
  constructor(
    private readonly s: Statements,
    private readonly first: () => number,
    private readonly last: () => number,
  ) {}

  /**
   * The smallest sequence among events with timestamp >= ms. Exact; the cost is what differs: the
   * timestamp index yields it by reading every entry at or after ms, a walk in sequence order by
   * reading every row before the first match. A probe of the index says where ms falls in the log
   * (timestamps mostly follow sequences), so the shorter walk is taken.
   */
  minSequenceSince(ms: number): number | undefined {
    const probe = this.s.earliestSince.get(ms)?.sequence;
    if (probe === undefined) return undefined;
    const byIndex = this.last() - probe <= probe - this.first();
    return (byIndex ? this.s.minSinceByIndex.get(ms)?.sequence : this.s.minSinceByScan.get(ms)?.sequence) ?? undefined;
  }

  /** The largest sequence among events with timestamp <= ms; as minSequenceSince, mirrored. */
  maxSequenceUntil(ms: number): number | undefined {
    const probe = this.s.latestUntil.get(ms)?.sequence;
    if (probe === undefined) return undefined;
    const byIndex = probe - this.first() <= this.last() - probe;
    return (byIndex ? this.s.maxUntilByIndex.get(ms)?.sequence : this.s.maxUntilByScan.get(ms)?.sequence) ?? undefined;
  }

  /**
   * For a time range with no type, entity or user (those have their own indexes): a narrow window
   * goes through the timestamp index (then a sort by sequence); anything wider walks the log in the
   * requested order from the exact sequence where the range begins in that order, so a page costs at
   * most about one pass over the log instead of a sort of the whole window. (Bounding the far end too
   * costs every page another index walk and saved little on the last page, so it is not done.)
   */
  plan(q: HistoryQuery, indexedWindowRows: number): TimePlan | 'empty' | undefined {
    const start = q.start?.getTime();
    const end = q.end?.getTime();
    if (start === undefined && end === undefined) return undefined;
    if (q.eventTypes?.length || q.categories?.length || q.entityIds?.length || q.userIds?.length) return undefined;
    const from = start === undefined ? this.first() : this.s.earliestSince.get(start)?.sequence;
    const to = end === undefined ? this.last() : this.s.latestUntil.get(end)?.sequence;
    if (from === undefined || to === undefined) return 'empty'; // nothing at or after start / at or before end
    if (start !== undefined && end !== undefined && to - from <= indexedWindowRows) return undefined;
    if (q.order === 'asc') {
      return { scan: true, minSequence: start === undefined ? undefined : this.minSequenceSince(start) };
    }
    return { scan: true, maxSequence: end === undefined ? undefined : this.maxSequenceUntil(end) };
  }
}
