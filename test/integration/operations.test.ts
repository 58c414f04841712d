import assert from '../support/assert.js';
import { status, type ServiceError } from '@grpc/grpc-js';
import { test } from '@jest/globals';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { GatedLog } from '../support/gated-log.js';
import { healthStatus, makeEvent, publish, startServer, StreamReader, waitFor, type TestServer } from '../support/server.js';

// Values as Prometheus's own parser reads them (Go's ParseFloat: NaN and Inf in any case; prom-client
// writes "Nan" for an event-loop lag not yet sampled).
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/;

/** Parses the Prometheus text format strictly enough to fail on malformed output. */
async function scrape(server: TestServer): Promise<Map<string, number>> {
  const res = await fetch(`${server.httpUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

test('/metrics is Prometheus text and its counters move as events flow', async () => {
  const server = await startServer();
  try {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    const before = await scrape(server);
    for (let i = 0; i < 7; i++) await publish(server.client, { type: EventType.EVENT_TYPE_LOGIN_FAILED, severity: Severity.SEVERITY_HIGH });
    await reader.eventsUntil(7);
    await waitFor('7 deliveries counted', async () => (await scrape(server)).get('auditstream_deliveries_total{transport="grpc"}') === 7);
    const after = await scrape(server);
    assert.equal(after.get('auditstream_events_published_total{severity="HIGH",category="security"}'), 7);
    assert.equal(before.get('auditstream_events_published_total{severity="HIGH",category="security"}'), 0, 'exported at 0 before the first event');
    assert.equal(after.get('auditstream_subscriptions_active{transport="grpc"}'), 1);
    assert.equal(after.get('auditstream_log_last_sequence'), 7);
    assert.equal(after.get('auditstream_events_dropped_total{reason="retention"}'), 0);
    assert.equal(after.get('auditstream_delivery_latency_seconds_count{transport="grpc"}'), [...reader.messages].filter((m) => m.kind?.$case === 'events').length);
    assert.ok((after.get('process_resident_memory_bytes') ?? 0) > 0, 'Node default metrics are exported');
    await assert.rejects(server.api.publish({ event: makeEvent({ type: EventType.EVENT_TYPE_UNSPECIFIED }) }));
    assert.equal((await scrape(server)).get('auditstream_events_failed_total{reason="INVALID_ARGUMENT"}'), 1);
    reader.cancel();
  } finally {
    await server.close();
  }
});

test('health turns NOT_SERVING and /readyz 503 when the log cannot be written', async () => {
  const server = await startServer();
  try {
    assert.equal(await healthStatus(server.address), 'SERVING');
    assert.equal((await fetch(`${server.httpUrl}/readyz`)).status, 200);
    await server.app.dispatcher.log.close(); // the database goes away under the running server
    const err = await publish(server.client, {}).then(() => undefined, (e: ServiceError) => e);
    assert.equal(err?.code, status.UNAVAILABLE);
    await waitFor('NOT_SERVING', async () => (await healthStatus(server.address, 'audit.v1.AuditService')) === 'NOT_SERVING');
    const ready = await fetch(`${server.httpUrl}/readyz`);
    assert.equal(ready.status, 503);
    const { reason, ...rest } = await ready.json() as { reason: string };
    assert.deepEqual(rest, { status: 'not_ready', ready: false, log: 'unwritable', shuttingDown: false, downstreams: [] });
    assert.match(reason, /the event log is closed \(.*audit\.db\)$/);
  } finally {
    await server.close();
  }
});

test('health is NOT_SERVING during shutdown', async () => {
  const log = new GatedLog();
  const server = await startServer({}, { eventLog: log });
  log.hold();
  const pending = publish(server.client, {});
  await waitFor('the append to start', () => log.appendCalls >= 1);
  const stopping = server.app.shutdown(); // waits for the held append
  assert.equal(await healthStatus(server.address), 'NOT_SERVING');
  assert.equal((await fetch(`${server.httpUrl}/readyz`)).status, 503);
  log.open();
  await pending;
  await stopping;
  server.client.close();
});
