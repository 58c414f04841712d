import assert from '../support/assert.js';
import { test } from '@jest/globals';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { QueryOrder, type QueryResponse } from '../../generated/audit/v1/audit_service.js';
import { filterOf, makeEvent, startServer, StreamReader } from '../support/server.js';

// A client's default receive limit is 4 MiB (grpc-js and most other gRPC libraries); 100 events of
// 60 KB metadata each (allowed: max_metadata_bytes is 64 KiB) would make one 6 MB frame.
test('a client with the default 4 MiB receive limit gets large events in a replay and in a Query page', async () => {
  const server = await startServer();
  try {
    const padding = 'x'.repeat(60_000);
    const total = 150;
    for (let i = 0; i < total; i += 50) {
      await server.api.publishBatch({ events: Array.from({ length: 50 }, (_, j) => makeEvent({ entityId: `e${i + j}`, metadata: { padding } })) });
    }
    const replay = StreamReader.open(server.client, { afterSequence: 0 });
    const events = await replay.eventsUntil(total, 20_000);
    assert.deepEqual(events.map((e) => e.sequence), Array.from({ length: total }, (_, i) => i + 1));
    assert.equal((events[0]!.metadata as { padding: string }).padding.length, 60_000);
    replay.call.cancel();

    const query = server.client.query({ filter: filterOf(), order: QueryOrder.QUERY_ORDER_ASCENDING, limit: total, pageToken: '' });
    const queried: AuditEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      query.on('data', (m: QueryResponse) => {
        if (m.kind?.$case === 'events') queried.push(...m.kind.events.events);
      });
      query.on('end', resolve);
      query.on('error', reject);
    });
    assert.deepEqual(queried.map((e) => e.sequence), Array.from({ length: total }, (_, i) => i + 1));
  } finally {
    await server.close();
  }
});
