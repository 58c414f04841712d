import type { Category, Severity } from '../domain/catalog.js';
import type { StoredAuditEvent } from '../domain/event.js';
import { allowedTypes, type Filter } from '../domain/filter.js';
import type { Viewer } from '../domain/ports.js';
import { AppError, isAppError } from '../domain/errors.js';
import { compileCel, type CelPredicate } from './cel.js';
import { CpuBudget, DEFAULT_FILTER_BUDGET, type FilterBudget } from './cpu-budget.js';

/** A filter turned into sets and one predicate, so matching an event allocates nothing. */
export interface CompiledFilter {
  readonly source: Filter;
  /**
   * Set fields, for the subscription index to pick the most selective one. `eventTypes` is the types
   * the filter lets through: its event_types intersected with the types of its categories (so the index
   * files a category filter under its types); empty, not absent, when the two exclude each other.
   */
  readonly eventTypes?: ReadonlySet<string> | undefined;
  /** The categories as given (informative: matching goes through eventTypes, which holds their types). */
  readonly categories?: ReadonlySet<Category> | undefined;
  readonly severities?: ReadonlySet<Severity> | undefined;
  readonly entityTypes?: ReadonlySet<string> | undefined;
  readonly entityIds?: ReadonlySet<string> | undefined;
  readonly userIds?: ReadonlySet<string> | undefined;
  matches(event: StoredAuditEvent): boolean;
  /**
   * The one thing this filter checks, when it checks just one field (so the index alone decides a
   * match), 'none' for match-all; undefined otherwise (then the index runs matches()).
   */
  soleCriterion?(): IndexKey | 'minSeverity' | 'none' | undefined;
  /**
   * Calls `listener` once when the filter's expression exceeds its cost or CPU budget; from then on
   * the filter matches nothing. The subscription (or query) that owns it then ends RESOURCE_EXHAUSTED.
   */
  whenExhausted?(listener: (err: AppError) => void): void;
}

/** The fields the subscription index files filters by. */
export type IndexKey = 'entityId' | 'userId' | 'type' | 'entityType' | 'severity';

function setOf<T>(values: readonly T[]): ReadonlySet<T> | undefined {
  return values.length > 0 ? new Set(values) : undefined;
}

export function compileFilter(filter: Filter, maxExpressionLength = 4096, budget = DEFAULT_FILTER_BUDGET): CompiledFilter {
  const cel = filter.expression ? compileCel(filter.expression, maxExpressionLength) : undefined;
  return new FieldFilter(filter, cel && new BudgetedPredicate(cel, budget));
}

/**
 * A CEL predicate that keeps count of its CPU time against the filter budget, and ends for good when
 * an evaluation exceeds the evaluator's cost limit (it throws RESOURCE_EXHAUSTED) or the time spent
 * keeps above the budget's rate. Timing costs two clock reads per evaluation, small beside CEL's own.
 */
class BudgetedPredicate {
  private readonly cpu: CpuBudget;
  private exhausted?: AppError | undefined;
  private listener?: (err: AppError) => void;

  constructor(
    private readonly evaluate: CelPredicate,
    private readonly budget: FilterBudget,
  ) {
    this.cpu = new CpuBudget(budget);
  }

  matches(e: StoredAuditEvent): boolean {
    if (this.exhausted) return false;
    const started = performance.now();
    let matched = false;
    try {
      matched = this.evaluate(e);
    } catch (err) {
      this.exhaust(isAppError(err) ? err : new AppError('RESOURCE_EXHAUSTED', 'filter.expression: evaluation failed', 'filter.expression'));
      return false;
    }
    if (this.cpu.charge(performance.now() - started)) {
      const { cpuMsPerSecond, cpuBurstMs } = this.budget;
      this.exhaust(new AppError('RESOURCE_EXHAUSTED', `filter.expression: kept using more CPU than its budget (${cpuMsPerSecond} ms per second, ${cpuBurstMs} ms of burst); simplify the expression or narrow the other filter fields`, 'filter.expression'));
      return false;
    }
    return matched;
  }

  whenExhausted(listener: (err: AppError) => void): void {
    this.listener = listener;
  }

  private exhaust(err: AppError): void {
    this.exhausted = err;
    this.listener?.(err);
  }
}

/**
 * One class for every compiled filter, so the router's call to matches() sees a single shape and
 * stays monomorphic; fields left empty cost one branch each.
 */
