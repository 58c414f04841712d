/**
 * Bench worker for scenario 5: the cost of finding the subscriptions that match one event, with N
 * subscriptions holding varied filters, through SubscriptionIndex (src/filtering) versus calling every
 * compiled filter (a linear scan). A data-structure benchmark, so it runs in-process here, in a
 * process of its own. Deterministic (seeded) filters and events.
 * Command (IPC): run {sizes, minMs, reps}. Reply: result {results}.
 */
import { EVENT_TYPES, type EventType, type Severity } from '../../src/domain/catalog.js';
import type { StoredAuditEvent } from '../../src/domain/event.js';
import type { Filter } from '../../src/domain/filter.js';
import { compileFilter, type CompiledFilter } from '../../src/filtering/compiled-filter.js';
import { SubscriptionIndex } from '../../src/filtering/subscription-index.js';
import { LRUCache } from 'lru-cache';
import { median } from '../support/stats.js';
import { reply, serveParent } from '../support/worker-ipc.js';
import { seededRandom } from '../support/random.js';

const ENTITIES = 10_000;
const USERS = 5_000;
const ENTITY_TYPES = ['call', 'bid', 'payment', 'session', 'config'];
const EVENTS = 2_000;
/** The route cache's streams: each event routed once. */
const FRESH_EVENTS = 20_000;

const random = seededRandom();
const below = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[below(items.length)];
const some = <T>(n: number, make: () => T): T[] => [...new Set(Array.from({ length: n }, make))];
const severity = (): Severity => (1 + below(5)) as Severity;

const EMPTY: Filter = { eventTypes: [], severities: [], entityTypes: [], entityIds: [], userIds: [], expression: '' };

/**
 * The mix of filters (shares of N). Mostly selective subscriptions (an entity or a user being
 * watched), some broader ones (dashboards by type, entity type, severity), a few with CEL, a few with
 * no indexable field. With it an event matches about 0.5-1% of the subscriptions.
 */
export const FILTER_MIX: ReadonlyArray<readonly [number, string, () => Filter]> = [
  [0.7, '1-3 entity ids', () => ({ ...EMPTY, entityIds: some(1 + below(3), () => `entity-${below(ENTITIES)}`) })],
  [0.2, '1-2 user ids, half of them with min_severity MEDIUM', () => ({
    ...EMPTY, userIds: some(1 + below(2), () => `user-${below(USERS)}`), minSeverity: random() < 0.5 ? 3 : undefined,
  })],
  [0.05, '1-3 event types, a third of them with an entity type', () => ({
    ...EMPTY, eventTypes: some(1 + below(3), () => pick(EVENT_TYPES)), entityTypes: random() < 1 / 3 ? [pick(ENTITY_TYPES)] : [],
  })],
  [0.03, 'an entity type with 1-2 exact severities', () => ({ ...EMPTY, entityTypes: [pick(ENTITY_TYPES)], severities: some(1 + below(2), severity) })],
  [0.01, 'exact severity CRITICAL only', () => ({ ...EMPTY, severities: [5] })],
  [0.005, 'one event type and a CEL expression on metadata', () => ({
    ...EMPTY, eventTypes: [pick(EVENT_TYPES)], expression: `event.metadata.amount > ${below(100)}.0`,
  })],
  [0.005, 'min_severity HIGH only (no indexable field)', () => ({ ...EMPTY, minSeverity: 4 })],
];

function makeFilter(): Filter {
  let r = random();
  for (const [share, , make] of FILTER_MIX) {
    if (r < share) return make();
    r -= share;
  }
  return FILTER_MIX[0][2]();
}

function makeEvents(count = EVENTS): StoredAuditEvent[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    id: `evt-${i}`, type: pick(EVENT_TYPES) as EventType, severity: severity(), timestamp: new Date(now + i),
    userId: `user-${below(USERS)}`, entityType: pick(ENTITY_TYPES), entityId: `entity-${below(ENTITIES)}`,
    action: 'update', result: 'SUCCESS', metadata: { amount: below(10_000) / 100 }, correlationId: '', source: 'bench',
    traceparent: '', sequence: i + 1, receivedAt: new Date(now + i), previousHash: new Uint8Array(32), hash: new Uint8Array(32),
    metadataCommitments: {}, metadataSalts: {},
  }));
}

interface Item {
  readonly filter: CompiledFilter;
}

/**
 * The specification's route cache, measured before it is built: matches remembered per routing key
 * (type, severity, entity type, entity id, user id) in an LRU, dropped when a subscription comes or
 * goes. An upper bound on what a route cache can save: a real one would still run the filters with an
 * expression or a time range on every event (this one trusts its cached list for them too).
 */
