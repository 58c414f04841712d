import assert from '../support/assert.js';
import { test } from '@jest/globals';
import { makeEvent, startServer, StreamReader, waitFor } from '../support/server.js';

test('a stalled subscriber does not delay a fast one, stays bounded, and later receives everything in order', async () => {
  const queueSize = 50;
  const server = await startServer({ audit: { subscriber: { queue_size: queueSize, batch_size: 50 } } });
  try {
    const fast = StreamReader.open(server.client, {});
    const stalled = StreamReader.open(server.client, {});
    const [, { subscriptionId: stalledId }] = await Promise.all([fast.started(), stalled.started()]);
    stalled.call.pause(); // stop reading: HTTP/2 flow control pushes back on the server

    const padding = 'x'.repeat(1000); // ~1 KB per event so the transport buffers fill quickly
    const total = 3000;
    for (let i = 0; i < total; i += 500) {
      const events = Array.from({ length: 500 }, (_, j) => makeEvent({ entityId: `e${i + j}`, metadata: { padding } }));
      await server.api.publishBatch({ events });
    }
    // The fast subscriber gets all of them while the stalled one is still not reading.
    const fastEvents = await fast.eventsUntil(total, 20_000);
    assert.deepEqual(fastEvents.map((e) => e.sequence), Array.from({ length: total }, (_, i) => i + 1));

    const stats = (await server.api.subscriptionStats(stalledId)).subscription!;
    assert.equal(stats.mode, 'catch-up');
    assert.ok(stats.overflows >= 1);
    assert.ok(stats.delivered < total, `stalled subscriber was written ${stats.delivered} events`);
    const sub = server.app.dispatcher.subscription(stalledId);
    assert.ok(sub.queued <= queueSize, `queue holds ${sub.queued}`);

    stalled.call.resume();
    const stalledEvents = await stalled.eventsUntil(total, 20_000);
    assert.deepEqual(stalledEvents.map((e) => e.sequence), Array.from({ length: total }, (_, i) => i + 1));
    const after = await waitFor('the stalled subscription to go live', async () => {
      const s = (await server.api.subscriptionStats(stalledId)).subscription!;
      return s.mode === 'live' ? s : undefined;
    });
    assert.equal(after.delivered, total);
    assert.equal(after.dropped, 0);
    assert.equal((await server.api.getStats()).eventsDropped, 0);
  } finally {
    await server.close();
  }
});
