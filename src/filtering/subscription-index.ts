import type { StoredAuditEvent } from '../domain/event.js';
import type { CompiledFilter } from './compiled-filter.js';

export interface Indexed {
  readonly filter: CompiledFilter;
}

type Key = 'entityId' | 'userId' | 'type' | 'entityType' | 'severity';

/**
 * Finds the subscriptions that could match an event. Each subscription is filed once, under its most
 * selective constrained field (entity id, then user id, type, entity type, severity), or in the
 * wildcard list when it constrains none of them; an event then looks up one bucket per field, so the
 * cost is proportional to the candidates, not to all subscriptions. Candidates still run the full
 * filter (other fields, time range, CEL).
 */
export class SubscriptionIndex<T extends Indexed> {
  private readonly buckets: Record<Key, Map<string | number, Set<T>>> = {
    entityId: new Map(), userId: new Map(), type: new Map(), entityType: new Map(), severity: new Map(),
  };
  private readonly wildcard = new Set<T>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(item: T): void {
    const [key, values] = this.placement(item.filter);
    if (!key) this.wildcard.add(item);
    else {
      for (const value of values) {
        let bucket = this.buckets[key].get(value);
        if (!bucket) this.buckets[key].set(value, (bucket = new Set()));
        bucket.add(item);
      }
    }
    this.count++;
  }

  remove(item: T): void {
    const [key, values] = this.placement(item.filter);
    if (!key) this.wildcard.delete(item);
    else {
      for (const value of values) {
        const bucket = this.buckets[key].get(value);
        bucket?.delete(item);
        if (bucket?.size === 0) this.buckets[key].delete(value);
      }
    }
    this.count--;
  }

  /** Calls `visit` for every subscription whose filter matches the event. */
  forEachMatch(event: StoredAuditEvent, visit: (item: T) => void): void {
    const check = (item: T): void => {
      if (item.filter.matches(event)) visit(item);
    };
    this.buckets.entityId.get(event.entityId)?.forEach(check);
    this.buckets.userId.get(event.userId)?.forEach(check);
    this.buckets.type.get(event.type)?.forEach(check);
    this.buckets.entityType.get(event.entityType)?.forEach(check);
    this.buckets.severity.get(event.severity)?.forEach(check);
    this.wildcard.forEach(check);
  }

  private placement(f: CompiledFilter): [Key | undefined, Iterable<string | number>] {
    if (f.entityIds) return ['entityId', f.entityIds];
    if (f.userIds) return ['userId', f.userIds];
    if (f.eventTypes) return ['type', f.eventTypes];
    if (f.entityTypes) return ['entityType', f.entityTypes];
    if (f.severities) return ['severity', f.severities];
    return [undefined, []];
  }
}
