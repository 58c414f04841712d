import assert from '../support/assert.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from '@jest/globals';
import type { TracedPublish } from '../support/traced-publish.js';

test('one trace links the Publish call, the append, the dispatch, the delivery and the Kafka send', async () => {
  // Its own process: the gRPC instrumentation needs Node's module loader hooks, which jest's sandbox does not run.
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/support/traced-publish.ts']);
  const { spans, eventTraceparent, recordTraceparent } = JSON.parse(stdout.trim().split('\n').at(-1)!) as TracedPublish;
  const serverSpan = spans.find((s) => s.name === 'grpc.audit.v1.AuditService/Publish' && s.kind === 1 /* SERVER */)!;
  assert.ok(serverSpan, `spans: ${spans.map((s) => s.name).join(', ')}`);
  const traceId = serverSpan.traceId;
  for (const name of ['auditstream.append', 'auditstream.dispatch', 'auditstream.deliver', 'auditstream.kafka.send']) {
    const span = spans.find((s) => s.name === name && s.traceId === traceId);
    assert.ok(span, `${name} is in the Publish call's trace`);
    assert.equal(span.parentSpanId, serverSpan.spanId, `${name} is a child of the Publish span`);
  }
  // The trace context travels with the event to its subscribers.
  assert.equal(eventTraceparent, `00-${traceId}-${serverSpan.spanId}-01`);
  // ... and into the Kafka record's traceparent header.
  assert.equal(recordTraceparent, eventTraceparent);
});
