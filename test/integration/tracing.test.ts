import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../../src/config/load.js';
import { startTelemetry } from '../../src/observability/telemetry.js';

// Telemetry first, as src/main.ts does, so the gRPC instrumentation sees @grpc/grpc-js load.
const exporter = new InMemorySpanExporter();
const telemetry = await startTelemetry(parseConfig({}).telemetry, exporter);
const { publish, startServer, StreamReader, waitFor } = await import('../support/server.js');
const { KafkaTestBroker } = await import('../support/kafka-broker/index.js');
const { fastKafka, forwardedThrough } = await import('../support/kafka-sink.js');

test('one trace links the Publish call, the append, the dispatch, the delivery and the Kafka send', async () => {
  const broker = await KafkaTestBroker.start();
  const server = await startServer({ kafka: fastKafka(broker) });
  try {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    await publish(server.client, { entityId: 'traced' });
    const [event] = await reader.eventsUntil(1);
    await forwardedThrough(server, event.sequence);
    const spans = await waitFor('the delivery and Kafka spans', () => {
      const finished = exporter.getFinishedSpans();
      const names = new Set(finished.map((s) => s.name));
      return names.has('auditstream.deliver') && names.has('auditstream.kafka.send') ? finished : undefined;
    });
    const serverSpan = spans.find((s) => s.name === 'grpc.audit.v1.AuditService/Publish' && s.kind === 1 /* SERVER */)!;
    assert.ok(serverSpan, `spans: ${spans.map((s) => s.name).join(', ')}`);
    const traceId = serverSpan.spanContext().traceId;
    for (const name of ['auditstream.append', 'auditstream.dispatch', 'auditstream.deliver', 'auditstream.kafka.send']) {
      const span = spans.find((s) => s.name === name && s.spanContext().traceId === traceId);
      assert.ok(span, `${name} is in the Publish call's trace`);
      assert.equal(span.parentSpanContext?.spanId, serverSpan.spanContext().spanId, `${name} is a child of the Publish span`);
    }
    // The trace context travels with the event to its subscribers.
    assert.equal(event.traceparent, `00-${traceId}-${serverSpan.spanContext().spanId}-01`);
    // ... and into the Kafka record's traceparent header.
    const [record] = broker.topics().flatMap((t) => broker.records(t.name));
    const header = record.headers.find((h) => h.key === 'traceparent');
    assert.equal(header?.value?.toString(), event.traceparent);
    reader.cancel();
  } finally {
    await server.close();
    await broker.stop();
    await telemetry.shutdown();
  }
});