function routeCached(index: SubscriptionIndex<Item>): { match: (e: StoredAuditEvent) => number; hitRate: () => number } {
  const cache = new LRUCache<string, Item[]>({ max: 10_000 });
  let hits = 0;
  let lookups = 0;
  return {
    match(e) {
      lookups++;
      const key = `${e.type}\0${e.severity}\0${e.entityType}\0${e.entityId}\0${e.userId}`;
      let matched = cache.get(key);
      if (matched) hits++;
      else {
        const found: Item[] = [];
        index.forEachMatch(e, (item) => found.push(item));
        cache.set(key, (matched = found));
      }
      return matched.length;
    },
    hitRate: () => (lookups ? hits / lookups : 0),
  };
}

/** A hot stream: 90% of events repeat one of 50 routing keys (a few busy entities), the rest as uniform. */
function hotEvents(events: StoredAuditEvent[]): StoredAuditEvent[] {
  const hot = events.slice(0, 50);
  return events.map((e, i) => (random() < 0.9 ? { ...hot[i % hot.length]!, sequence: e.sequence } : e));
}

/** ns per event of `match` over the events, repeated until at least minMs has passed. */
function timePerEvent(events: StoredAuditEvent[], minMs: number, match: (e: StoredAuditEvent) => number): { ns: number; matches: number } {
  let processed = 0;
  let matches = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < events.length; i++) {
      matches += match(events[i]);
      processed++;
      if ((processed & 63) === 0 && performance.now() - start >= minMs && processed >= 64) break;
    }
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return { ns: (elapsed * 1e6) / processed, matches: matches / processed };
}

/** ns per event of `match` over one pass of the events (each routed once, as a live stream is). */
function onePass(events: StoredAuditEvent[], match: (e: StoredAuditEvent) => number): number {
  const start = performance.now();
  for (const e of events) match(e);
  return ((performance.now() - start) * 1e6) / events.length;
}

function measure(n: number, minMs: number, reps: number): Record<string, unknown> {
  const buildStart = performance.now();
  const items: Item[] = Array.from({ length: n }, () => ({ filter: compileFilter(makeFilter()) }));
  const compileMs = performance.now() - buildStart;
  const indexStart = performance.now();
  const index = new SubscriptionIndex<Item>();
  for (const item of items) index.add(item);
  const indexBuildMs = performance.now() - indexStart;
  const events = makeEvents();

  const viaIndex = (e: StoredAuditEvent): number => {
    let count = 0;
    index.forEachMatch(e, () => {
      count++;
    });
    return count;
  };
  const linear = (e: StoredAuditEvent): number => {
    let count = 0;
    for (let i = 0; i < items.length; i++) if (items[i].filter.matches(e)) count++;
    return count;
  };
  // Both must find the same subscriptions for every event.
  let disagreements = 0;
  for (const e of events) if (viaIndex(e) !== linear(e)) disagreements++;

  // The route cache sees each event once, as the router would: a fresh stream, one pass, cold cache
  // (replaying the 2,000 events above would hit on every repeat).
  const fresh = makeEvents(FRESH_EVENTS);
  const indexNs: number[] = [];
  const linearNs: number[] = [];
  const cachedNs: number[] = [];
  const freshIndexNs: number[] = [];
  const hotIndexNs: number[] = [];
  const hotCachedNs: number[] = [];
  let matchesPerEvent = 0;
  let hitRate = 0;
  let hotHitRate = 0;
  for (let r = 0; r < reps; r++) {
    const a = timePerEvent(events, minMs, viaIndex);
    const b = timePerEvent(events, minMs, linear);
    freshIndexNs.push(onePass(fresh, viaIndex));
    const uniformCache = routeCached(index);
    cachedNs.push(onePass(fresh, uniformCache.match));
    hitRate = uniformCache.hitRate();
    const hotStream = hotEvents(fresh);
    hotIndexNs.push(onePass(hotStream, viaIndex));
    const hotCache = routeCached(index);
    hotCachedNs.push(onePass(hotStream, hotCache.match));
    hotHitRate = hotCache.hitRate();
    indexNs.push(a.ns);
    linearNs.push(b.ns);
    matchesPerEvent = a.matches;
  }
  return {
    subscriptions: n, indexNsPerEvent: median(indexNs), linearNsPerEvent: median(linearNs), indexRuns: indexNs, linearRuns: linearNs,
    freshIndexNsPerEvent: median(freshIndexNs), routeCacheNsPerEvent: median(cachedNs), routeCacheHitRate: hitRate,
    hotIndexNsPerEvent: median(hotIndexNs), hotRouteCacheNsPerEvent: median(hotCachedNs), hotRouteCacheHitRate: hotHitRate,
    matchesPerEvent, disagreements, compileMs, indexBuildMs,
  };
}

serveParent((m) => {
  if (m.type === 'run') {
    const results = (m.sizes as number[]).map((n) => measure(n, Number(m.minMs), Number(m.reps)));
    reply({ type: 'result', results, mix: FILTER_MIX.map(([share, what]) => `${share * 100}% ${what}`) });
  } else if (m.type === 'close') process.exit(0);
});
