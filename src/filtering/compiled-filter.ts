import type { Severity } from '../domain/catalog.js';
import type { StoredAuditEvent } from '../domain/event.js';
import type { Filter } from '../domain/filter.js';
import type { Viewer } from '../domain/ports.js';
import { compileCel } from './cel.js';

/** A filter turned into sets and one predicate, so matching an event allocates nothing. */
export interface CompiledFilter {
  readonly source: Filter;
  /** Set fields, for the subscription index to pick the most selective one. */
  readonly eventTypes?: ReadonlySet<string>;
  readonly severities?: ReadonlySet<Severity>;
  readonly entityTypes?: ReadonlySet<string>;
  readonly entityIds?: ReadonlySet<string>;
  readonly userIds?: ReadonlySet<string>;
  matches(event: StoredAuditEvent): boolean;
}

function setOf<T>(values: readonly T[]): ReadonlySet<T> | undefined {
  return values.length > 0 ? new Set(values) : undefined;
}

export function compileFilter(filter: Filter, maxExpressionLength = 4096): CompiledFilter {
  const eventTypes = setOf<string>(filter.eventTypes);
  const severities = setOf(filter.severities);
  const entityTypes = setOf(filter.entityTypes);
  const entityIds = setOf(filter.entityIds);
  const userIds = setOf(filter.userIds);
  const minSeverity = filter.minSeverity ?? 0;
  const start = filter.start?.getTime() ?? -Infinity;
  const end = filter.end?.getTime() ?? Infinity;
  const cel = filter.expression ? compileCel(filter.expression, maxExpressionLength) : undefined;

  return {
    source: filter, eventTypes, severities, entityTypes, entityIds, userIds,
    matches(e) {
      if (eventTypes && !eventTypes.has(e.type)) return false;
      if (severities && !severities.has(e.severity)) return false;
      if (e.severity < minSeverity) return false;
      if (entityTypes && !entityTypes.has(e.entityType)) return false;
      if (entityIds && !entityIds.has(e.entityId)) return false;
      if (userIds && !userIds.has(e.userId)) return false;
      const t = e.timestamp.getTime();
      if (t < start || t > end) return false;
      return cel ? cel(e) : true;
    },
  };
}

/** The filter without the events a resume token already covers (cluster mode: other nodes' order). */
export function excluding(filter: CompiledFilter, seen: ((e: StoredAuditEvent) => boolean) | undefined): CompiledFilter {
  if (!seen) return filter;
  return { ...filter, matches: (e) => !seen(e) && filter.matches(e) };
}

/** The filter ANDed with what the caller may see, so the index, live routing and catch-up all apply it. */
export function restrictTo(filter: CompiledFilter, viewer: Viewer | undefined): CompiledFilter {
  if (!viewer) return filter;
  return { ...filter, matches: (e) => filter.matches(e) && viewer.allows(e) };
}
