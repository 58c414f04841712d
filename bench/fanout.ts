import { credentials } from '@grpc/grpc-js';
import { AuditServiceClient, type SubscribeResponse } from '../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType } from '../generated/audit/v1/event.js';
import { startServerProcess } from '../test/support/server-process.js';

export interface FanoutResult {
  readonly subscribers: number;
  readonly events: number;
  readonly publishedPerSecond: number;
  readonly deliveredPerSecond: number;
  /** delivered / (published x K): must be 1. */
  readonly deliveryRatio: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * One publisher (PublishBatch of `batch`), K subscribers with match-all filters, each on its own
 * channel. Latency is publish -> receive, from the event timestamp the publisher sets (same clock).
 */
export async function fanout(subscribers: number, events: number, batch = 100): Promise<FanoutResult> {
  const server = await startServerProcess('logging:\n  level: info\n');
  const address = `127.0.0.1:${server.grpcPort}`;
  const clients = Array.from({ length: subscribers + 1 }, (_, i) =>
    new AuditServiceClient(address, credentials.createInsecure(), { 'grpc.channel_id': i, 'grpc.use_local_subchannel_pool': 1 }));
  const latencies: number[] = [];
  let delivered = 0;
  let finish!: () => void;
  const allDelivered = new Promise<void>((resolve) => (finish = resolve));
  const streams = clients.slice(1).map((client) => {
    const call = client.subscribe({ clientName: 'bench', filter: undefined });
    const started = new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.on('data', (m: SubscribeResponse) => {
      if (m.kind?.$case !== 'events') return;
      const now = Date.now();
      for (const e of m.kind.events.events) latencies.push(now - e.timestamp!.getTime());
      delivered += m.kind.events.events.length;
      if (delivered === events * subscribers) finish();
    });
    call.on('error', () => undefined);
    return { call, started };
  });
  await Promise.all(streams.map((s) => s.started));

  const publisher = clients[0];
  const startedAt = performance.now();
  for (let sent = 0; sent < events; sent += batch) {
    const batchEvents = Array.from({ length: Math.min(batch, events - sent) }, (_, i) => AuditEvent.fromPartial({
      type: EventType.EVENT_TYPE_CALL_CREATED, action: 'create', entityType: 'call', entityId: `c${(sent + i) % 1000}`,
      userId: 'bench', timestamp: new Date(), metadata: { n: sent + i },
    }));
    await new Promise((resolve, reject) => publisher.publishBatch({ events: batchEvents }, (err, res) => (err ? reject(err) : resolve(res))));
  }
  const publishedSeconds = (performance.now() - startedAt) / 1000;
  await allDelivered;
  const seconds = (performance.now() - startedAt) / 1000;
  streams.forEach((s) => s.call.cancel());
  clients.forEach((c) => c.close());
  await server.stop();
  latencies.sort((a, b) => a - b);
  return {
    subscribers, events,
    publishedPerSecond: Math.round(events / publishedSeconds),
    deliveredPerSecond: Math.round(delivered / seconds),
    deliveryRatio: delivered / (events * subscribers),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}
