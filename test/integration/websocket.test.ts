import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { makeEvent, publish, startServer, waitFor } from '../support/server.js';
import { WsClient } from '../support/ws-client.js';
import { toTimestamp } from '../../src/contract/time-mapping.js';

const { EVENT_TYPE_CALL_CREATED: CALL_CREATED, EVENT_TYPE_BID_ACCEPTED: BID_ACCEPTED } = EventType;
const { SEVERITY_INFO: INFO, SEVERITY_HIGH: HIGH } = Severity;
/** Sequences from..to as the bridge writes them (uint64: decimal strings). */
const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

test('several filtered subscriptions on one connection; unsubscribe; the end of a time range', async () => {
  const server = await startServer();
  try {
    const ws = await WsClient.open(server.httpUrl);
    await ws.subscribe('all');
    // Short enum names and snake_case keys, as in DESIGN.md ...
    await ws.subscribe('high-calls', { filter: { event_types: ['CALL_CREATED'], min_severity: 'high' } });
    // ... and the proto JSON mapping's full names and lowerCamelCase keys.
    await ws.subscribe('info-bids', { filter: { eventTypes: ['EVENT_TYPE_BID_ACCEPTED'], severities: ['SEVERITY_INFO'] } });
    const published = [];
    for (const [type, severity, entityId] of [[CALL_CREATED, INFO, 'e1'], [CALL_CREATED, HIGH, 'e2'], [BID_ACCEPTED, INFO, 'e3'], [BID_ACCEPTED, HIGH, 'e4']] as const) {
      published.push(await publish(server.client, { type, severity, entityId, metadata: { n: 1 } }));
    }
    const all = await ws.eventsUntil('all', 4);
    assert.deepEqual(all.map((e) => e.entityId), ['e1', 'e2', 'e3', 'e4']);
    // uint64 as canonical proto JSON writes it: a decimal string.
    assert.deepEqual(all.map((e) => e.sequence), published.map((p) => String(p.sequence)));
    assert.equal(all[1].type, 'EVENT_TYPE_CALL_CREATED'); // the proto JSON mapping
    assert.equal(all[1].severity, 'SEVERITY_HIGH');
    assert.deepEqual(all[1].metadata, { n: 1 });
    assert.deepEqual((await ws.eventsUntil('high-calls', 1)).map((e) => e.entityId), ['e2']);
    assert.deepEqual((await ws.eventsUntil('info-bids', 1)).map((e) => e.entityId), ['e3']);

    ws.send({ type: 'subscribe', id: 'all' });
    assert.equal((await ws.frame('error', 'all')).error.code, 'ALREADY_EXISTS');
    ws.send({ type: 'unsubscribe', id: 'all' });
    assert.equal((await ws.frame('ended', 'all')).reason, 'unsubscribed');
    ws.send({ type: 'unsubscribe', id: 'nope' });
    assert.equal((await ws.frame('error', 'nope')).error.code, 'NOT_FOUND');
    await waitFor('the subscription to be freed', () => server.app.dispatcher.registry.size === 2);
    await publish(server.client, { type: CALL_CREATED, severity: HIGH, entityId: 'e5' });
    assert.deepEqual((await ws.eventsUntil('high-calls', 2)).map((e) => e.entityId), ['e2', 'e5']);
    assert.equal(ws.events('all').length, 4);

    // An Unsubscribe RPC from elsewhere ends it too, and the client is told.
    const { subscriptionId } = ws.frames.find((f) => f.type === 'subscribed' && f.id === 'info-bids');
    await server.api.unsubscribe(subscriptionId);
    assert.equal((await ws.frame('ended', 'info-bids')).reason, 'unsubscribed');

    // A time range that is over replays what it covers, then ends.
    const hourAgo = Date.now() - 3_600_000;
    await publish(server.client, { entityId: 'old', timestamp: toTimestamp(new Date(hourAgo)) });
    const window = { start: new Date(hourAgo - 60_000).toISOString(), end: new Date(hourAgo + 60_000).toISOString() };
    await ws.subscribe('past', { filter: { time_range: window } });
    assert.equal((await ws.frame('ended', 'past')).reason, 'completed');
    assert.deepEqual(ws.events('past').map((e) => e.entityId), ['old']);
    ws.close();
  } finally {
    await server.close();
  }
});

