import assert from '../support/assert.js';
import { mkdtempSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { Client, credentials } from '@grpc/grpc-js';
import WebSocket from 'ws';
import { AuditServiceClient, SubscribeRequest } from '../../generated/audit/v1/audit_service.js';
import { EVENT_TYPES } from '../../src/domain/catalog.js';
import type { NewAuditEvent } from '../../src/domain/event.js';
import { SqliteEventLog } from '../../src/store/sqlite-event-log.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { api, makeEvent, waitFor, within } from '../support/server.js';

/**
 * A client that asks for the whole log and walks away mid-way must not hold the server: the replay
 * is written one batch per event-loop turn and stops as soon as the peer is gone, on every transport.
 *
 * The log is written straight into the database file before the server opens it (far quicker than
 * publishing it). The server runs in its own process, as in production: a client in the server's
 * process could only read between the server's turns, which hides a replay that never yields. The
 * abandoned clients do not decode what they receive (they count bytes).
 *
 * Measured on 2 shared cores. Before the fix: WebSocket, slowest /healthz 1.8 s and publish ack
 * 1.8 s, and the client got the whole log (~50 MB) before it could walk away; SSE 2.3 s; gRPC
 * (HTTP/2 flow control) 0.1 s. After: slowest /healthz 3-69 ms, publish ack 22-113 ms, the
 * subscription released 4-74 ms after the client left. LIVENESS_MS is wide so a loaded machine
 * passes (a publish ack once took 1.3 s with the whole suite running in parallel on a fresh clone),
 * yet a replay held in one turn (1.8-2.3 s above) fails it.
 */
const EVENTS = 100_000;
const LIVENESS_MS = 1_500;
const BATCH = 100;

async function fillLog(file: string): Promise<void> {
  const log = new SqliteEventLog({ path: file, clock: { now: () => new Date() }, synchronous: 'normal' });
  for (let n = 0; n < EVENTS;) {
    const batch: NewAuditEvent[] = [];
    for (let i = 0; i < 2_000 && n < EVENTS; i++, n++) {
      batch.push({
        id: `replay-${n}`, type: EVENT_TYPES[n % 7], severity: 1, timestamp: new Date(), userId: `user-${n % 50}`, entityType: 'call',
        entityId: `call-${n}`, action: 'create', result: 'SUCCESS', metadata: {}, correlationId: `corr-${n}`, source: 'abandoned-replay-test',
        traceparent: '',
      });
    }
    await log.append(batch);
  }
  await log.close();
}

/** The server as its clients see it. */
interface Target {
  readonly httpUrl: string;
  readonly address: string;
  readonly api: ReturnType<typeof api>;
}

/** What the other client saw while the replay ran and after it was abandoned. */
class Observer {
  readonly healthMs: number[] = [];
  readonly ackMs: number[] = [];
  private running = true;
  private readonly loops: Array<Promise<void>>;

  constructor(private readonly server: Target) {
    this.loops = [this.pollHealth(), this.publish()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async pollHealth(): Promise<void> {
    while (this.running) {
      const start = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        request(`${this.server.httpUrl}/healthz`, (res: IncomingMessage) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject).end();
      });
      assert.equal(status, 200);
      this.healthMs.push(performance.now() - start);
      await pace();
    }
  }

  private async publish(): Promise<void> {
    while (this.running) {
      const start = performance.now();
      await this.server.api.publish({ event: makeEvent({ source: 'observer' }) });
      this.ackMs.push(performance.now() - start);
      await pace();
    }
  }
}

/** The poll interval of the observer's loops (pacing, not a wait for something to happen). */
function pace(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

/** A replay from sequence 0 on some transport, counting what arrives, and how to walk away from it. */
interface Replay {
  received: number;
  abandon(): void;
}

function websocketReplay(server: Target): Replay {
  const ws = new WebSocket(`${server.httpUrl.replace(/^http/, 'ws')}/v1/stream`);
  const replay: Replay = { received: 0, abandon: () => ws.terminate() };
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 'everything', afterSequence: 0 })));
  ws.on('message', (data: Buffer) => (replay.received += data.length));
  ws.on('error', () => {});
  return replay;
}

