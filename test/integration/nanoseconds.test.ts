import assert from '../support/assert.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from '@jest/globals';
import { QueryOrder, VerifyChainRequest, type VerifyChainResponse } from '../../generated/audit/v1/audit_service.js';
import { cli } from '../support/cli.js';
import { readAll } from '../support/history.js';
import { SseClient } from '../support/sse-client.js';
import { WsClient } from '../support/ws-client.js';
import { filterOf, makeEvent, startServer, StreamReader, type TestServer } from '../support/server.js';

// Item 9 of the hostile-callers issue: `timestamp.nanos: 123456789` came back as 123000000 on every
// transport. Now what is published is what every path returns, to the nanosecond.

const SENT = { seconds: 1_700_000_000, nanos: 123_456_789 };
const SENT_TEXT = '2023-11-14T22:13:20.123456789Z';
/** Published as JSON over the HTTP API: one nanosecond past a whole second (6 and 9 digit forms). */
const HTTP_TEXT = '2023-11-14T22:13:21.000000001Z';
const HTTP_SENT = { seconds: 1_700_000_001, nanos: 1 };

function verifyChain(server: TestServer): Promise<VerifyChainResponse> {
  return new Promise((resolve, reject) => server.client.verifyChain(VerifyChainRequest.fromPartial({}), (e, r) => (e ? reject(e) : resolve(r))));
}

test('a timestamp keeps its nanoseconds: stored, on gRPC, WebSocket, SSE, the HTTP API, the CLI, in CEL and in the chain', async () => {
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-nanos-')), 'audit.db');
  let server = await startServer({ storage: { path: db } });
  try {
    // CEL sees the nanoseconds: one nanosecond earlier or later tells them apart.
    const exact = StreamReader.open(server.client, { filter: filterOf({ expression: `event.timestamp == timestamp("${SENT_TEXT}")` }) });
    const later = StreamReader.open(server.client, {
      filter: filterOf({ expression: `event.timestamp > timestamp("2023-11-14T22:13:20.123456788Z") || event.entity_id == "marker"` }),
    });
    const notLater = StreamReader.open(server.client, {
      filter: filterOf({ expression: `event.timestamp > timestamp("${SENT_TEXT}") || event.entity_id == "marker"` }),
    });
    await Promise.all([exact.started(), later.started(), notLater.started()]);
    const ws = await WsClient.open(server.httpUrl);
    await ws.subscribe('all');
    const sse = await SseClient.open(`${server.httpUrl}/v1/events`);

    await server.api.publish({ event: makeEvent({ entityId: 'nanos', timestamp: SENT }) });
    await server.api.publish({ event: makeEvent({ entityId: 'marker', timestamp: { seconds: 1_600_000_000, nanos: 0 } }) });

    assert.deepEqual((await exact.eventsUntil(1))[0]!.timestamp, SENT, 'live gRPC');
    assert.deepEqual((await later.eventsUntil(2)).map((e) => e.entityId), ['nanos', 'marker']);
    assert.deepEqual((await notLater.eventsUntil(1)).map((e) => e.entityId), ['marker']);
    assert.equal((await ws.eventsUntil('all', 1))[0].timestamp, SENT_TEXT, 'WebSocket JSON');
    assert.equal((await sse.eventsUntil(1))[0].timestamp, SENT_TEXT, 'SSE JSON');
    ws.close();
    sse.close();

    // The HTTP API takes and gives RFC 3339 with nanoseconds (the proto JSON mapping).
    const res = await fetch(`${server.httpUrl}/audit.v1.AuditService/Publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: { type: 'EVENT_TYPE_CALL_CREATED', action: 'create', entityId: 'http', timestamp: HTTP_TEXT } }),
    });
    assert.equal(res.status, 200, await res.clone().text());

    // Stored: read back after a restart, over gRPC Query and the CLI.
    await server.close();
    server = await startServer({ storage: { path: db } });
    const stored = await readAll(server.client, QueryOrder.QUERY_ORDER_ASCENDING);
    assert.deepEqual(stored.map((e) => [e.entityId, e.timestamp]), [['nanos', SENT], ['marker', { seconds: 1_600_000_000, nanos: 0 }], ['http', HTTP_SENT]]);
    const chain = await verifyChain(server);
    assert.equal(chain.ok, true, JSON.stringify(chain.firstBreak));
    const query = await cli(['query', '--server', server.address, '--order', 'asc', '--json']);
    assert.equal(query.code, 0, query.stderr);
    const printed = query.stdout.trim().split('\n').map((line) => JSON.parse(line) as { timestamp: string });
    assert.deepEqual(printed.map((e) => e.timestamp), [SENT_TEXT, '2020-09-13T12:26:40.000Z', HTTP_TEXT]);
  } finally {
    await server.close();
  }
});
