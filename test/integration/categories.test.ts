import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { status, type ServiceError } from '@grpc/grpc-js';
import { QueryOrder } from '../../generated/audit/v1/audit_service.js';
import { EventType, Severity, type AuditEvent } from '../../generated/audit/v1/event.js';
import { queryPage } from '../support/history.js';
import { filterOf, publish, startServer, StreamReader, waitFor, type TestServer } from '../support/server.js';
import { SseClient } from '../support/sse-client.js';
import { WsClient } from '../support/ws-client.js';

// The category filter on every transport: gRPC Subscribe and Query (on both stores), the WebSocket
// filter's `categories`, SSE's repeatable `category` parameter; and an unknown category refused by each.

const T = EventType;
/** One event of each category (and a second security one); entity ids name them. */
const corpus: Array<[EventType, string]> = [
  [T.EVENT_TYPE_CALL_CREATED, 'calls-1'], [T.EVENT_TYPE_BID_ACCEPTED, 'bids-1'], [T.EVENT_TYPE_PAYMENT_PROCESSED, 'financial-1'],
  [T.EVENT_TYPE_CONSENT_GRANTED, 'compliance-1'], [T.EVENT_TYPE_LOGIN_FAILED, 'security-1'], [T.EVENT_TYPE_DATA_EXPORTED, 'data-1'],
  [T.EVENT_TYPE_CONFIG_CHANGED, 'system-1'], [T.EVENT_TYPE_SECURITY_BREACH, 'security-2'],
];

async function publishCorpus(server: TestServer, run: string): Promise<void> {
  for (const [type, entityId] of corpus) await publish(server.client, { type, entityId, correlationId: run, severity: Severity.SEVERITY_HIGH });
}

const ids = (events: Array<{ entityId?: string }>): string[] => events.map((e) => e.entityId ?? '');

async function rejected(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  assert.fail('expected an error');
}

test('gRPC Subscribe: categories select their types; ListSubscriptions shows them as given; an unknown one is INVALID_ARGUMENT', async () => {
  const server = await startServer();
  try {
    const security = StreamReader.open(server.client, { filter: filterOf({ categories: ['security'] }) });
    const mixed = StreamReader.open(server.client, { filter: filterOf({ categories: ['Calls', 'data'], minSeverity: Severity.SEVERITY_HIGH }) });
    const both = StreamReader.open(server.client, { filter: filterOf({ categories: ['security'], eventTypes: [T.EVENT_TYPE_SECURITY_BREACH, T.EVENT_TYPE_CALL_CREATED] }) });
    await Promise.all([security.started(), mixed.started(), both.started()]);
    const listed = (await server.api.listSubscriptions()).subscriptions.map((s) => s.filter?.categories);
    assert.deepEqual(listed, [['security'], ['calls', 'data'], ['security']], 'names as the catalog spells them');
    await publishCorpus(server, 'live');
    assert.deepEqual(ids(await security.eventsUntil(2)), ['security-1', 'security-2']);
    assert.deepEqual(ids(await mixed.eventsUntil(2)), ['calls-1', 'data-1']);
    assert.deepEqual(ids(await both.eventsUntil(1)), ['security-2']);
    // Nothing else is coming: each has examined every event.
    for (const [reader, n] of [[security, 2], [mixed, 2], [both, 1]] as const) {
      const { subscriptionId } = await reader.started();
      const stats = await waitFor('the subscription to catch up', async () => {
        const { subscription } = await server.api.subscriptionStats(subscriptionId);
        return subscription && subscription.lag === 0 ? subscription : undefined;
      });
      assert.equal(stats.delivered, n);
      reader.cancel();
    }

    const refused = StreamReader.open(server.client, { filter: filterOf({ categories: ['security', 'payments'] }) });
    const result = (await refused.ended()) as ServiceError;
    assert.equal(result.code, status.INVALID_ARGUMENT);
    assert.match(result.details, /^filter\.categories\[1\]: unknown category "payments"; use calls, bids, financial, compliance, security, data, system/);
    assert.equal(result.metadata.get('invalid-field')[0], 'filter.categories[1]');
  } finally {
    await server.close();
  }
});

