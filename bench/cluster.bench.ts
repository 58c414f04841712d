/**
 * Cluster mode: `npx tsx bench/cluster.bench.ts [events]` (default 20,000). Two nodes run as their own
 * processes against the wire-protocol test broker in this one (4 partitions), all on this machine.
 *
 * 1. 500 sequential Publish calls on node A: acknowledgement latency (produce with acks all, then read
 *    back), and the latency until node B's subscriber has the event.
 * 2. `events` events as PublishBatch x100, 4 calls in flight, on node A: events acknowledged per second,
 *    and events per second delivered to the subscriber on node B (until it has them all).
 * 3. A third node starts and loads the topic (its history): time from spawn to serving.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AuditEvent, EventType } from '../generated/audit/v1/event.js';
import { startNode, stopNodes } from '../test/support/cluster.js';
import { KafkaTestBroker } from '../test/support/kafka-broker/index.js';
import { api, StreamReader } from '../test/support/server.js';

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const event = (i: number) => AuditEvent.fromPartial({
  id: randomUUID(), type: EventType.EVENT_TYPE_CALL_CREATED, action: 'create', entityType: 'call', entityId: `call-${i % 64}`, userId: 'u',
});

async function main(events: number): Promise<void> {
  const broker = await KafkaTestBroker.start();
  const [a, b] = await Promise.all([startNode(broker, 'bench-a'), startNode(broker, 'bench-b')]);
  try {
    const arrived = new Map<string, number>();
    const waiters: Array<() => void> = [];
    const reader = StreamReader.open(b.client, {});
    reader.call.on('data', () => {
      const now = performance.now();
      for (const e of reader.events.slice(arrived.size)) arrived.set(e.id, now);
      waiters.splice(0).forEach((wake) => wake());
    });
    await reader.started();
    const untilArrived = (n: number) => new Promise<void>((resolve) => {
      const check = (): void => (arrived.size >= n ? resolve() : void waiters.push(check));
      check();
    });

    const acks: number[] = [];
    const delivery: number[] = [];
    for (let i = 0; i < 500; i++) {
      const e = event(i);
      const sent = performance.now();
      await api(a.client).publish({ event: e });
      acks.push(performance.now() - sent);
      await untilArrived(i + 1);
      delivery.push(arrived.get(e.id)! - sent);
    }
    acks.sort((x, y) => x - y);
    delivery.sort((x, y) => x - y);
    console.log(`sequential Publish on A: ack p50 ${percentile(acks, 0.5).toFixed(2)} ms, p99 ${percentile(acks, 0.99).toFixed(2)} ms; `
      + `on B's subscriber p50 ${percentile(delivery, 0.5).toFixed(2)} ms, p99 ${percentile(delivery, 0.99).toFixed(2)} ms`);

    const start = performance.now();
    let next = 0;
    const publisher = async (): Promise<void> => {
      while (next < events) {
        const batch = Array.from({ length: Math.min(100, events - next) }, () => event(next++));
        await api(a.client).publishBatch({ events: batch });
      }
    };
    await Promise.all([publisher(), publisher(), publisher(), publisher()]);
    const acked = performance.now();
    await untilArrived(500 + events);
    const done = performance.now();
    console.log(`PublishBatch x100, 4 in flight, ${events} events on A: ${Math.round(events / ((acked - start) / 1000))} acknowledged/s; `
      + `${Math.round(events / ((done - start) / 1000))} delivered/s to B's subscriber`);
    reader.cancel();

    const spawned = performance.now();
    const c = await startNode(broker, 'bench-c');
    const loadMs = performance.now() - spawned;
    console.log(`a third node loaded the ${500 + events} events and served after ${Math.round(loadMs)} ms (process start included)`);
    await stopNodes([c]);
  } finally {
    await stopNodes([a, b]);
    await broker.stop();
  }
}

await main(Number(process.argv[2] ?? 20_000));
