/**
 * Webhook receivers that misbehave: answer 500, time out (never answer, or answer too late), read
 * slowly, are down. Each time every matching event arrives, in log order, every signature verifies,
 * an event is repeated only when the service did not see a 2xx for a request holding it, and the
 * other webhooks and publishing are not held up.
 *
 * Timings are scaled down (a 300 ms request timeout, retries every 5-40 ms, a circuit that opens after
 * 5 failures and half-opens after 100 ms): "down for a minute" is "down until the circuit has opened".
 */
import assert from '../support/assert.js';
import { afterAll, beforeAll, test } from '@jest/globals';
import { makeEvent, publish, startServer, waitFor, type TestServer } from '../support/server.js';
import { fastWebhooks, type WebhookReceiver as Receiver, WebhookReceiver, webhookApi } from '../support/webhook-receiver.js';

const SECRET = 'faults-secret-0123456789abcdef';

let server: TestServer;
let hooks: ReturnType<typeof webhookApi>;
beforeAll(async () => {
  // Many quick retries: a batch may wait through a few seconds of failures without being dead-lettered.
  server = await startServer({ webhooks: { defaults: fastWebhooks({ max_retries: 100, retry_backoff: 100 }) } });
  hooks = webhookApi(server.client);
});
afterAll(() => server.close());

async function publishMany(n: number, fields: Parameters<typeof makeEvent>[0] = {}): Promise<number[]> {
  const sequences: number[] = [];
  for (let i = 0; i < n; i++) sequences.push((await publish(server.client, makeEvent(fields))).sequence);
  return sequences;
}

/** The contract, checked over everything the receiver got. */
function assertDelivered(receiver: Receiver, expected: readonly number[]): void {
  assert.deepEqual(receiver.firstArrivals(), expected, 'every event, in log order');
  assert.ok(receiver.received.every((r) => r.verified), 'every signature verifies');
  assert.deepEqual(receiver.repeatsAfterAck(), [], 'no event again after a 2xx the service saw');
}

async function scenario(name: string, body: (receiver: Receiver) => Promise<void>): Promise<void> {
  const receiver = await WebhookReceiver.start(SECRET);
  try {
    await hooks.create({ name, url: receiver.url, secret: SECRET, batchSize: 5 });
    await body(receiver);
    assert.equal((await hooks.status(name)).deadLetters, 0, 'nothing was dead-lettered');
    await hooks.delete(name);
  } finally {
    await receiver.close();
  }
}

test('answers 500 for a while: retried, then everything arrives in order', () => scenario('answers-500', async (receiver) => {
  receiver.behave = (i) => (i < 6 ? { kind: 'status', status: 500 } : { kind: 'ok' });
  const expected = await publishMany(20);
  await receiver.until('every event', () => receiver.firstArrivals().length === expected.length);
  assertDelivered(receiver, expected);
  assert.ok(receiver.received.slice(0, 6).every((r) => !r.acknowledged), 'the 500s were not acknowledgements');
  assert.ok(receiver.repeatsAfterAck().length === 0 && receiver.arrivals().length > expected.length, 'the refused batches came again');
  assert.equal((await hooks.status('answers-500')).failed, 6);
}));

test('times out: no answer, or a 2xx after the timeout; the batch comes again', () => scenario('times-out', async (receiver) => {
  receiver.behave = (i) => (i < 2 ? { kind: 'hang' } : i === 2 ? { kind: 'late', ms: 800 } : { kind: 'ok' });
  const expected = await publishMany(12);
  await receiver.until('every event', () => receiver.firstArrivals().length === expected.length);
  assertDelivered(receiver, expected);
  const first = receiver.received[0]!.events.map((e) => Number(e.sequence));
  assert.deepEqual(receiver.received.slice(0, 4).map((r) => r.events.map((e) => Number(e.sequence))), [first, first, first, first],
    'the same batch, as long as no 2xx was seen in time (a late 2xx included)');
  const s = await hooks.status('times-out');
  assert.deepEqual([s.failed, s.lastError], [3, 'timeout']);
  await receiver.until('the late answer to be refused by the closed connection', () => receiver.received[2]?.acknowledged === false);
}));

