import assert from '../support/assert.js';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import type { Filter } from '../../generated/audit/v1/audit_service.js';
import { EventType, Result, Severity, type AuditEvent } from '../../generated/audit/v1/event.js';
import { filterOf, publish, startServer, StreamReader, waitFor, type TestServer } from '../support/server.js';
import { toTimestamp } from '../../src/contract/time-mapping.js';
import type { Timestamp } from '../../generated/google/protobuf/timestamp.js';

const { EVENT_TYPE_CALL_CREATED: CALL_CREATED, EVENT_TYPE_BID_ACCEPTED: BID_ACCEPTED, EVENT_TYPE_LOGIN_FAILED: LOGIN_FAILED } = EventType;
const { SEVERITY_INFO: INFO, SEVERITY_MEDIUM: MEDIUM, SEVERITY_HIGH: HIGH, SEVERITY_CRITICAL: CRITICAL } = Severity;

/** A varied set of events; each case below subscribes, publishes all of them and checks what arrives. */
// In the future, so time ranges select among live events (replay of past ranges is the log's test).
const T0 = new Date(Date.now() + 3_600_000);
const minutes = (m: number): Timestamp => toTimestamp(new Date(T0.getTime() + m * 60_000));
const corpus: Partial<AuditEvent>[] = [
  { type: CALL_CREATED, severity: INFO, entityType: 'call', entityId: 'c1', userId: 'alice', timestamp: minutes(0), metadata: { amount: 10 } },
  { type: CALL_CREATED, severity: HIGH, entityType: 'call', entityId: 'c2', userId: 'bob', timestamp: minutes(1), metadata: { amount: 500 } },
  { type: BID_ACCEPTED, severity: MEDIUM, entityType: 'bid', entityId: 'b1', userId: 'alice', timestamp: minutes(2), result: Result.RESULT_FAILURE },
  { type: LOGIN_FAILED, severity: CRITICAL, entityType: 'session', entityId: 's1', userId: 'carol', timestamp: minutes(3), action: 'login' },
  { type: BID_ACCEPTED, severity: INFO, entityType: 'bid', entityId: 'b2', userId: 'bob', timestamp: minutes(4), metadata: { amount: 150, currency: 'EUR' } },
];

const cases: Array<[string, Partial<Filter>, string[]]> = [
  ['no filter matches everything', {}, ['c1', 'c2', 'b1', 's1', 'b2']],
  ['event_types', { eventTypes: [BID_ACCEPTED] }, ['b1', 'b2']],
  ['event_types is OR within the field', { eventTypes: [BID_ACCEPTED, LOGIN_FAILED] }, ['b1', 's1', 'b2']],
  ['severities is exact membership', { severities: [INFO, CRITICAL] }, ['c1', 's1', 'b2']],
  ['min_severity is a lower bound', { minSeverity: MEDIUM }, ['c2', 'b1', 's1']],
  ['entity_types', { entityTypes: ['bid', 'session'] }, ['b1', 's1', 'b2']],
  ['entity_ids', { entityIds: ['c2', 'b2'] }, ['c2', 'b2']],
  ['user_ids', { userIds: ['alice'] }, ['c1', 'b1']],
  ['time_range is inclusive', { timeRange: { start: minutes(1), end: minutes(3) } }, ['c2', 'b1', 's1']],
  ['CEL expression', { expression: 'event.metadata.amount > 100.0 && event.type == "BID_ACCEPTED"' }, ['b2']],
  ['CEL over enums and strings', { expression: 'event.severity == "CRITICAL" || event.result == "FAILURE"' }, ['b1', 's1']],
  ['AND across fields', { eventTypes: [CALL_CREATED, BID_ACCEPTED], userIds: ['bob'], minSeverity: HIGH }, ['c2']],
  ['a filter that matches nothing is legal', { entityIds: ['no-such-entity'] }, []],
  // Categories of the catalog: calls (CALL_CREATED), bids (BID_ACCEPTED), security (LOGIN_FAILED).
  ['categories', { categories: ['security'] }, ['s1']],
  ['categories is OR within the field, names in any case', { categories: ['calls', 'SECURITY'] }, ['c1', 'c2', 's1']],
  ['categories intersect event_types', { categories: ['bids', 'calls'], eventTypes: [BID_ACCEPTED, LOGIN_FAILED] }, ['b1', 'b2']],
  ['categories that exclude every listed type match nothing', { categories: ['calls'], eventTypes: [BID_ACCEPTED] }, []],
  ['categories AND other fields', { categories: ['bids', 'calls'], userIds: ['bob'] }, ['c2', 'b2']],
  ['all fields combined', {
    eventTypes: [BID_ACCEPTED], severities: [INFO, MEDIUM], entityTypes: ['bid'], entityIds: ['b1', 'b2'], userIds: ['bob'],
    timeRange: { start: minutes(0), end: minutes(10) }, expression: 'has(event.metadata.currency)',
  }, ['b2']],
];

describe('Subscribe filters', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  for (const [name, filter, expected] of cases) {
    test(name, async () => {
      const reader = StreamReader.open(server.client, { filter: filterOf(filter) });
      const { subscriptionId } = await reader.started();
      const run = `${Math.random()}`; // keeps this case's events apart from earlier cases'
      for (const e of corpus) await publish(server.client, { ...e, correlationId: run });
      const got = await reader.eventsUntil(expected.length);
      assert.deepEqual(got.map((e) => e.entityId), expected);
      assert.ok(got.every((e) => e.correlationId === run));
      // Nothing more is coming: the server examined every event and delivered exactly these.
      const stats = await deliveredWhenCaughtUp(server, subscriptionId);
      assert.equal(stats.delivered, expected.length);
      assert.equal(stats.matched, expected.length);
      reader.cancel();
    });
  }
});

async function deliveredWhenCaughtUp(server: TestServer, subscriptionId: string) {
  return waitFor('the subscription to catch up', async () => {
    const { subscription } = await server.api.subscriptionStats(subscriptionId);
    return subscription && subscription.lag === 0 ? subscription : undefined;
  });
}

test('two subscribers with different filters each get their own events', async () => {
  const server = await startServer();
  try {
    const calls = StreamReader.open(server.client, { filter: filterOf({ entityTypes: ['call'] }) });
    const severe = StreamReader.open(server.client, { filter: filterOf({ minSeverity: HIGH }) });
    await Promise.all([calls.started(), severe.started()]);
    for (const e of corpus) await publish(server.client, e);
    assert.deepEqual((await calls.eventsUntil(2)).map((e) => e.entityId), ['c1', 'c2']);
    assert.deepEqual((await severe.eventsUntil(2)).map((e) => e.entityId), ['c2', 's1']);
  } finally {
    await server.close();
  }
});
