import assert from '../support/assert.js';
import { spawnSync } from 'node:child_process';
import { test } from '@jest/globals';
import { EventType, Severity } from '../../generated/audit/v1/event.js';
import { CATEGORIES, SEVERITIES } from '../../src/domain/catalog.js';
import { makeEvent, publish, startServer, StreamReader, waitFor, type TestServer } from '../support/server.js';
import { SseClient } from '../support/sse-client.js';

const TRANSPORTS = ['grpc', 'websocket', 'sse'];
const REASONS = ['INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED', 'PERMISSION_DENIED', 'INTERNAL'];
const LATENCY = 'auditstream_delivery_latency_seconds';

// A sample line as Prometheus's own parser reads it (values: Go's ParseFloat, NaN and Inf in any case).
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of one scrape, looked up by name and exact label set (in any order). */
class Scrape {
  private readonly samples = new Map<string, number>();

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      const m = SAMPLE.exec(line);
      assert.ok(m, `not a Prometheus sample line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(LABEL)].map((l) => [l[1], l[2]]));
      this.samples.set(Scrape.key(m[1], labels), Number(m[3]));
    }
  }

  get(name: string, labels: Record<string, string> = {}): number | undefined {
    return this.samples.get(Scrape.key(name, labels));
  }

  names(): Set<string> {
    return new Set([...this.samples.keys()].map((k) => k.split('{')[0]));
  }

  private static key(name: string, labels: Record<string, string>): string {
    return `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}}`;
  }
}

async function scrape(server: TestServer): Promise<Scrape> {
  const res = await fetch(`${server.httpUrl}/metrics`);
  assert.equal(res.status, 200);
  return new Scrape(await res.text());
}

/** The live latency histogram's count for gRPC. */
const liveCount = (s: Scrape) => s.get(`${LATENCY}_count`, { transport: 'grpc' });

test('every labelled series is exported at 0 before any traffic, under names with units', async () => {
  const server = await startServer();
  try {
    const s = await scrape(server);
    for (const severity of SEVERITIES) {
      for (const category of CATEGORIES) assert.equal(s.get('auditstream_events_published_total', { severity, category }), 0, `${severity}/${category}`);
    }
    for (const reason of REASONS) assert.equal(s.get('auditstream_events_failed_total', { reason }), 0, reason);
    assert.equal(s.get('auditstream_events_dropped_total', { reason: 'retention' }), 0);
    for (const lane of ['critical', 'regular']) assert.equal(s.get('auditstream_ingest_queue_events', { lane }), 0, lane);
    for (const transport of TRANSPORTS) {
      assert.equal(s.get('auditstream_subscriptions_active', { transport }), 0, transport);
      assert.equal(s.get('auditstream_deliveries_total', { transport }), 0, transport);
      assert.equal(s.get(`${LATENCY}_count`, { transport }), 0, transport);
      assert.equal(s.get(`${LATENCY}_sum`, { transport }), 0, transport);
      assert.equal(s.get(`${LATENCY}_bucket`, { transport, le: '0.0005' }), 0, transport);
      assert.equal(s.get(`${LATENCY}_bucket`, { transport, le: '+Inf' }), 0, transport);
    }
    const names = s.names();
    for (const old of ['auditstream_queue_size', 'auditstream_dead_letters', 'nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      assert.ok(!names.has(old), `${old} is still exported`);
    }
    assert.ok(names.has('nodejs_active_handles'), 'the per-type handle gauge stays');
  } finally {
    await server.close();
  }
});

test('live delivery latency is measured below a millisecond; replay and catch-up are not observed', async () => {
  // queue_size 2: a batch of 30 overflows a live subscriber's queue (catch-up); batch_size 4: a replay takes several writes.
  const server = await startServer({ audit: { subscriber: { queue_size: 2, batch_size: 4 } } });
  try {
    const live = StreamReader.open(server.client, {});
    const { subscriptionId: liveId } = await live.started();
    for (let i = 1; i <= 10; i++) {
      await publish(server.client, { severity: Severity.SEVERITY_LOW });
      await live.eventsUntil(i);
    }
    const afterLive = await waitFor('10 live writes observed', async () => {
      const s = await scrape(server);
      return liveCount(s) === 10 ? s : undefined;
    });
    const sum = afterLive.get(`${LATENCY}_sum`, { transport: 'grpc' })!;
    const subMs = afterLive.get(`${LATENCY}_bucket`, { transport: 'grpc', le: '0.001' })!;
    assert.ok(subMs > 0, `no live write under 1 ms (sum of 10: ${sum} s)`);
    assert.notEqual(Math.round(sum * 1e6) % 1000, 0, `latency is whole milliseconds (sum ${sum} s)`);
    assert.equal(afterLive.get('auditstream_deliveries_total', { transport: 'grpc' }), 10);

    // A replay of those 10 from the log, in batches of 4: written, counted as deliveries, not observed.
    const replay = StreamReader.open(server.client, { afterSequence: 0 });
    await replay.eventsUntil(10);
    const afterReplay = await waitFor('the replay counted', async () => {
      const s = await scrape(server);
      return s.get('auditstream_deliveries_total', { transport: 'grpc' }) === 20 ? s : undefined;
    });
    assert.equal(liveCount(afterReplay), 10, 'the replay added to the live latency');

    // Once it has caught up, the replaying subscription is live: one event, two live writes.
    await publish(server.client, {});
    await Promise.all([live.eventsUntil(11), replay.eventsUntil(11)]);
    await waitFor('2 more live writes observed', async () => liveCount(await scrape(server)) === 12);

    // 30 events routed at once overflow both queues of 2: both catch up from the log, unobserved.
    await server.api.publishBatch({ events: Array.from({ length: 30 }, () => makeEvent({})) });
    await Promise.all([live.eventsUntil(41), replay.eventsUntil(41)]);
    await waitFor('the catch-up counted', async () => (await scrape(server)).get('auditstream_deliveries_total', { transport: 'grpc' }) === 20 + 2 + 60);
    assert.ok((await server.api.subscriptionStats(liveId)).subscription!.overflows >= 1, 'the batch did not overflow the queue');
    // What was queued before the overflow went out live (one batch per subscription at most); what was
    // read back from the log is not observed.
    const afterBurst = liveCount(await scrape(server)) ?? 0;
    assert.ok(afterBurst >= 12 && afterBurst <= 14, `the catch-up added to the live latency (${afterBurst} live writes)`);

    // Live again: observed again.
    await publish(server.client, {});
    await Promise.all([live.eventsUntil(42), replay.eventsUntil(42)]);
    await waitFor('2 more live writes observed', async () => liveCount(await scrape(server)) === afterBurst + 2);
    live.cancel();
    replay.cancel();
  } finally {
    await server.close();
  }
});

test('a transport whose last subscription closed reports 0, not nothing', async () => {
  const server = await startServer();
  try {
    const grpc = StreamReader.open(server.client, {});
    await grpc.started();
    const sse = await SseClient.open(`${server.httpUrl}/v1/events`);
    await sse.until('the subscribed message', () => sse.messages.find((m) => m.event === 'subscribed'));
    await publish(server.client, { type: EventType.EVENT_TYPE_LOGIN_FAILED, severity: Severity.SEVERITY_HIGH });
    await Promise.all([grpc.eventsUntil(1), sse.eventsUntil(1)]);
    const open = await scrape(server);
    assert.equal(open.get('auditstream_subscriptions_active', { transport: 'grpc' }), 1);
    assert.equal(open.get('auditstream_subscriptions_active', { transport: 'sse' }), 1);
    grpc.cancel();
    sse.close();
    const closed = await waitFor('both subscriptions gone', async () => {
      const s = await scrape(server);
      return s.get('auditstream_subscriptions_active', { transport: 'grpc' }) === 0 && s.get('auditstream_subscriptions_active', { transport: 'sse' }) === 0 ? s : undefined;
    });
    for (const transport of TRANSPORTS) assert.equal(closed.get('auditstream_subscriptions_active', { transport }), 0, transport);
    assert.equal(closed.get('auditstream_deliveries_total', { transport: 'grpc' }), 1);
    assert.equal(closed.get('auditstream_deliveries_total', { transport: 'sse' }), 1);
    assert.equal(closed.get('auditstream_events_published_total', { severity: 'HIGH', category: 'security' }), 1);
  } finally {
    await server.close();
  }
});

test('promtool check metrics accepts /metrics after traffic', async () => {
  const server = await startServer();
  try {
    const live = StreamReader.open(server.client, {});
    await live.started();
    for (let i = 0; i < 3; i++) await publish(server.client, { severity: Severity.SEVERITY_CRITICAL });
    await live.eventsUntil(3);
    const replay = StreamReader.open(server.client, { afterSequence: 0 });
    await replay.eventsUntil(3);
    await assert.rejects(server.api.publish({ event: makeEvent({ type: EventType.EVENT_TYPE_UNSPECIFIED }) }));
    const s = await waitFor('the traffic counted', async () => {
      const m = await scrape(server);
      return m.get('auditstream_deliveries_total', { transport: 'grpc' }) === 6 ? m : undefined;
    });
    assert.ok((liveCount(s) ?? 0) > 0 && s.get('auditstream_events_failed_total', { reason: 'INVALID_ARGUMENT' }) === 1);
    // promtool (Debian's prometheus package; `make promtool` installs it) reads the exposition on stdin.
    const check = spawnSync('promtool', ['check', 'metrics'], { input: s.text, encoding: 'utf8' });
    assert.ifError(check.error); // ENOENT: promtool is not installed (make promtool)
    assert.deepEqual({ status: check.status, stdout: check.stdout, stderr: check.stderr }, { status: 0, stdout: '', stderr: '' });
    live.cancel();
    replay.cancel();
  } finally {
    await server.close();
  }
});
