import { AppError } from '../domain/errors.js';
import type { Filter } from '../domain/filter.js';
import type { HistoryPage } from '../domain/history.js';
import type { StoredAuditEvent } from '../domain/event.js';
import type { EventLog, Viewer } from '../domain/ports.js';
import { compileFilter } from '../filtering/compiled-filter.js';
import type { FilterBudget } from '../filtering/cpu-budget.js';

export const MAX_QUERY_LIMIT = 10_000;
const DEFAULT_QUERY_LIMIT = 100;

export interface HistoryRequest {
  readonly filter: Filter;
  readonly order: 'asc' | 'desc';
  /** 0 means the default page size. */
  readonly limit: number;
  /** Opaque to clients; today the decimal sequence the next page continues after. */
  readonly pageToken: string;
  readonly maxExpressionLength: number;
  /** CPU the expression may spend on this page; beyond it the query fails RESOURCE_EXHAUSTED. */
  readonly filterBudget?: FilterBudget | undefined;
  /** The caller's view: what it may see, and how. */
  readonly viewer?: Viewer | undefined;
}

/** One page of history: indexed fields go to the log's query, a CEL expression runs as a predicate. */
export function queryHistory(log: EventLog, req: HistoryRequest): HistoryPage {
  if (req.limit > MAX_QUERY_LIMIT) throw AppError.invalid('limit', `is ${req.limit}, the most is ${MAX_QUERY_LIMIT}`);
  if (req.pageToken !== '' && !/^\d{1,15}$/.test(req.pageToken)) {
    throw AppError.invalid('page_token', 'is not a token returned by a previous page');
  }
  const { filter } = req;
  const compiled = filter.expression ? compileFilter(filter, req.maxExpressionLength, req.filterBudget) : undefined;
  compiled?.whenExhausted?.((err) => {
    throw err; // out of the log's scan: the page is abandoned
  });
  const { viewer } = req;
  // Visibility first, then the expression on the caller's own view (see restrictTo); the indexed
  // fields the log filters by are never masked.
  const predicate = viewer
    ? (e: StoredAuditEvent) => viewer.allows(e) && (compiled?.matches(viewer.present(e)) ?? true)
    : compiled && ((e: StoredAuditEvent) => compiled.matches(e));
  const page = log.query({
    eventTypes: filter.eventTypes, categories: filter.categories, severities: filter.severities, minSeverity: filter.minSeverity,
    entityTypes: filter.entityTypes, entityIds: filter.entityIds, userIds: filter.userIds,
    start: filter.start, end: filter.end,
    order: req.order,
    limit: req.limit || DEFAULT_QUERY_LIMIT,
    afterSequence: req.pageToken === '' ? undefined : Number(req.pageToken),
    predicate,
  });
  return viewer ? { ...page, events: page.events.map((e) => viewer.present(e)) } : page;
}