for (const storage of ['sqlite', 'memory'] as const) {
  test(`Query (${storage} log): categories become the types they hold, intersected with event_types; an unknown one is INVALID_ARGUMENT`, async () => {
    const server = await startServer(storage === 'memory' ? { storage: { type: 'memory' } } : {});
    try {
      await publishCorpus(server, 'history');
      const query = async (filter: Parameters<typeof filterOf>[0], limit = 0): Promise<{ events: AuditEvent[]; next: string }> =>
        queryPage(server.client, { filter: filterOf(filter), order: QueryOrder.QUERY_ORDER_ASCENDING, limit });
      assert.deepEqual(ids((await query({ categories: ['security'] })).events), ['security-1', 'security-2']);
      assert.deepEqual(ids((await query({ categories: ['compliance', 'financial'] })).events), ['financial-1', 'compliance-1']);
      assert.deepEqual(ids((await query({ categories: ['security', 'calls'], eventTypes: [T.EVENT_TYPE_LOGIN_FAILED, T.EVENT_TYPE_BID_ACCEPTED] })).events), ['security-1']);
      assert.deepEqual(await query({ categories: ['calls'], eventTypes: [T.EVENT_TYPE_BID_ACCEPTED] }), { events: [], next: '' }, 'exclusive: nothing');
      // With a CEL expression (a predicate in JS) and across pages.
      const first = await query({ categories: ['security', 'system'], expression: 'event.category != "system" || event.action != ""' }, 2);
      assert.deepEqual(ids(first.events), ['security-1', 'system-1']);
      const second = await queryPage(server.client, {
        filter: filterOf({ categories: ['security', 'system'] }), order: QueryOrder.QUERY_ORDER_ASCENDING, limit: 2, pageToken: first.next,
      });
      assert.deepEqual([ids(second.events), second.next], [['security-2'], '']);

      const err = await rejected(query({ categories: ['nope'] }));
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /^filter\.categories\[0\]: unknown category "nope"/);
    } finally {
      await server.close();
    }
  });
}

test('WebSocket: the filter\'s categories field; an unknown category gets an error frame naming filter.categories[i]', async () => {
  const server = await startServer();
  try {
    const ws = await WsClient.open(server.httpUrl);
    await ws.subscribe('soc', { filter: { categories: ['security'] } });
    await ws.subscribe('money', { filter: { categories: ['financial', 'BIDS'], event_types: ['PAYMENT_PROCESSED', 'BID_ACCEPTED', 'LOGIN_FAILED'] } });
    await publishCorpus(server, 'ws');
    assert.deepEqual(ids(await ws.eventsUntil('soc', 2)), ['security-1', 'security-2']);
    assert.deepEqual(ids(await ws.eventsUntil('money', 2)), ['bids-1', 'financial-1']);

    for (const [id, filter, field] of [
      ['bad-name', { categories: ['security', 'secrets'] }, 'filter.categories[1]'],
      ['bad-kind', { categories: [7] }, 'filter.categories[0]'],
      ['not-a-list', { categories: 'security' }, 'filter.categories'],
    ] as const) {
      const from = ws.frames.length;
      ws.send({ type: 'subscribe', id, filter });
      const frame = await ws.until(`the error for ${id}`, () => ws.frames.slice(from).find((f) => f.id === id));
      assert.equal(frame.type, 'error', id);
      assert.equal(frame.error.code, 'INVALID_ARGUMENT');
      assert.equal(frame.error.field, field, id);
    }
    // The connection stays usable, and the good subscriptions saw nothing more.
    await publish(server.client, { type: T.EVENT_TYPE_PERMISSION_DENIED, entityId: 'security-3' });
    assert.deepEqual(ids(await ws.eventsUntil('soc', 3)), ['security-1', 'security-2', 'security-3']);
    assert.equal(ws.events('money').length, 2);
    ws.close();
  } finally {
    await server.close();
  }
});

test('SSE: the repeatable category parameter; an unknown category is 400 naming category[i]', async () => {
  const server = await startServer();
  try {
    const sse = await SseClient.open(`${server.httpUrl}/v1/events?category=security&category=data`);
    assert.equal(sse.response.statusCode, 200);
    await sse.until('subscribed', () => sse.messages.find((m) => m.event === 'subscribed'));
    const narrowed = await SseClient.open(`${server.httpUrl}/v1/events?category=security&type=SECURITY_BREACH&type=DATA_EXPORTED`);
    await narrowed.until('subscribed', () => narrowed.messages.find((m) => m.event === 'subscribed'));
    await publishCorpus(server, 'sse');
    assert.deepEqual(ids(await sse.eventsUntil(3)), ['security-1', 'data-1', 'security-2']);
    assert.deepEqual(ids(await narrowed.eventsUntil(1)), ['security-2']);
    sse.close();
    narrowed.close();

    const res = await fetch(`${server.httpUrl}/v1/events?category=security&category=secrets`);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; field: string; message: string } };
    assert.equal(body.error.code, 'INVALID_ARGUMENT');
    assert.equal(body.error.field, 'category[1]');
    assert.match(body.error.message, /unknown category "secrets"/);
  } finally {
    await server.close();
  }
});