test('a client that reconnects with after_sequence gets exactly what it missed', async () => {
  const server = await startServer();
  try {
    const first = await WsClient.open(server.httpUrl);
    await first.subscribe('r', { filter: { entity_types: ['call'] } });
    for (const id of ['c1', 'c2', 'c3']) await publish(server.client, { entityType: 'call', entityId: id });
    const seen = await first.eventsUntil('r', 3);
    first.close();
    await waitFor('the old subscription to be freed', () => server.app.dispatcher.registry.size === 0);

    for (const [entityType, entityId] of [['call', 'c4'], ['bid', 'b1'], ['call', 'c5'], ['call', 'c6']]) {
      await publish(server.client, { entityType, entityId });
    }
    const second = await WsClient.open(server.httpUrl);
    // The sequence as received (a decimal string) goes straight back as after_sequence.
    const { cursor } = await second.subscribe('r', { filter: { entity_types: ['call'] }, after_sequence: seen[2].sequence });
    assert.equal(typeof cursor, 'string');
    assert.equal(cursor, seen[2].sequence);
    await publish(server.client, { entityType: 'call', entityId: 'c7' });
    const resumed = await second.eventsUntil('r', 4);
    assert.deepEqual(resumed.map((e) => e.entityId), ['c4', 'c5', 'c6', 'c7']);
    // The same with the event's cursor token (what a cluster node hands out), on the same connection.
    await second.subscribe('t', { filter: { entity_types: ['call'] }, after_cursor: resumed[1].cursor });
    assert.deepEqual((await second.eventsUntil('t', 2)).map((e) => e.entityId), ['c6', 'c7']);
    // after_sequence as a JSON number is still accepted.
    const numeric = await second.subscribe('n', { filter: { entity_types: ['call'] }, after_sequence: Number(seen[2].sequence) });
    assert.equal(numeric.cursor, seen[2].sequence);
    assert.deepEqual((await second.eventsUntil('n', 4)).map((e) => e.entityId), ['c4', 'c5', 'c6', 'c7']);
    second.close();
  } finally {
    await server.close();
  }
});

test('a client that stops reading does not hold up others, stays bounded, and later gets everything', async () => {
  const queueSize = 20;
  const server = await startServer({
    audit: { subscriber: { queue_size: queueSize, batch_size: 20 } },
    websocket: { send_buffer_size: 65_536 },
  });
  try {
    const fast = await WsClient.open(server.httpUrl);
    const stalled = await WsClient.open(server.httpUrl);
    await fast.subscribe('f');
    const { subscriptionId } = await stalled.subscribe('s');
    stalled.socket.pause(); // stop reading: the kernel buffers fill, then the server's send buffer

    const padding = 'x'.repeat(32_000); // large events, so the socket buffers fill with few of them
    const total = 600;
    for (let i = 0; i < total; i += 100) {
      await server.api.publishBatch({ events: Array.from({ length: 100 }, (_, j) => makeEvent({ entityId: `e${i + j}`, metadata: { padding } })) });
    }
    const fastEvents = await fast.eventsUntil('f', total, 20_000);
    assert.deepEqual(fastEvents.map((e) => e.sequence), range(1, total));

    const sub = server.app.dispatcher.subscription(subscriptionId);
    assert.ok(sub.counters.overflows >= 1, 'the stalled subscription switched to catch-up');
    assert.ok(sub.queued <= queueSize, `its queue holds ${sub.queued}`);
    assert.ok(sub.counters.delivered < total, `the stalled client was written ${sub.counters.delivered} events`);

    stalled.socket.resume();
    const stalledEvents = await stalled.eventsUntil('s', total, 20_000);
    assert.deepEqual(stalledEvents.map((e) => e.sequence), range(1, total));
    await waitFor('the stalled subscription to go live', () => sub.mode === 'live');
    assert.equal(sub.counters.dropped, 0);
    fast.close();
    stalled.close();
  } finally {
    await server.close();
  }
});

test('a client that stays over send_buffer_size for write_timeout is closed with 4004 (resume later)', async () => {
  const server = await startServer({ websocket: { send_buffer_size: 16_384, write_timeout: 200 } });
  try {
    const ws = await WsClient.open(server.httpUrl);
    await ws.subscribe('s');
    ws.socket.pause();
    const padding = 'x'.repeat(32_000);
    for (let i = 0; i < 3; i++) {
      await server.api.publishBatch({ events: Array.from({ length: 100 }, () => makeEvent({ metadata: { padding } })) });
    }
    // The server gives up on it: its subscription is freed while the client still is not reading.
    await waitFor('the stalled subscription to be freed', () => server.app.dispatcher.registry.size === 0);
    ws.socket.resume();
    assert.equal((await ws.closed()).code, 4004);
  } finally {
    await server.close();
  }
});

