import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { CATEGORIES, EVENT_TYPES, typeInfo, type EventType, type Severity } from '../../src/domain/catalog.js';
import type { StoredAuditEvent } from '../../src/domain/event.js';
import { MATCH_ALL, type Filter } from '../../src/domain/filter.js';
import { compileFilter, excluding, type CompiledFilter } from '../../src/filtering/compiled-filter.js';
import { SubscriptionIndex } from '../../src/filtering/subscription-index.js';

/** A small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const some = <T>(r: () => number, xs: readonly T[]): T[] => (r() < 0.5 ? [] : [pick(r, xs), pick(r, xs)]);
const TYPES = EVENT_TYPES.slice(0, 6);
const ENTITIES = ['e1', 'e2', 'e3', 'e4'];
const USERS = ['u1', 'u2', 'u3'];

function event(r: () => number, sequence: number): StoredAuditEvent {
  return {
    id: `id-${sequence}`, type: pick(r, TYPES) as EventType, severity: (1 + Math.floor(r() * 5)) as Severity,
    timestamp: new Date(1_000_000 + sequence), userId: pick(r, USERS), entityType: pick(r, ['call', 'bid']),
    entityId: pick(r, ENTITIES), action: 'a', result: 'SUCCESS', metadata: {}, correlationId: '', source: '',
    traceparent: '', sequence, receivedAt: new Date(), previousHash: new Uint8Array(), hash: new Uint8Array(),
    metadataCommitments: {}, metadataSalts: {},
  };
}

function filter(r: () => number): Filter {
  return {
    ...MATCH_ALL,
    eventTypes: some(r, TYPES) as EventType[], severities: some(r, [1, 2, 3, 4, 5] as Severity[]),
    minSeverity: r() < 0.3 ? (3 as Severity) : undefined, entityTypes: some(r, ['call', 'bid']),
    entityIds: some(r, ENTITIES), userIds: some(r, USERS),
  };
}

/** A filter with one criterion only (which the index decides alone), or none. */
function soleFilter(r: () => number): Filter {
  const choices: Array<() => Filter> = [
    () => ({ ...MATCH_ALL, entityIds: [pick(r, ENTITIES)] }), () => ({ ...MATCH_ALL, userIds: [pick(r, USERS)] }),
    () => ({ ...MATCH_ALL, eventTypes: [pick(r, TYPES) as EventType] }), () => ({ ...MATCH_ALL, entityTypes: ['bid'] }),
    () => ({ ...MATCH_ALL, severities: [pick(r, [1, 2, 5] as Severity[])] }), () => ({ ...MATCH_ALL, minSeverity: pick(r, [2, 4] as Severity[]) }),
    () => MATCH_ALL,
  ];
  return pick(r, choices)();
}

test('the index finds exactly the subscriptions a linear scan finds', () => {
  const r = rng(7);
  const index = new SubscriptionIndex<{ filter: CompiledFilter; n: number }>();
  // Mixed filters, single-criterion ones, and single-criterion ones behind a wrapper that narrows them.
  const subs = Array.from({ length: 300 }, (_, n) => {
    const compiled = compileFilter(n % 3 === 1 ? soleFilter(r) : filter(r));
    const narrowed = n % 5 === 0 ? excluding(compiled, (e) => e.sequence % 2 === 0) : compiled;
    return { filter: narrowed, n };
  });
  subs.forEach((s) => index.add(s));
  subs.filter((s) => s.n % 3 === 0).forEach((s) => index.remove(s)); // removal keeps it exact
  const kept = subs.filter((s) => s.n % 3 !== 0);
  assert.equal(index.size, kept.length);
  for (let i = 1; i <= 500; i++) {
    const e = event(r, i);
    const found: number[] = [];
    index.forEachMatch(e, (s) => found.push(s.n));
    const expected = kept.filter((s) => s.filter.matches(e)).map((s) => s.n);
    assert.deepEqual(found.sort((a, b) => a - b), expected);
  }
});

test('matching costs in proportion to the candidates, not to all subscriptions', () => {
  let evaluated = 0;
  const counted = (f: Filter) => {
    const compiled = compileFilter(f);
    return { ...compiled, matches: (e: StoredAuditEvent) => (evaluated++, compiled.matches(e)) };
  };
  const index = new SubscriptionIndex<{ filter: CompiledFilter }>();
  for (let i = 0; i < 10_000; i++) index.add({ filter: counted({ ...MATCH_ALL, entityIds: [`entity-${i}`] }) });
  index.add({ filter: counted(MATCH_ALL) });
  const hits: unknown[] = [];
  index.forEachMatch({ ...event(rng(1), 1), entityId: 'entity-42' }, (s) => hits.push(s));
  assert.equal(hits.length, 2); // its own entity's subscription and the match-all one
  assert.equal(evaluated, 2);
});

// Categories: a filter is filed under the event types its categories hold (intersected with its
// event_types), so an event still looks up one bucket per field.
const MIXED_TYPES = EVENT_TYPES.filter((_, i) => i % 4 === 0); // a few of every category
const CATEGORY_NAMES = [...CATEGORIES];

