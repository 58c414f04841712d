import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { makeEvent, publish, startServer, waitFor } from '../support/server.js';
import { SseClient } from '../support/sse-client.js';

const { EVENT_TYPE_CALL_CREATED: CALL_CREATED, EVENT_TYPE_BID_ACCEPTED: BID_ACCEPTED, EVENT_TYPE_LOGIN_FAILED: LOGIN_FAILED } = EventType;
const { SEVERITY_INFO: INFO, SEVERITY_MEDIUM: MEDIUM, SEVERITY_CRITICAL: CRITICAL } = Severity;

test('the filter in the query string; id: is the sequence', async () => {
  const server = await startServer();
  try {
    const sse = await SseClient.open(`${server.httpUrl}/v1/events?type=CALL_CREATED&type=EVENT_TYPE_LOGIN_FAILED&min_severity=medium&user_id=alice&user_id=carol`);
    assert.equal(sse.response.statusCode, 200);
    assert.match(sse.response.headers['content-type'] ?? '', /^text\/event-stream/);
    const subscribed = await sse.until('the subscribed message', () => sse.messages.find((m) => m.event === 'subscribed'));
    assert.equal(subscribed.id, '0');
    assert.ok(JSON.parse(subscribed.data!).subscriptionId);
    assert.equal(JSON.parse(subscribed.data!).cursor, '0'); // printed even at 0, as a string (uint64)

    const corpus = [
      { type: CALL_CREATED, severity: MEDIUM, userId: 'alice', entityId: 'match-1' },
      { type: CALL_CREATED, severity: INFO, userId: 'alice', entityId: 'too-low' },
      { type: BID_ACCEPTED, severity: CRITICAL, userId: 'alice', entityId: 'wrong-type' },
      { type: LOGIN_FAILED, severity: CRITICAL, userId: 'bob', entityId: 'wrong-user' },
      { type: LOGIN_FAILED, severity: CRITICAL, userId: 'carol', entityId: 'match-2' },
    ];
    const acks = [];
    for (const e of corpus) acks.push(await publish(server.client, e));
    const events = await sse.eventsUntil(2);
    assert.deepEqual(events.map((e) => e.entityId), ['match-1', 'match-2']);
    assert.equal(events[1].type, 'EVENT_TYPE_LOGIN_FAILED');
    const ids = sse.messages.filter((m) => m.event === undefined && m.data).map((m) => m.id);
    assert.deepEqual(ids, [String(acks[0].sequence), String(acks[4].sequence)]);
    assert.deepEqual(events.map((e) => e.sequence), ids); // the data's sequence is the same decimal string
    sse.close();
    await waitFor('the subscription to be freed', () => server.app.dispatcher.registry.size === 0);
  } finally {
    await server.close();
  }
});

test('Last-Event-ID resumes exactly after the last event seen', async () => {
  const server = await startServer();
  try {
    const url = `${server.httpUrl}/v1/events?entity_type=call`;
    const first = await SseClient.open(url);
    await first.until('subscribed', () => first.messages.find((m) => m.event === 'subscribed'));
    for (const id of ['c1', 'c2']) await publish(server.client, { entityType: 'call', entityId: id });
    await first.eventsUntil(2);
    const lastId = first.messages.at(-1)!.id!;
    first.close();

    for (const [entityType, entityId] of [['call', 'c3'], ['bid', 'b1'], ['call', 'c4']]) await publish(server.client, { entityType, entityId });
    const second = await SseClient.open(url, { 'last-event-id': lastId });
    await publish(server.client, { entityType: 'call', entityId: 'c5' });
    assert.deepEqual((await second.eventsUntil(3)).map((e) => e.entityId), ['c3', 'c4', 'c5']);
    second.close();

    // A first connection can start from a position with after_sequence, or after_cursor.
    const third = await SseClient.open(`${url}&after_sequence=0`);
    const all = await third.eventsUntil(5);
    assert.deepEqual(all.map((e) => e.entityId), ['c1', 'c2', 'c3', 'c4', 'c5']);
    third.close();
    const fourth = await SseClient.open(`${url}&after_cursor=${all[2].cursor}`);
    assert.deepEqual((await fourth.eventsUntil(2)).map((e) => e.entityId), ['c4', 'c5']);
    fourth.close();
  } finally {
    await server.close();
  }
});

