import type { Severity } from '../domain/catalog.js';
import type { StoredAuditEvent } from '../domain/event.js';
import type { CompiledFilter, IndexKey } from './compiled-filter.js';

export interface Indexed {
  readonly filter: CompiledFilter;
}

/** The subscriptions filed under one value: those the value alone decides, and those still to check. */
interface Bucket<T> {
  readonly exact: Set<T>;
  readonly checked: Set<T>;
}

const bucket = <T>(): Bucket<T> => ({ exact: new Set(), checked: new Set() });

/**
 * Finds the subscriptions that match an event. Each subscription is filed once, under its most
 * selective constrained field (entity id, then user id, type, entity type, severity), or in the
 * wildcard bucket when it constrains none of them; an event then looks up one bucket per field, so the
 * cost is proportional to the candidates, not to all subscriptions. A subscription whose filter
 * constrains nothing but that field (compiled-filter's soleCriterion) matches without running its
 * filter; so does one with only a min_severity, filed by that bound. The rest run the full filter.
 * Categories count as the event types they hold: compiled-filter's eventTypes already intersects
 * them with event_types, so a category filter is filed under each of its types (and decided there
 * alone when it has nothing else), and one whose types and categories exclude each other under none.
 */
export class SubscriptionIndex<T extends Indexed> {
  private readonly buckets: Record<IndexKey, Map<string | number, Bucket<T>>> = {
    entityId: new Map(), userId: new Map(), type: new Map(), entityType: new Map(), severity: new Map(),
  };
  private readonly wildcard = bucket<T>();
  /** atLeast[s]: filters whose only criterion is min_severity = s. */
  private readonly atLeast: Array<Set<T>> = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(item: T): void {
    this.file(item, (set) => set.add(item), (map, value) => {
      let b = map.get(value);
      if (!b) map.set(value, (b = bucket()));
      return b;
    });
    this.count++;
  }

  remove(item: T): void {
    this.file(item, (set) => set.delete(item), (map, value) => map.get(value), (map, value, b) => {
      if (b.exact.size === 0 && b.checked.size === 0) map.delete(value);
    });
    this.count--;
  }

  /** Calls `visit` for every subscription whose filter matches the event. */
  forEachMatch(event: StoredAuditEvent, visit: (item: T) => void): void {
    const { buckets } = this;
    visitBucket(buckets.entityId.get(event.entityId), event, visit);
    visitBucket(buckets.userId.get(event.userId), event, visit);
    visitBucket(buckets.type.get(event.type), event, visit);
    visitBucket(buckets.entityType.get(event.entityType), event, visit);
    visitBucket(buckets.severity.get(event.severity), event, visit);
    visitBucket(this.wildcard, event, visit);
    for (let s = 1; s <= event.severity && s < this.atLeast.length; s++) this.atLeast[s]?.forEach(visit);
  }

  /** Applies `change` to the set the item belongs in, finding (or creating) its buckets with `bucketOf`. */
  private file(
    item: T,
    change: (set: Set<T>) => void,
    bucketOf: (map: Map<string | number, Bucket<T>>, value: string | number) => Bucket<T> | undefined,
    after?: (map: Map<string | number, Bucket<T>>, value: string | number, b: Bucket<T>) => void,
  ): void {
    const f = item.filter;
    const sole = f.soleCriterion?.();
    if (sole === 'minSeverity') {
      const bound = f.source.minSeverity as Severity;
      change((this.atLeast[bound] ??= new Set()));
      return;
    }
    const [key, values] = placement(f);
    if (!key) {
      change(sole === 'none' ? this.wildcard.exact : this.wildcard.checked);
      return;
    }
    for (const value of values) {
      const b = bucketOf(this.buckets[key], value);
      if (!b) continue;
      change(sole === key ? b.exact : b.checked);
      after?.(this.buckets[key], value, b);
    }
  }
}

function placement(f: CompiledFilter): [IndexKey | undefined, Iterable<string | number>] {
  if (f.entityIds) return ['entityId', f.entityIds];
  if (f.userIds) return ['userId', f.userIds];
  if (f.eventTypes) return ['type', f.eventTypes];
  if (f.entityTypes) return ['entityType', f.entityTypes];
  if (f.severities) return ['severity', f.severities];
  return [undefined, []];
}

/** Plain loops rather than Set.forEach with a closure per event: this runs for every candidate. */
function visitBucket<T extends Indexed>(b: Bucket<T> | undefined, event: StoredAuditEvent, visit: (item: T) => void): void {
  if (!b) return;
  for (const item of b.exact) visit(item);
  for (const item of b.checked) if (item.filter.matches(event)) visit(item);
}