test('reads slowly: it takes its time; another webhook and publishing are not held up', async () => {
  const slow = await WebhookReceiver.start(SECRET);
  const fast = await WebhookReceiver.start(SECRET);
  // A timeout long enough for the slow reader: the point here is that nobody else waits for it.
  const patient = await startServer({ webhooks: { defaults: fastWebhooks({ timeout: 20_000 }) } });
  const api = webhookApi(patient.client);
  try {
    await api.create({ name: 'slow', url: slow.url, secret: SECRET, batchSize: 10 });
    await api.create({ name: 'fast', url: fast.url, secret: SECRET, batchSize: 10 });
    slow.behave = () => ({ kind: 'slow', bytes: 8 * 1024, everyMs: 10 });
    const blob = 'x'.repeat(40_000); // 30 events of 40 KB, read at about 800 KB/s: 1.5 s
    const batch = await patient.api.publishBatch({ events: Array.from({ length: 30 }, () => makeEvent({ metadata: { blob } })) });
    const expected = batch.results.map((r) => (r.outcome?.$case === 'stored' ? r.outcome.stored.sequence : 0));
    await fast.until('the fast webhook to get everything', () => fast.firstArrivals().length === expected.length);
    assert.ok(slow.firstArrivals().length < expected.length, 'the slow one is still reading');
    const started = performance.now();
    await publish(patient.client, makeEvent());
    assert.ok(performance.now() - started < 1000, 'a publish is answered while a receiver reads slowly');
    await slow.until('the slow webhook to get everything', () => slow.firstArrivals().length >= expected.length, 20_000);
    for (const r of [fast, slow]) {
      assert.deepEqual(r.firstArrivals().slice(0, expected.length), expected, 'every event, in log order');
      assert.ok(r.received.every((x) => x.verified), 'every signature verifies');
      assert.deepEqual(r.repeatsAfterAck(), [], 'no event again after a 2xx the service saw');
    }
    assert.equal((await api.status('slow')).failed, 0, 'slow is not failed');
  } finally {
    await patient.close();
    await slow.close();
    await fast.close();
  }
});

test('is down until its circuit opens: nothing is lost, the backlog arrives in order; a healthy webhook is not held up', () =>
  scenario('down', async (receiver) => {
    const witness = await WebhookReceiver.start(SECRET);
    try {
      await hooks.create({ name: 'healthy', url: witness.url, secret: SECRET, batchSize: 5 });
      await receiver.down();
      const expected = await publishMany(15);
      await waitFor('the circuit to open', async () => (await hooks.status('down')).circuitState === 'open');
      await witness.until('the healthy webhook to get everything meanwhile', () => witness.firstArrivals().length === expected.length);
      assert.equal(receiver.received.length, 0);
      const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
      // Down, its circuit is open or, each time half_open_after passes, half-open for a test request.
      assert.match(metrics, /^auditstream_circuit_state\{downstream="webhook:down"\} [12]$/m, 'not closed in /metrics');
      assert.ok(metrics.includes('auditstream_circuit_state{downstream="webhook:healthy"} 0'));
      const down = await hooks.status('down');
      assert.match(down.lastError, /^(ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)$/);
      assert.ok(down.failed >= 5 && down.lag >= 15, JSON.stringify(down));
      await receiver.up();
      await receiver.until('the backlog', () => receiver.firstArrivals().length === expected.length);
      assertDelivered(receiver, expected);
      await waitFor('the circuit to close', async () => (await hooks.status('down')).circuitState === 'closed');
      await hooks.delete('healthy');
    } finally {
      await witness.close();
    }
  }));