function categoryFilter(r: () => number): Filter {
  const base = r() < 0.5 ? filter(r) : MATCH_ALL;
  const types = r() < 0.3 ? [pick(r, MIXED_TYPES), pick(r, MIXED_TYPES)] : base.eventTypes;
  return { ...base, eventTypes: types, categories: [pick(r, CATEGORY_NAMES), ...(r() < 0.5 ? [pick(r, CATEGORY_NAMES)] : [])] };
}

test('with categories, the index still finds exactly the subscriptions a linear scan finds', () => {
  const r = rng(11);
  const index = new SubscriptionIndex<{ filter: CompiledFilter; n: number }>();
  const subs = Array.from({ length: 300 }, (_, n) => {
    const compiled = compileFilter(n % 4 === 0 ? filter(r) : categoryFilter(r));
    return { filter: n % 5 === 0 ? excluding(compiled, (e) => e.sequence % 2 === 0) : compiled, n };
  });
  subs.forEach((s) => index.add(s));
  subs.filter((s) => s.n % 3 === 0).forEach((s) => index.remove(s));
  const kept = subs.filter((s) => s.n % 3 !== 0);
  assert.equal(index.size, kept.length);
  for (let i = 1; i <= 500; i++) {
    const e = { ...event(r, i), type: pick(r, MIXED_TYPES) };
    const found: number[] = [];
    index.forEachMatch(e, (s) => found.push(s.n));
    const expected = kept.filter((s) => s.filter.matches(e)).map((s) => s.n);
    assert.deepEqual(found.sort((a, b) => a - b), expected);
    // And matching itself agrees with the catalog: an event passes a category filter only in one of its categories.
    for (const s of kept) {
      const categories = s.filter.source.categories ?? [];
      if (categories.length > 0 && s.filter.matches(e)) assert.ok(categories.includes(typeInfo(e.type).category));
    }
  }
});

test('a category-only filter is decided by the type bucket alone; one its event_types exclude is filed nowhere', () => {
  let evaluated = 0;
  // Counts matches() calls but keeps the compiled filter's prototype, so soleCriterion() still tells
  // the index it may skip them.
  const counted = (f: Filter) => {
    const compiled = compileFilter(f);
    return { filter: Object.assign(Object.create(Object.getPrototypeOf(compiled)), compiled, { matches: (e: StoredAuditEvent) => (evaluated++, compiled.matches(e)) }) as CompiledFilter };
  };
  const soc = counted({ ...MATCH_ALL, categories: ['security'] });
  assert.equal(soc.filter.soleCriterion?.(), 'type');
  assert.deepEqual([...soc.filter.eventTypes!].sort(), EVENT_TYPES.filter((t) => typeInfo(t).category === 'security').sort());
  const both = counted({ ...MATCH_ALL, categories: ['security', 'calls'], eventTypes: ['LOGIN_FAILED', 'BID_ACCEPTED'] });
  assert.deepEqual([...both.filter.eventTypes!], ['LOGIN_FAILED']);
  const none = counted({ ...MATCH_ALL, categories: ['calls'], eventTypes: ['LOGIN_FAILED'] });
  assert.equal(none.filter.eventTypes?.size, 0, 'empty, not absent: it matches nothing');

  const index = new SubscriptionIndex<{ filter: CompiledFilter }>();
  for (const item of [soc, both, none]) index.add(item);
  const visit = (type: EventType): number => {
    let hits = 0;
    index.forEachMatch({ ...event(rng(3), 1), type }, () => hits++);
    return hits;
  };
  assert.equal(visit('SECURITY_BREACH'), 1); // soc only
  assert.equal(visit('LOGIN_FAILED'), 2); // soc and both
  assert.equal(visit('CALL_CREATED'), 0); // none is in no bucket
  assert.equal(evaluated, 0, 'sole-criterion filters matched without running matches()');
  for (const item of [soc, both, none]) index.remove(item);
  assert.equal(index.size, 0);
  assert.equal(visit('LOGIN_FAILED'), 0);
});

test('a narrowed filter (resume token, caller visibility) is filed by its fields, always runs matches(), and reports exhaustion', () => {
  const compiled = compileFilter({ ...MATCH_ALL, eventTypes: ['LOGIN_FAILED'], expression: 'event.sequence > 0' });
  const narrowed = excluding(compiled, (e) => e.sequence === 1);
  assert.deepEqual([...narrowed.eventTypes!], ['LOGIN_FAILED'], 'filed under the inner filter\'s types');
  assert.equal(narrowed.soleCriterion?.(), undefined, 'the index alone never decides it');
  assert.equal(excluding(compileFilter({ ...MATCH_ALL, eventTypes: ['LOGIN_FAILED'] }), () => false).soleCriterion?.(), undefined);
  assert.equal(typeof narrowed.whenExhausted, 'function', 'exhaustion of the inner expression reaches the owner');
});
