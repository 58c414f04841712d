import type { AppendResult } from '../domain/ports.js';
import { SubscriptionIndex } from '../filtering/subscription-index.js';
import type { Subscription } from './subscription.js';

/** The open subscriptions, indexed for routing. */
export class SubscriptionRegistry {
  private readonly index = new SubscriptionIndex<Subscription>();
  private readonly byId = new Map<string, Subscription>();
  /** The highest sequence offered to subscriptions so far. */
  routedThrough = 0;

  get size(): number {
    return this.byId.size;
  }

  add(sub: Subscription): void {
    this.byId.set(sub.id, sub);
    this.index.add(sub);
  }

  remove(sub: Subscription): void {
    if (this.byId.get(sub.id) !== sub) return;
    this.byId.delete(sub.id);
    this.index.remove(sub);
  }

  get(id: string): Subscription | undefined {
    return this.byId.get(id);
  }

  list(): Subscription[] {
    return [...this.byId.values()];
  }

  /** Offers each newly stored event to the subscriptions whose filters match it. */
  route(results: readonly AppendResult[]): void {
    for (const { event, duplicate } of results) {
      if (duplicate) continue;
      this.index.forEachMatch(event, (sub) => sub.offer(event));
      this.routedThrough = event.sequence;
    }
  }
}
