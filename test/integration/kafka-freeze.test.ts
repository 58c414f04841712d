/**
 * A Kafka broker that stops answering (the test broker's freeze: sockets stay open, nothing is read or
 * answered, like a broker process stopped with SIGSTOP) must count as failing: the circuit opens after
 * `circuit_breaker.threshold` timed-out sends, an operator sees it (GetStats, /metrics, /readyz, one warn
 * line), and once the broker answers again everything flows, each event exactly once.
 */
import assert from '../support/assert.js';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { type ServiceError, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { KafkaTestBroker } from '../support/kafka-broker/index.js';
import { consume, fastKafka, forwardedThrough, forwarderUntil } from '../support/kafka-sink.js';
import { api, healthStatus, makeEvent, publish, startServer, StreamReader, waitFor } from '../support/server.js';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly downstream?: string;
  readonly reason?: string;
  readonly circuit?: string;
  readonly [key: string]: unknown;
}

const WARN = 40;
const INFO = 30;

/** A pino logger (the service's real one, at debug) whose lines the test can read. */
function capturedLogs() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return {
    logger,
    lines,
    /** The warn-or-worse and info lines about one downstream's availability (not kafkajs's debug lines). */
    about(downstream: string, level: number): LogLine[] {
      return lines.filter((l) => l.downstream === downstream && l.level === level);
    },
  };
}