class FieldFilter implements CompiledFilter {
  readonly eventTypes?: ReadonlySet<string> | undefined;
  readonly categories?: ReadonlySet<Category> | undefined;
  readonly severities?: ReadonlySet<Severity> | undefined;
  readonly entityTypes?: ReadonlySet<string> | undefined;
  readonly entityIds?: ReadonlySet<string> | undefined;
  readonly userIds?: ReadonlySet<string> | undefined;
  private readonly minSeverity: number;
  private readonly timed: boolean;
  private readonly start: number;
  private readonly end: number;

  constructor(
    readonly source: Filter,
    private readonly cel: BudgetedPredicate | undefined,
  ) {
    // Categories expand to their types, so matching one costs a set lookup by type like event_types.
    const types = allowedTypes(source.eventTypes, source.categories);
    this.eventTypes = types && new Set(types);
    this.categories = setOf(source.categories ?? []);
    this.severities = setOf(source.severities);
    this.entityTypes = setOf(source.entityTypes);
    this.entityIds = setOf(source.entityIds);
    this.userIds = setOf(source.userIds);
    this.minSeverity = source.minSeverity ?? 0;
    this.timed = source.start !== undefined || source.end !== undefined;
    this.start = source.start?.getTime() ?? -Infinity;
    this.end = source.end?.getTime() ?? Infinity;
  }

  matches(e: StoredAuditEvent): boolean {
    if (this.eventTypes && !this.eventTypes.has(e.type)) return false;
    if (this.severities && !this.severities.has(e.severity)) return false;
    if (e.severity < this.minSeverity) return false;
    if (this.entityTypes && !this.entityTypes.has(e.entityType)) return false;
    if (this.entityIds && !this.entityIds.has(e.entityId)) return false;
    if (this.userIds && !this.userIds.has(e.userId)) return false;
    if (this.timed) {
      const t = e.timestamp.getTime();
      if (t < this.start || t > this.end) return false;
    }
    return this.cel ? this.cel.matches(e) : true;
  }

  whenExhausted(listener: (err: AppError) => void): void {
    this.cel?.whenExhausted(listener);
  }

  soleCriterion(): IndexKey | 'minSeverity' | 'none' | undefined {
    if (this.timed || this.cel) return undefined;
    const set: Array<IndexKey | 'minSeverity'> = [];
    if (this.entityIds) set.push('entityId');
    if (this.userIds) set.push('userId');
    if (this.eventTypes) set.push('type'); // event_types and categories: both decided by the type
    if (this.entityTypes) set.push('entityType');
    if (this.severities) set.push('severity');
    if (this.minSeverity > 0) set.push('minSeverity');
    return set.length === 0 ? 'none' : set.length === 1 ? set[0] : undefined;
  }
}

/**
 * A filter with a condition of its own around another: filed in the index under the inner filter's
 * fields (the condition only narrows), but never decided by the index alone, since matches() must run.
 */
class NarrowedFilter implements CompiledFilter {
  readonly source: Filter;
  readonly eventTypes: ReadonlySet<string> | undefined;
  readonly categories: ReadonlySet<Category> | undefined;
  readonly severities: ReadonlySet<Severity> | undefined;
  readonly entityTypes: ReadonlySet<string> | undefined;
  readonly entityIds: ReadonlySet<string> | undefined;
  readonly userIds: ReadonlySet<string> | undefined;

  constructor(
    private readonly inner: CompiledFilter,
    readonly matches: (e: StoredAuditEvent) => boolean,
  ) {
    ({ source: this.source, eventTypes: this.eventTypes, categories: this.categories, severities: this.severities, entityTypes: this.entityTypes, entityIds: this.entityIds, userIds: this.userIds } = inner);
  }

  soleCriterion(): undefined {
    return undefined;
  }

  whenExhausted(listener: (err: AppError) => void): void {
    this.inner.whenExhausted?.(listener);
  }
}

/** The filter without the events a resume token already covers (cluster mode: other nodes' order). */
export function excluding(filter: CompiledFilter, seen: ((e: StoredAuditEvent) => boolean) | undefined): CompiledFilter {
  if (!seen) return filter;
  return new NarrowedFilter(filter, (e) => !seen(e) && filter.matches(e));
}

/**
 * The filter ANDed with what the caller may see, so the index, live routing and catch-up all apply it.
 * Visibility comes first and the caller's filter then runs on the copy the caller would receive (masked
 * for a masked role): a filter over data the caller cannot see would be an oracle for it (guessing a
 * masked value by prefix, one subscription per guess).
 */
export function restrictTo(filter: CompiledFilter, viewer: Viewer | undefined): CompiledFilter {
  if (!viewer) return filter;
  return new NarrowedFilter(filter, (e) => viewer.allows(e) && filter.matches(viewer.present(e)));
}
