import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../../src/config/load.js';
import { startTelemetry } from '../../src/observability/telemetry.js';

// Telemetry first, as src/main.ts does, so the gRPC instrumentation sees @grpc/grpc-js load.
const exporter = new InMemorySpanExporter();
const telemetry = await startTelemetry(parseConfig({}).telemetry, exporter);
const { publish, startServer, StreamReader, waitFor } = await import('../support/server.js');

test('one trace links the Publish call, the append, the dispatch and the delivery', async () => {
  const server = await startServer();
  try {
    const reader = StreamReader.open(server.client, {});
    await reader.started();
    await publish(server.client, { entityId: 'traced' });
    const [event] = await reader.eventsUntil(1);
    const spans = await waitFor('the delivery span', () => {
      const finished = exporter.getFinishedSpans();
      return finished.some((s) => s.name === 'auditstream.deliver') ? finished : undefined;
    });
    const serverSpan = spans.find((s) => s.name === 'grpc.audit.v1.AuditService/Publish' && s.kind === 1 /* SERVER */)!;
    assert.ok(serverSpan, `spans: ${spans.map((s) => s.name).join(', ')}`);
    const traceId = serverSpan.spanContext().traceId;
    for (const name of ['auditstream.append', 'auditstream.dispatch', 'auditstream.deliver']) {
      const span = spans.find((s) => s.name === name && s.spanContext().traceId === traceId);
      assert.ok(span, `${name} is in the Publish call's trace`);
      assert.equal(span.parentSpanContext?.spanId, serverSpan.spanContext().spanId, `${name} is a child of the Publish span`);
    }
    // The trace context travels with the event to its subscribers.
    assert.equal(event.traceparent, `00-${traceId}-${serverSpan.spanContext().spanId}-01`);
    reader.cancel();
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
});
