/**
 * Kafka forwarder throughput: `npx tsx bench/kafka-forwarder.bench.ts [events]` (default 50,000), also
 * part of `npm run bench`. The service runs as its own process (as in production); the wire-protocol
 * test broker runs in this one, so the two share the machine's cores like a co-located broker would.
 *
 * 1. A server with Kafka off stores `events` events (PublishBatch of 500; default batch_size 500).
 * 2. A server on the same database with Kafka on starts with that backlog; the figure is the backlog
 *    divided by the time from "serving" to lag 0 (every event acknowledged by the broker).
 */
import { credentials } from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AuditServiceClient, type GetStatsResponse, type PublishBatchResponse } from '../generated/audit/v1/audit_service.js';
import { AuditEvent, EventType } from '../generated/audit/v1/event.js';
import { KafkaTestBroker } from '../test/support/kafka-broker/index.js';
import { startServerProcess } from '../test/support/server-process.js';

export interface KafkaForwarderResult {
  readonly events: number;
  readonly valueFormat: string;
  readonly seconds: number;
  readonly eventsPerSecond: number;
}

const TYPES = [EventType.EVENT_TYPE_CALL_CREATED, EventType.EVENT_TYPE_BID_ACCEPTED, EventType.EVENT_TYPE_LOGIN_FAILED, EventType.EVENT_TYPE_PAYMENT_PROCESSED];

function call<Res>(start: (cb: (err: Error | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

export async function kafkaForwarder(events: number, valueFormat: 'protobuf' | 'json' = 'protobuf'): Promise<KafkaForwarderResult> {
  const broker = await KafkaTestBroker.start({ partitions: 6 });
  const database = path.join(mkdtempSync(path.join(os.tmpdir(), 'auditstream-kafka-bench-')), 'audit.db');
  try {
    const filler = await startServerProcess('logging:\n  level: info\n', database);
    const fillClient = new AuditServiceClient(`127.0.0.1:${filler.grpcPort}`, credentials.createInsecure());
    for (let sent = 0; sent < events; sent += 500) {
      const batch = Array.from({ length: Math.min(500, events - sent) }, (_, i) => AuditEvent.fromPartial({
        type: TYPES[(sent + i) % TYPES.length], action: 'bench', entityType: 'call', entityId: `entity-${(sent + i) % 1_000}`,
        userId: `user-${(sent + i) % 100}`, metadata: { n: sent + i, note: 'a realistic small payload' },
      }));
      await call<PublishBatchResponse>((cb) => fillClient.publishBatch({ events: batch }, cb));
    }
    fillClient.close();
    await filler.stop();

    const kafka = `kafka:\n  enabled: true\n  brokers: ["${broker.brokers[0]}"]\n  value_format: ${valueFormat}\n`;
    const server = await startServerProcess(`logging:\n  level: info\n${kafka}`, database);
    const started = performance.now();
    const client = new AuditServiceClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure());
    try {
      // A bench may poll: a stats call every 10 ms is noise next to the forwarding it measures.
      for (;;) {
        const stats = await call<GetStatsResponse>((cb) => client.getStats({}, cb));
        if (stats.kafka && stats.kafka.lag === 0 && stats.kafka.cursor >= events) break;
        if (performance.now() - started > 300_000) throw new Error(`not forwarded after 5 minutes: ${JSON.stringify(stats.kafka)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const seconds = (performance.now() - started) / 1000;
      const stored = broker.topics().reduce((n, t) => n + t.highWatermarks.reduce((a, b) => a + b, 0), 0);
      if (stored !== events) throw new Error(`the broker holds ${stored} records, expected ${events}`);
      return { events, valueFormat, seconds: Math.round(seconds * 100) / 100, eventsPerSecond: Math.round(events / seconds) };
    } finally {
      client.close();
      await server.stop();
    }
  } finally {
    await broker.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const events = Number(process.argv[2] ?? 50_000);
  console.log(`Kafka forwarder bench: ${os.cpus().length} cores, Node ${process.version}`);
  for (const format of ['protobuf', 'json'] as const) {
    const r = await kafkaForwarder(events, format);
    console.log(`| forwarder backlog, ${r.events} events, ${r.valueFormat} | ${r.eventsPerSecond} events/s | ${r.seconds} s |`);
  }
}
