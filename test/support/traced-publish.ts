/**
 * The tracing test's run, in a Node process of its own (`node --import tsx test/support/traced-publish.ts`):
 * the gRPC instrumentation patches @grpc/grpc-js through Node's module loader hooks (module.register, as
 * src/main.ts starts them), which jest's module sandbox neither allows nor runs. Telemetry first, as
 * src/main.ts does, so the instrumentation sees @grpc/grpc-js load; then one event published to a
 * subscriber and forwarded to Kafka. Prints what the test asserts on, as one JSON line on stdout.
 */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../../src/config/load.js';
import { startTelemetry } from '../../src/observability/telemetry.js';

export interface TracedPublish {
  spans: Array<{ name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string }>;
  /** The traceparent the subscriber got with the event. */
  eventTraceparent: string | undefined;
  /** The traceparent header of the Kafka record. */
  recordTraceparent: string | undefined;
}

const exporter = new InMemorySpanExporter();
const telemetry = await startTelemetry(parseConfig({}).telemetry, exporter);
const { publish, startServer, StreamReader, waitFor } = await import('./server.js');
const { KafkaTestBroker } = await import('./kafka-broker/index.js');
const { fastKafka, forwardedThrough } = await import('./kafka-sink.js');

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
  const [record] = broker.topics().flatMap((t) => broker.records(t.name));
  const result: TracedPublish = {
    spans: spans.map((s) => ({
      name: s.name, kind: s.kind, traceId: s.spanContext().traceId, spanId: s.spanContext().spanId, parentSpanId: s.parentSpanContext?.spanId,
    })),
    eventTraceparent: event.traceparent,
    recordTraceparent: record?.headers.find((h) => h.key === 'traceparent')?.value?.toString(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  reader.cancel();
} finally {
  await server.close();
  await broker.stop();
  await telemetry.shutdown();
}