async function metric(httpUrl: string, name: string, downstream: string): Promise<number | undefined> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name}\\{downstream="${downstream}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

let broker: KafkaTestBroker;
beforeAll(async () => {
  broker = await KafkaTestBroker.start({ partitions: 3 });
});
afterAll(async () => {
  broker.thaw();
  await broker.stop();
});

describe('a Kafka broker that stops answering', () => {
  // kafkajs's request timeout longer than the freeze: the given-up send is answered on thaw (delivered late);
  // shorter: kafkajs gives up too and the broker writes the waiting produce requests on thaw (deduplicated).
  for (const [requestTimeout, prefix] of [[5_000, 'frz-late'], [700, 'frz-dup']] as const) {
    test(`forwarder (request_timeout ${requestTimeout} ms): publishes are still acknowledged, the circuit opens after threshold timed-out sends and says so; thawed, every event arrives once`, async () => {
      const threshold = 3;
      const sendTimeout = 300;
      const logs = capturedLogs();
      const server = await startServer({
        kafka: fastKafka(broker, {
          topic_prefix: prefix, send_timeout: sendTimeout, request_timeout: requestTimeout, circuit_breaker: { threshold, half_open_after: 1_000 },
        }),
      }, { logger: logs.logger });
      try {
        for (let i = 0; i < 5; i++) await publish(server.client, makeEvent({ entityId: `warm-${i % 2}` }));
        await forwardedThrough(server, 5);
        assert.equal(logs.about('kafka', WARN).length, 0, 'no warning while Kafka answers');

        broker.freeze();
        const frozenAt = Date.now();
        for (let b = 0; b < 5; b++) {
          const res = await server.api.publishBatch({ events: Array.from({ length: 20 }, (_, i) => makeEvent({ entityId: `f-${i % 7}` })) });
          assert.equal(res.acceptedCount, 20, 'acknowledged to the publisher while Kafka does not answer: the log is the outbox');
        }
        const total = 105;

        // Each attempt fails after send_timeout; `threshold` of them open the circuit (plus small retry delays).
        const bound = threshold * sendTimeout + 2_000;
        await forwarderUntil(server, 'the circuit to open', (s) => s.circuit === 'open', bound);
        const openedAfter = Date.now() - frozenAt;
        assert.ok(openedAfter >= threshold * sendTimeout - 50, `opened by timed-out sends (after ${openedAfter} ms)`);
        assert.ok(openedAfter < bound, `opened within ${bound} ms (after ${openedAfter} ms)`);

        const stats = (await server.api.getStats()).kafka!;
        assert.equal(stats.circuitState, 'open');
        assert.ok(stats.lag > 0 && stats.cursor === 5, `lag ${stats.lag}, cursor ${stats.cursor}`);
        assert.equal(await metric(server.httpUrl, 'auditstream_circuit_state', 'kafka'), 2, 'auditstream_circuit_state 2 (open)');
        const ready = await fetch(`${server.httpUrl}/readyz`);
        const readiness = await ready.json() as { downstreams: Array<{ name: string; circuit: string }> };
        assert.equal(ready.status, 200, 'an open forwarder circuit does not make the service unready');
        assert.deepEqual(readiness.downstreams.find((d) => d.name === 'kafka')?.circuit, 'open');

        const warnings = logs.about('kafka', WARN);
        assert.deepEqual(warnings.map((l) => l.msg), ['Kafka is failing: KafkaSendTimeoutError', 'Kafka circuit open: sends fail fast (KafkaSendTimeoutError)']);
        assert.equal(warnings[0].reason, 'KafkaSendTimeoutError');
        assert.equal(warnings[1].failedAttempts, threshold);
        assert.equal(logs.lines.filter((l) => l.level >= 50).length, 0, 'an outage is not an error');

        // Half-open test sends keep failing: the same outage, not announced again (one repeat per 30 s at most).
        const failures = server.app.kafka!.status().failures;
        await forwarderUntil(server, 'a failed half-open test send', (s) => s.failures > failures && s.circuit === 'open', 5_000);
        assert.equal(logs.about('kafka', WARN).length, 2, 'no further warning while it keeps failing');
        assert.equal(logs.about('kafka', INFO).length, 0);

        broker.thaw();
        const done = await forwarderUntil(server, 'everything forwarded, circuit closed', (s) => s.cursor === total && s.circuit === 'closed', 10_000);
        assert.equal(done.lag, 0);
        assert.equal(done.deadLetters, 0);
        const recovered = logs.about('kafka', INFO);
        assert.deepEqual(recovered.map((l) => l.msg), ['Kafka recovered: circuit closed']);
        assert.ok(Number(recovered[0].failingForMs) >= openedAfter - sendTimeout);
        assert.equal((await server.api.getStats()).kafka?.circuitState, 'closed');
        assert.equal(await metric(server.httpUrl, 'auditstream_circuit_state', 'kafka'), 0);

        // Read back with a real consumer: every event, none twice (the produce requests that waited in the
        // frozen broker's sockets were written on thaw; the idempotent producer's re-sends were dropped).
        const got = await consume(broker, [`${prefix}.calls`], total);
        const ids = got.map((m) => m.headers.event_id);
        assert.equal(new Set(ids).size, total);
        assert.equal(broker.records(`${prefix}.calls`).length, total, 'no record written twice');
      } finally {
        await server.close();
      }
    });
  }

  test('cluster log: Publish fails UNAVAILABLE within the bound (never hangs) and health turns NOT_SERVING; thawed, it recovers', async () => {
    const logs = capturedLogs();
    const publishTimeout = 2_000;
    const server = await startServer({
      storage: { type: 'kafka' },
      server: { health_check_interval: 100 },
      kafka: {
        brokers: broker.brokers, retry_delay: 20, retry_backoff: 100, max_retries: 1, request_timeout: 3_000, send_timeout: 300,
        circuit_breaker: { threshold: 2, half_open_after: 1_000 },
      },
      cluster: { topic: 'frz.cluster', partitions: 2, node_id: 'frz', publish_timeout: publishTimeout },
    }, { logger: logs.logger });
    try {
      const type = 'cluster-freeze';
      const reader = StreamReader.open(server.client, { filter: undefined });
      await reader.started();
      const first = await api(server.client).publish({ event: makeEvent({ entityType: type }) });
      assert.equal(await healthStatus(server.address), 'SERVING');

      broker.freeze();
      const started = Date.now();
      const failed = await api(server.client).publish({ event: makeEvent({ entityType: type }) }).then(() => undefined, (err: ServiceError) => err);
      const took = Date.now() - started;
      assert.equal(failed?.code, status.UNAVAILABLE, 'a publish Kafka does not answer is refused');
      assert.ok(took < publishTimeout + 1_000, `answered within cluster.publish_timeout (took ${took} ms)`);
      // Publishing on opens the circuit; meanwhile each publish still answers UNAVAILABLE, never hangs.
      await waitFor('the circuit to open and health to turn NOT_SERVING', async () => {
        const res = await api(server.client).publish({ event: makeEvent({ entityType: type }) }).then(() => 'stored', (err: ServiceError) => err.code);
        assert.equal(res, status.UNAVAILABLE);
        return (await healthStatus(server.address)) === 'NOT_SERVING';
      }, 15_000);
      const warnings = logs.about('kafka-log', WARN);
      assert.equal(warnings[0]?.msg, 'Kafka (cluster log) is failing: KafkaSendTimeoutError');
      assert.ok(warnings.some((l) => l.msg.startsWith('Kafka (cluster log) circuit open')), 'the open circuit is announced');
      assert.ok(warnings.length <= 3, `rate-limited (${warnings.length} warnings)`);
      assert.equal(await metric(server.httpUrl, 'auditstream_circuit_state', 'kafka-log'), 2);

      broker.thaw();
      await waitFor('health SERVING again', async () => (await healthStatus(server.address)) === 'SERVING', 15_000);
      const next = await waitFor('a publish to succeed', () => api(server.client).publish({ event: makeEvent({ entityType: type }) }).catch(() => undefined), 15_000);
      await waitFor('the circuit to close', async () => (await metric(server.httpUrl, 'auditstream_circuit_state', 'kafka-log')) === 0, 5_000);
      assert.deepEqual(logs.about('kafka-log', INFO).map((l) => l.msg), ['Kafka (cluster log) recovered: circuit closed']);
      const seen = await reader.until('the events from before and after the freeze', () => {
        const ids = reader.events.map((e) => e.id);
        return ids.includes(next.eventId) ? ids : undefined;
      }, 15_000);
      assert.ok(seen.includes(first.eventId));
      assert.equal(new Set(seen).size, seen.length, 'no event twice');
      reader.cancel();
    } finally {
      await server.close();
    }
  });
});