test('malformed frames get an error frame naming the problem and the connection stays open', async () => {
  const server = await startServer({ websocket: { max_message_size: 1024 } });
  try {
    const ws = await WsClient.open(server.httpUrl);
    const cases: Array<[object | string, string | undefined, RegExp]> = [
      ['not json', undefined, /not valid JSON/],
      ['[1,2]', undefined, /must be a JSON object/],
      [{ type: 'nope' }, 'type', /unknown frame type "nope"/],
      [{ type: 'subscribe' }, 'id', /is required/],
      [{ type: 'subscribe', id: 'a', filter: { event_types: ['NOPE'] } }, 'filter.event_types[0]', /unknown event type "NOPE"/],
      [{ type: 'subscribe', id: 'b', filter: { event_types: 'CALL_CREATED' } }, 'filter.event_types', /must be a list/],
      [{ type: 'subscribe', id: 'c', filter: { colour: 'red' } }, 'filter.colour', /unknown filter field/],
      [{ type: 'subscribe', id: 'd', filter: { expression: 'event.(' } }, 'filter.expression', /.+/],
      [{ type: 'subscribe', id: 'e', after_sequence: 'abc' }, 'after_sequence', /is not a sequence/],
      [{ type: 'subscribe', id: 'f', after_sequence: '999' }, 'after_sequence', /beyond the last stored sequence/],
      [{ type: 'subscribe', id: 'h', after_cursor: 'p1.4.2' }, 'after_cursor', /is not a cursor this server issued/],
      [{ type: 'subscribe', id: 'i', after_cursor: '1', after_sequence: 1 }, 'after_cursor', /not both/],
      [{ type: 'subscribe', id: 'g', filtre: {} }, 'filtre', /unknown field/],
    ];
    for (const [sent, field, message] of cases) {
      const from = ws.frames.length;
      ws.send(sent);
      const error = await ws.frame('error', undefined, from);
      assert.equal(error.error.code, 'INVALID_ARGUMENT', JSON.stringify(sent));
      assert.equal(error.error.field, field, JSON.stringify(sent));
      assert.match(error.error.message, message);
      if (typeof sent === 'object' && 'id' in sent) assert.equal(error.id, sent.id);
    }
    const from = ws.frames.length;
    ws.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.match((await ws.frame('error', undefined, from)).error.message, /binary frames/);
    ws.send({ type: 'ping', id: 'still-open' });
    assert.ok(await ws.frame('pong', 'still-open'));
    assert.equal(server.app.dispatcher.registry.size, 0);

    // A frame over max_message_size closes that connection (1009) and only that one.
    const other = await WsClient.open(server.httpUrl);
    other.send({ type: 'ping', id: 'x'.repeat(2000) });
    assert.equal((await other.closed()).code, 1009);
    ws.send({ type: 'ping', id: 'after' });
    assert.ok(await ws.frame('pong', 'after'));
    ws.close();
  } finally {
    await server.close();
  }
});

test('connections over websocket.max_connections are refused with 4002', async () => {
  const server = await startServer({ websocket: { max_connections: 2 } });
  try {
    const a = await WsClient.open(server.httpUrl);
    const b = await WsClient.open(server.httpUrl);
    const refused = await WsClient.open(server.httpUrl);
    const { code, reason } = await refused.closed();
    assert.equal(code, 4002);
    assert.match(reason, /maximum of 2 connections/);
    a.close();
    await waitFor('the closed connection to be counted out', () => server.app.http.connections.size === 1);
    const c = await WsClient.open(server.httpUrl);
    c.send({ type: 'ping', id: 'c' });
    assert.ok(await c.frame('pong', 'c'));
    b.close();
    c.close();
  } finally {
    await server.close();
  }
});

test('a client that answers no pings is closed with 4003; one that does stays', async () => {
  const server = await startServer({ websocket: { ping_interval: 25, pong_timeout: 150 } });
  try {
    const silent = await WsClient.open(server.httpUrl, { autoPong: false });
    const healthy = await WsClient.open(server.httpUrl);
    assert.equal((await silent.closed(3000)).code, 4003);
    healthy.send({ type: 'ping', id: 'h' });
    assert.ok(await healthy.frame('pong', 'h'));
    assert.equal(healthy.closeCode, undefined);
    healthy.close();
  } finally {
    await server.close();
  }
});

test('a frame flood past max_frames_per_second closes the connection with 4005', async () => {
  const server = await startServer({ websocket: { max_frames_per_second: 10 } });
  try {
    const ws = await WsClient.open(server.httpUrl);
    for (let i = 0; i < 30; i++) ws.send({ type: 'ping', id: `p${i}` });
    assert.equal((await ws.closed()).code, 4005);
    assert.ok(ws.frames.filter((f) => f.type === 'pong').length <= 10);
  } finally {
    await server.close();
  }
});

test('shutdown delivers what was queued, then closes with 4001 (reconnect)', async () => {
  const server = await startServer();
  const ws = await WsClient.open(server.httpUrl);
  await ws.subscribe('s');
  for (let i = 0; i < 3; i++) await publish(server.client, { entityId: `q${i}` });
  await server.close();
  const { code, reason } = await ws.closed();
  assert.equal(code, 4001);
  assert.match(reason, /shutting down/);
  assert.deepEqual(ws.events('s').map((e) => e.entityId), ['q0', 'q1', 'q2']);
});
