import type { StoredAuditEvent } from '../domain/event.js';
import { EVENT_COLUMNS, type EventRow, ROW_SEQUENCE, rowToEvent } from './sqlite-schema.js';

/**
 * A history search. Fields combine with AND, values within a field with OR; an absent or empty field
 * means any.
 */
export interface HistoryQuery {
  readonly eventTypes?: readonly string[];
  /** Exact severity membership. */
  readonly severities?: readonly number[];
  /** Lower bound on severity. */
  readonly minSeverity?: number;
  readonly entityTypes?: readonly string[];
  readonly entityIds?: readonly string[];
  readonly userIds?: readonly string[];
  /** Inclusive bounds on the event's timestamp. */
  readonly start?: Date;
  readonly end?: Date;
  /** By sequence. */
  readonly order: 'asc' | 'desc';
  /** At most this many events per page; <= 0 gives an empty page. */
  readonly limit: number;
  /** Page token: continue after this sequence in the given order (`>` for asc, `<` for desc). */
  readonly afterSequence?: number;
  /** Extra filter applied in JS (e.g. a CEL expression) after the SQL filters. */
  readonly predicate?: (e: StoredAuditEvent) => boolean;
}

export interface HistoryPage {
  readonly events: StoredAuditEvent[];
  /** The afterSequence of the next page; absent when there are no more matching events. */
  readonly nextPageToken?: number;
}

export type SqlParam = string | number;

/** Runs one parameterised SELECT of event rows (raw mode: arrays in column order). */
export type RowFetcher = (sql: string, params: readonly SqlParam[]) => EventRow[];

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
  anyOf('type', q.eventTypes);
  anyOf('severity', q.severities);
  if (q.minSeverity !== undefined) {
    where.push('severity >= ?');
    params.push(q.minSeverity);
  }
  anyOf('entity_type', q.entityTypes);
  anyOf('entity_id', q.entityIds);
  anyOf('user_id', q.userIds);
  if (q.start !== undefined) {
    where.push('timestamp >= ?');
    params.push(q.start.getTime());
  }
  if (q.end !== undefined) {
    where.push('timestamp <= ?');
    params.push(q.end.getTime());
  }
  if (afterSequence !== undefined) {
    where.push(q.order === 'desc' ? 'sequence < ?' : 'sequence > ?');
    params.push(afterSequence);
  }
  const sql =
    `SELECT ${EVENT_COLUMNS} FROM events` +
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
export function runHistoryQuery(q: HistoryQuery, fetch: RowFetcher): HistoryPage {
  const limit = Math.floor(q.limit);
  if (!(limit > 0)) return { events: [] };
  const wanted = limit + 1;
  const matches: StoredAuditEvent[] = [];
  const predicate = q.predicate;

  if (!predicate) {
    const { sql, params } = buildSelect(q, q.afterSequence, wanted);
    for (const row of fetch(sql, params)) matches.push(rowToEvent(row));
  } else {
    const chunk = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, 2 * wanted));
    let after = q.afterSequence;
    for (;;) {
      const { sql, params } = buildSelect(q, after, chunk);
      const rows = fetch(sql, params);
      for (const row of rows) {
        const event = rowToEvent(row);
        if (predicate(event)) {
          matches.push(event);
          if (matches.length === wanted) break;
        }
      }
      if (matches.length === wanted || rows.length < chunk) break;
      after = rows[rows.length - 1][ROW_SEQUENCE];
    }
  }

  if (matches.length <= limit) return { events: matches };
  const events = matches.slice(0, limit);
  return { events, nextPageToken: events[limit - 1].sequence };
}