function sseReplay(server: Target): Replay {
  const socket = connect(Number(new URL(server.httpUrl).port), '127.0.0.1');
  socket.write('GET /v1/events?after_sequence=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
  const replay: Replay = { received: 0, abandon: () => socket.destroy() };
  socket.on('data', (chunk: Buffer) => (replay.received += chunk.length));
  socket.on('error', () => {});
  return replay;
}

function grpcReplay(server: Target): Replay {
  const client = new Client(server.address, credentials.createInsecure());
  const call = client.makeServerStreamRequest(
    '/audit.v1.AuditService/Subscribe',
    (r: SubscribeRequest) => Buffer.from(SubscribeRequest.encode(r).finish()),
    (b: Buffer) => b, // counted, not decoded
    SubscribeRequest.fromPartial({ clientName: 'abandoned-replay', afterSequence: 0 }),
  );
  const replay: Replay = {
    received: 0,
    abandon: () => {
      call.cancel();
      client.close();
    },
  };
  call.on('data', (b: Buffer) => (replay.received += b.length));
  call.on('error', () => {});
  return replay;
}

/** The describe's bound under node:test, which its tests inherited: jest takes it per test and hook. */
const SUITE_TIMEOUT = 120_000;

describe('an abandoned replay of a large log', () => {
  let serverProcess: ServerProcess | undefined;
  let client: AuditServiceClient | undefined;
  let server: Target;

  beforeAll(async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'auditstream-replay-')), 'audit.db');
    await fillLog(file);
    serverProcess = await startServerProcess(`logging:\n  level: info\naudit:\n  subscriber:\n    batch_size: ${BATCH}\n`, file);
    const address = `127.0.0.1:${serverProcess.grpcPort}`;
    client = new AuditServiceClient(address, credentials.createInsecure());
    server = { address, httpUrl: `http://127.0.0.1:${serverProcess.httpPort}`, api: api(client) };
  }, SUITE_TIMEOUT);

  afterAll(async () => {
    client?.close();
    await serverProcess?.stop();
  }, SUITE_TIMEOUT);

  for (const [name, open] of [
    ['WebSocket terminated', websocketReplay],
    ['SSE socket destroyed', sseReplay],
    ['gRPC cancelled', grpcReplay],
  ] as const) {
    test(`${name}: the server stays responsive and releases the subscription`, async () => {
      const before = (await server.api.getStats()).activeSubscriptions;
      const observer = new Observer(server);
      let replay: Replay | undefined;
      try {
        replay = open(server);
        // Mid-way: 5 MB is 15,000-25,000 events depending on the encoding, far from the log's end.
        await waitFor('the replay to be under way', () => (replay!.received >= 5_000_000 ? true : undefined), 30_000);
        const opened = await waitFor('the replay to show in the stats', async () => {
          const active = (await server.api.getStats()).activeSubscriptions;
          return active > before ? active : undefined;
        });
        assert.equal(opened, before + 1);
        replay.abandon();
        const abandonedAt = performance.now();
        const beforeAbandon = observer.healthMs.length;
        await waitFor('the abandoned subscription to be released', async () => {
          const active = (await server.api.getStats()).activeSubscriptions;
          return active === before ? true : undefined;
        }, 5_000);
        const releaseMs = performance.now() - abandonedAt;
        // A few more answers after the release, in case anything still ran for the gone client.
        await waitFor('more health answers', () => (observer.healthMs.length >= beforeAbandon + 10 ? true : undefined), 10_000);
        // A new subscription starts at once.
        const probe = new WebSocket(`${server.httpUrl.replace(/^http/, 'ws')}/v1/stream`);
        await within(new Promise((resolve, reject) => probe.once('open', resolve).once('error', reject)), 'a new WebSocket to open', LIVENESS_MS);
        probe.terminate();
        const { healthMs, ackMs } = observer;
        const slowest = { health: Math.max(...healthMs), ack: Math.max(...ackMs) };
        const note = `${name}: ${replay.received} bytes received; ${healthMs.length} health answers (slowest ${slowest.health.toFixed(0)} ms), ` +
          `${ackMs.length} publish acks (slowest ${slowest.ack.toFixed(0)} ms), released ${releaseMs.toFixed(0)} ms after the client left`;
        console.log(note);
        assert.ok(slowest.health < LIVENESS_MS, note);
        assert.ok(slowest.ack < LIVENESS_MS, note);
        // The whole log is about 50 MB as JSON: a replay that never yields is all sent before the client can stop.
        assert.ok(replay.received < 20_000_000, `the client walked away mid-way: ${note}`);
      } finally {
        replay?.abandon();
        await observer.stop();
      }
    }, SUITE_TIMEOUT);
  }
});