test('a comment heartbeat carries the resume cursor as its id', async () => {
  const server = await startServer({ audit: { subscriber: { heartbeat_interval: 50 } } });
  try {
    const sse = await SseClient.open(`${server.httpUrl}/v1/events?entity_type=call`);
    await sse.until('subscribed', () => sse.messages.find((m) => m.event === 'subscribed'));
    const ack = await publish(server.client, { entityType: 'bid' }); // not matching: only the cursor moves
    const beat = await sse.until('a heartbeat past the bid', () =>
      sse.messages.find((m) => m.comments.includes('heartbeat') && m.id === String(ack.sequence)));
    assert.equal(beat.data, undefined); // a browser shows nothing, but its Last-Event-ID moves on
    assert.equal(sse.events().length, 0);
    sse.close();
  } finally {
    await server.close();
  }
});

test('a stalled reader is bounded and catches up once it reads again', async () => {
  const server = await startServer({ audit: { subscriber: { queue_size: 20, batch_size: 20 } } });
  try {
    const sse = await SseClient.open(`${server.httpUrl}/v1/events`);
    const subscribed = await sse.until('subscribed', () => sse.messages.find((m) => m.event === 'subscribed'));
    sse.response.pause();
    const padding = 'x'.repeat(32_000);
    const total = 500; // ~16 MB: well past what the socket buffers absorb (about 5 MB on loopback)
    for (let i = 0; i < total; i += 100) {
      await server.api.publishBatch({ events: Array.from({ length: 100 }, () => makeEvent({ metadata: { padding } })) });
    }
    const sub = server.app.dispatcher.subscription(JSON.parse(subscribed.data!).subscriptionId);
    await waitFor('the subscription to overflow into catch-up', () => sub.counters.overflows > 0);
    assert.ok(sub.queued <= 20);
    sse.response.resume();
    const events = await sse.eventsUntil(total, 20_000);
    assert.deepEqual(events.map((e) => e.sequence), Array.from({ length: total }, (_, i) => String(i + 1))); // uint64: strings
    sse.close();
  } finally {
    await server.close();
  }
});

test('bad requests get a status and a JSON error naming the parameter; health endpoints answer', async () => {
  const server = await startServer();
  try {
    const base = server.httpUrl;
    const cases: Array<[string, Record<string, string>, number, string | undefined]> = [
      ['/v1/events?type=CALL_CREATED&type=NOPE', {}, 400, 'type[1]'],
      ['/v1/events?min_severity=HIGH&min_severity=LOW', {}, 400, 'min_severity'],
      ['/v1/events?from=yesterday', {}, 400, 'from'],
      ['/v1/events?expression=event.(', {}, 400, 'expression'],
      ['/v1/events?colour=red', {}, 400, 'colour'],
      ['/v1/events', { 'last-event-id': 'abc' }, 400, 'Last-Event-ID'],
      ['/v1/events', { authorization: 'Basic eDp5' }, 401, undefined],
      ['/v1/stream', {}, 400, undefined],
      ['/no/such/page', {}, 404, undefined],
    ];
    for (const [path, headers, status, field] of cases) {
      const res = await fetch(base + path, { headers });
      assert.equal(res.status, status, path);
      const body = (await res.json()) as any;
      assert.equal(body.error.field, field, path);
      assert.equal(typeof body.error.message, 'string');
      assert.doesNotMatch(body.error.message, /\bat .*\.ts:\d+/); // never a stack trace
    }
    assert.equal((await fetch(`${base}/v1/events`, { method: 'POST' })).status, 405);
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { status: 'ready', ready: true, log: 'writable', shuttingDown: false, downstreams: [] });
    const page = await fetch(`${base}/`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  } finally {
    await server.close();
  }
});

test('shutdown ends the stream after what was queued, with an end event', async () => {
  const server = await startServer();
  const sse = await SseClient.open(`${server.httpUrl}/v1/events`);
  await sse.until('subscribed', () => sse.messages.find((m) => m.event === 'subscribed'));
  for (let i = 0; i < 3; i++) await publish(server.client, { entityId: `q${i}` });
  await server.close();
  await sse.endOfStream();
  assert.deepEqual(sse.events().map((e) => e.entityId), ['q0', 'q1', 'q2']);
  assert.deepEqual(JSON.parse(sse.messages.at(-1)!.data!), { reason: 'shutdown' });
});
